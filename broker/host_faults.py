"""Fault injection at the host hop: what a broker takes from another host, lost, held or
cut off as the site's ``hop = "host"`` rules say (shell, in the forwarder's thread).

Each broker applies the rules whose ``from`` and ``to`` name the peer it takes a
message from and its own host (a ``partition`` cuts both ways, so both brokers
apply it). Whether a rule fires is the pure function of every hop
(:func:`actors.core.faults.fires` of the seed, the rule and the message's sender,
topic and sequence number), so one seed gives one ledger. Windows (``after``,
``for``) count from this broker's start. Every fault injected is a ledger entry on
``$sys.fault`` (its ``actor`` is ``host:<this host>``), delivered here and
exported, so every host's supervisor counts it; the ledger's own messages are
never faulted.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Final

import zmq

from actors.core.access import SYS_FAULT
from actors.core.faults import FaultRule, Injected, delay_of, fires
from actors.core.wire import MESSAGE_FRAMES, WireError, decode_envelope, encode_envelope
from actors.sockets import Socket

_FAULT: Final = SYS_FAULT.encode()
_SNDMORE: Final = zmq.SNDMORE


class HostFaults:
    """The host rules this broker applies to what it takes from the other hosts."""

    def __init__(self, host: str, seed: int, rules: tuple[FaultRule, ...]) -> None:
        self.host = host
        self.seed = seed
        self.rules = [r for r in rules if r.hop == "host"]
        self.started = time.monotonic()
        #: Faults injected per rule (what the broker's heartbeat reports).
        self.injected: collections.Counter[int] = collections.Counter()
        self._held: list[tuple[float, int, list[zmq.Frame]]] = []
        self._order = itertools.count()
        self._ledger_seq = 0
        self.sender = f"host:{host}"

    def take(
        self,
        peer: str,
        frames: list[zmq.Frame],
        xpub: Socket,
        export: Callable[[list[zmq.Frame]], None],
    ) -> bool:
        """Whether a message from host *peer* goes on now (False: lost, or held for later);
        each fault goes to the ledger."""
        since = time.monotonic() - self.started
        rules = [r for r in self.rules if r.active(since) and r.between(peer, self.host)]
        if not rules or len(frames) != MESSAGE_FRAMES or frames[0].bytes == _FAULT:
            return True
        topic = frames[0].bytes.decode(errors="replace")
        try:
            envelope = decode_envelope(frames[1].bytes)
        except WireError:
            return True  # passed on: its receivers count it as malformed
        for rule in rules:
            if rule.topic is not None and not rule.topic.matches(topic):
                continue
            if rule.limit is not None and self.injected[rule.index] >= rule.limit:
                continue
            if not fires(rule, self.seed, envelope.sender, topic, envelope.seq):
                continue
            self.injected[rule.index] += 1
            entry = Injected(
                rule.index,
                "host",
                rule.kind,
                topic,
                envelope.sender,
                envelope.seq,
                self.sender,
                time.time(),
            )
            self._ledger(entry, xpub, export)
            if rule.kind == "delay":
                hold = delay_of(rule, self.seed, envelope.sender, topic, envelope.seq)
                heapq.heappush(self._held, (time.monotonic() + hold, next(self._order), frames))
            return False
        return True

    def _ledger(
        self, entry: Injected, xpub: Socket, export: Callable[[list[zmq.Frame]], None]
    ) -> None:
        self._ledger_seq += 1
        body = encode_envelope(self.sender, self._ledger_seq, time.time_ns(), entry.encode())
        xpub.send_multipart([_FAULT, body])
        export([zmq.Frame(_FAULT), zmq.Frame(body)])

    def release(self, xpub: Socket) -> None:
        """Deliver the held messages whose time has come."""
        now = time.monotonic()
        while self._held and self._held[0][0] <= now:
            _, _, frames = heapq.heappop(self._held)
            last = len(frames) - 1
            for i, frame in enumerate(frames):
                xpub.send(frame, _SNDMORE if i < last else 0, copy=False)

    def timeout(self) -> int | None:
        """Milliseconds until the next held message is due (None: none is held)."""
        if not self._held:
            return None
        return max(0, int((self._held[0][0] - time.monotonic()) * 1000) + 1)
