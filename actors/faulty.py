"""Fault injection on an actor process's hops: what it publishes and what it is delivered (shell).

:class:`FaultInjector` wraps the process's :class:`~actors.transport.Transport`
when the site has rules for this actor (and only then: with no rule, the
transport is the same code as without the feature). Each message is matched
against the rules of its hop in order; the first that fires (a pure function
of the seed, the rule and the message's identity, see
:mod:`actors.core.faults`) decides what happens to it. Every fault injected is
published on ``$sys.fault`` and counted per rule (the heartbeat's ``faults``).

The framework's own topics (``$...``) are left alone unless a rule names one.
"""

from __future__ import annotations

import heapq
import itertools
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from actors.core.calls import REPLY_PREFIX, SERVICE_PREFIX
from actors.core.control import Exit
from actors.core.faults import (
    REORDER_WAIT,
    TICK,
    UNPLUG,
    FaultRule,
    Injected,
    delay_of,
    fires,
    parse_faults,
    parse_rule,
    used_up,
)
from actors.core.wire import MESSAGE_FRAMES, WireError, decode_fields
from actors.transport import Transport

#: The topic of the ledger: one message per fault injected.
SYS_FAULT: Final = "$sys.fault"
#: Messages read from the socket per call of the faulty receive, at most (dropped ones
#: included): the loop's turn stays bounded.
_READS: Final = 100
#: Streams remembered as passed, at most (a bound on what a peer's names can cost).
_STREAMS: Final = 10_000
#: Bytes that no msgpack decoder accepts as the start of an envelope (0xc1 is never used).
_CORRUPT: Final = b"\xc1"


def rules_of(faults: Mapping[str, Any]) -> tuple[int, list[FaultRule]]:
    """The seed and rules of *faults* (``{"seed", "rules"}``, as in site.toml); a rule that
    carries its ``index`` (one from a snapshot) keeps it: the dice depend on it."""
    seed, _ = parse_faults({"seed": faults.get("seed", 0)})
    rules = []
    for i, given in enumerate(faults.get("rules", [])):
        table = dict(given)
        index = table.pop("index", i)
        rules.append(parse_rule(index, table, f"faults.rules[{i}]"))
    return seed, rules


#: Messages remembered to tell a resend from a first send, at most (then forgotten).
_ATTEMPTS: Final = 200_000


class FaultInjected(RuntimeError):
    """The exception a ``crash`` rule raises in a step (a failure like any other)."""


class FaultInjector:
    """The rules that apply to one actor's publishes and deliveries, and what they hold."""

    def __init__(
        self,
        actor: str,
        seed: int,
        rules: list[FaultRule],
        *,
        started: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        in_process: bool = False,
        used: Mapping[int, int] | None = None,
    ) -> None:
        self.actor = actor
        self.seed = seed
        self.started = started
        self._clock = clock
        self._monotonic = monotonic
        #: How a slow consumer or a slow step takes its time (the harness moves its clock).
        self._sleep = sleep
        #: Under the harness: a crash or a hang raises, whatever its kind (the test's process
        #: must not exit or hang).
        self.in_process = in_process
        self.publish_rules = [r for r in rules if r.hop == "publish" and r.sender in (None, actor)]
        self.deliver_rules = [r for r in rules if r.hop == "deliver" and r.to in (None, actor)]
        #: Calls: requests as this actor's services receive them, replies as it receives them.
        self.request_rules = [r for r in rules if r.hop == "request" and r.to in (None, actor)]
        self.reply_rules = [r for r in rules if r.hop == "reply" and r.to in (None, actor)]
        self.step_rules = [r for r in rules if r.hop == "step" and r.to in (None, actor)]
        self.link_rules = [r for r in rules if r.hop == "link" and r.to in (None, actor)]
        self.write_rules = [r for r in rules if r.hop == "write" and r.to in (None, actor)]
        self._chunks: dict[str, int] = {"rx": 0, "tx": 0}
        #: How often each message was seen at a hop (its sends): a resend draws anew.
        self._attempts: dict[tuple[bool, str, str, int], int] = {}
        #: The identity (topic, sender, seq) of the message delivered last (for step rules).
        self._last: tuple[str, str, int] = ("", "", 0)
        self._ticks = 0
        #: Faults injected, per rule index.
        self.counts: dict[int, int] = {
            r.index: 0
            for r in (
                self.publish_rules
                + self.deliver_rules
                + self.request_rules
                + self.reply_rules
                + self.step_rules
                + self.link_rules
                + self.write_rules
            )
        }
        #: Rules limited per site: what the site had injected when this process started
        #: (*used*, from the supervisor), and the most it is known to have now (it tells).
        self._base: dict[int, int] = dict(used or {})
        self._known: dict[int, int] = dict(self._base)
        self._order = itertools.count()
        #: Held deliveries and publishes: (due on the monotonic clock, order, frames).
        self._held_in: list[tuple[float, int, list[bytes]]] = []
        self._held_out: list[tuple[float, int, list[bytes]]] = []
        self._raw_receive: Callable[[], list[bytes] | None] | None = None
        self._raw_send: Callable[[bytes, bytes], None] | None = None
        #: Ledger entries waiting to be published (sent between messages, never inside one).
        self.ledger: list[Injected] = []
        #: Streams (topic, sender) that passed to this process's engine: a message lost
        #: before a stream's first is one no receiver can see (its ledger entry says so).
        self._passed: set[tuple[str, str]] = set()
        self._stream: tuple[str, str] | None = None
        #: The entry of each delivery held (by the frames' id), for a crash to report.
        self._held_entries: dict[int, Injected] = {}

    @property
    def active(self) -> bool:
        """Whether any rule applies to this actor."""
        return bool(self.counts)

    def unwrap(self, transport: Transport, actor: Any) -> None:
        """Give *transport* its plain receive and send back, and *actor* its own step."""
        if self._raw_receive is not None and self._raw_send is not None:
            transport.receive, transport.send = self._raw_receive, self._raw_send
        actor.__dict__.pop("step", None)
        actor.enlil.link_fault = None

    def wrap(self, transport: Transport) -> None:
        """Put the faulty receive and send in *transport*'s place (the runtime reads them
        after this)."""
        self._raw_receive, self._raw_send = transport.receive, transport.send
        if self.deliver_rules or self.request_rules or self.reply_rules or self.step_rules:
            transport.receive = self.receive
        if self.publish_rules:
            transport.send = self.send

    # -- which rule fires --------------------------------------------------------------

    def _rule_for(
        self, rules: list[FaultRule], frames: list[bytes], receiver: str
    ) -> tuple[FaultRule, str, int] | None:
        """The first rule that fires on *frames*, with the sender and seq; None if none."""
        self._stream = None
        try:
            topic = frames[0].decode()
        except UnicodeDecodeError:
            return None  # not a message: receivers count it as it is
        if rules is not self.publish_rules and topic.startswith(SERVICE_PREFIX):
            rules, topic = self.request_rules, topic.removeprefix(SERVICE_PREFIX)
        elif rules is not self.publish_rules and topic.startswith(REPLY_PREFIX):
            rules = self.reply_rules
        # The cheap tests first: most messages concern no rule, and need no decoding.
        for rule in rules:
            if _may_match(rule, topic, receiver):
                break
        else:
            return None
        try:
            sender, seq, _, _, _ = decode_fields(frames[1])
        except WireError:
            return None
        self._stream = (topic, sender)
        # The same message again (a reliable topic's resend) is a new throw of the dice.
        key = (rules is self.publish_rules, topic, sender, seq)
        attempt = self._attempts.get(key, 0)
        if len(self._attempts) >= _ATTEMPTS:
            self._attempts.clear()  # bounded: a resend long after counts as a first send
        self._attempts[key] = attempt + 1
        return self._decide(rules, topic, sender, seq, receiver, attempt=attempt)

    def _decide(
        self,
        rules: list[FaultRule],
        topic: str,
        sender: str,
        seq: int,
        receiver: str,
        *,
        attempt: int = 0,
    ) -> tuple[FaultRule, str, int] | None:
        """The first of *rules* that fires on message *seq* of *sender* on *topic*."""
        since = self._clock() - self.started
        for rule in rules:
            if not _may_match(rule, topic, receiver):
                continue
            if not rule.matches(topic, sender, receiver) or not rule.active(since):
                continue
            if rule.limit is not None and self._used_up(rule):
                continue
            if fires(rule, self.seed, sender, topic, seq, attempt):
                self.counts[rule.index] += 1
                self.ledger.append(
                    Injected(
                        rule.index,
                        rule.hop,
                        rule.kind,
                        topic,
                        sender,
                        seq,
                        self.actor,
                        self._clock(),
                        attempt=attempt,
                    )
                )
                return rule, sender, seq
        return None

    def _used_up(self, rule: FaultRule) -> bool:
        own = self.counts[rule.index]
        site = max(self._base.get(rule.index, 0) + own, self._known.get(rule.index, 0))
        return used_up(rule, own, site)

    def learn(self, used: Mapping[int, int]) -> None:
        """The site's counts of its rules limited per site, as the supervisor knows them."""
        for index, n in used.items():
            self._known[index] = max(self._known.get(index, 0), n)

    # -- deliver --------------------------------------------------------------------------

    def receive(self) -> list[bytes] | None:
        """The next message to deliver, after the deliver rules (None: nothing now)."""
        held = self._held_in
        if held and held[0][0] <= self._monotonic():
            due = heapq.heappop(held)[2]
            self._held_entries.pop(id(due), None)
            return due
        raw = self._raw_receive
        assert raw is not None
        for _ in range(_READS):
            frames = raw()
            if frames is None:
                return None
            if len(frames) != MESSAGE_FRAMES:
                return frames
            hit = self._rule_for(self.deliver_rules, frames, self.actor)
            if hit is None:
                self._release_reordered()
                self._note_passed()
                if self.step_rules:
                    self._remember(frames)
                return frames
            out = self._deliver_fault(*hit, frames)
            if out is not None:
                return out
        return None

    def _note_passed(self) -> None:
        stream = self._stream
        if stream is not None and len(self._passed) < _STREAMS:
            self._passed.add(stream)

    def _deliver_fault(
        self, rule: FaultRule, sender: str, seq: int, frames: list[bytes]
    ) -> list[bytes] | None:
        """What a delivery that *rule* hit becomes: frames to deliver now, or None."""
        kind = rule.kind
        if kind in ("drop", "partition"):
            if self._stream not in self._passed:  # nothing earlier: no gap can show it
                self.ledger[-1] = replace(self.ledger[-1], edge="start")
            return None
        if kind == "corrupt":
            return [frames[0], _CORRUPT + frames[1][1:]]
        self._note_passed()
        if kind == "slow":
            self._sleep(delay_of(rule, self.seed, sender, frames[0].decode(), seq))
            return frames  # a slow consumer: the fault is the time it takes
        held = self._held_in
        self._held_entries[id(frames)] = self.ledger[-1]
        if kind == "duplicate":
            self._hold(held, 0.0, frames)
            return frames
        if kind == "delay":
            self._hold(held, delay_of(rule, self.seed, sender, frames[0].decode(), seq), frames)
            return None
        # reorder: the next message overtakes this one (or it comes after a while)
        self._hold(held, REORDER_WAIT, frames, reordered=True)
        return None

    def _release_reordered(self) -> None:
        """A message passed: those held to be overtaken come right after it."""
        now = self._monotonic()
        held = self._held_in
        if any(order < 0 for _, order, _ in held):
            self._held_in = [(now if o < 0 else d, abs(o), f) for d, o, f in held]
            heapq.heapify(self._held_in)

    def _hold(
        self,
        held: list[tuple[float, int, list[bytes]]],
        seconds: float,
        frames: list[bytes],
        reordered: bool = False,
    ) -> None:
        order = next(self._order)
        # A reordered message's order is negative until the next message passes it.
        heapq.heappush(
            held, (self._monotonic() + seconds, -(order + 1) if reordered else order, frames)
        )

    # -- a HAL link's bytes ------------------------------------------------------------------

    def link_fault(self, direction: str, data: bytes) -> bytes | str | None:
        """What a link's *direction* (``rx`` or ``tx``) chunk becomes: the same bytes,
        others (a byte flipped), None (lost), or :data:`UNPLUG` (the device is gone)."""
        self._chunks[direction] = seq = self._chunks.get(direction, 0) + 1
        hit = self._decide(self.link_rules, direction, self.actor, seq, self.actor)
        if hit is None or not data:
            return data
        kind = hit[0].kind
        if kind == "drop":
            return None
        if kind == "partition":
            return UNPLUG
        middle = len(data) // 2  # corrupt: one byte flipped, the framing must notice
        return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]

    # -- writes ------------------------------------------------------------------------------

    def writes(self, what: str) -> bool:
        """Whether some write rule may fail writes of *what* (``snapshot``, ``log``)."""
        return any(r.topic is None or r.topic.matches(what) for r in self.write_rules)

    def write_fault(self, what: str) -> bool:
        """Whether this write of *what* (``snapshot``; ``log``: one line) fails, as on a
        full disk; the writes are counted per *what*, so the n-th line is the same line
        in every run."""
        self._chunks[what] = seq = self._chunks.get(what, 0) + 1
        return self._decide(self.write_rules, what, self.actor, seq, self.actor) is not None

    # -- the step -------------------------------------------------------------------------

    def _remember(self, frames: list[bytes]) -> None:
        try:
            sender, seq, _, _, _ = decode_fields(frames[1])
            self._last = (frames[0].decode(), sender, seq)
        except (UnicodeDecodeError, WireError):
            self._last = ("", "", 0)

    def wrap_step(self, actor: Any, flush: Callable[[bool], None]) -> None:
        """Put the step rules around *actor*'s ``step`` (an attribute of the instance).

        *flush* sends the ledger at once (and with True, waits until it has left): a
        crash must be on it before the process goes.
        """
        if not self.step_rules:
            return
        original = actor.step

        def step() -> None:
            if actor.enlil.trigger is None:  # a periodic step
                self._ticks += 1
                topic, sender, seq = TICK, self.actor, self._ticks
            else:
                topic, sender, seq = self._last
            hit = self._decide(self.step_rules, topic, sender, seq, self.actor)
            if hit is not None:
                self._step_fault(hit[0], topic, sender, seq, flush)
            original()

        actor.__dict__["step"] = step

    def _step_fault(
        self, rule: FaultRule, topic: str, sender: str, seq: int, flush: Callable[[bool], None]
    ) -> None:
        if rule.kind == "delay":
            self._sleep(delay_of(rule, self.seed, sender, topic, seq))  # a slow step
            return
        flush(rule.kind == "crash" and rule.how != "raise")
        if self.in_process:
            raise FaultInjected(
                f"fault rule {rule.index}: {rule.kind} in the step ({topic} #{seq})"
            )
        if rule.kind == "hang":
            while True:  # until the supervisor finds it hung and kills it
                time.sleep(1.0)
        if rule.how == "exit":
            os._exit(Exit.FAILURE)
        if rule.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise FaultInjected(f"fault rule {rule.index}: crash in the step ({topic} #{seq})")

    # -- publish --------------------------------------------------------------------------

    def send(self, topic: bytes, envelope: bytes) -> None:
        """Send one message, after the publish rules."""
        raw = self._raw_send
        assert raw is not None
        hit = self._rule_for(self.publish_rules, [topic, envelope], "")
        if hit is None:
            raw(topic, envelope)
            self._flush_reordered_out()
            return
        rule, sender, seq = hit
        kind = rule.kind
        if kind in ("drop", "partition"):
            return
        if kind == "corrupt":
            raw(topic, _CORRUPT + envelope[1:])
        elif kind == "duplicate":
            raw(topic, envelope)
            raw(topic, envelope)
        elif kind == "delay":
            wait = delay_of(rule, self.seed, sender, topic.decode(), seq)
            self._hold(self._held_out, wait, [topic, envelope])
        else:  # reorder: sent after the next one (or after a while)
            self._hold(self._held_out, REORDER_WAIT, [topic, envelope], reordered=True)

    def _flush_reordered_out(self) -> None:
        raw = self._raw_send
        assert raw is not None
        held = self._held_out
        if any(order < 0 for _, order, _ in held):
            keep = [h for h in held if h[1] >= 0]
            for _, _, (topic, envelope) in sorted(
                (h for h in held if h[1] < 0), key=lambda h: -h[1]
            ):
                raw(topic, envelope)
            self._held_out = keep
            heapq.heapify(keep)

    # -- the runtime's loop ---------------------------------------------------------------

    def next_due(self) -> float | None:
        """When a held message is next due (monotonic), or None."""
        dues = [held[0][0] for held in (self._held_in, self._held_out) if held]
        return min(dues) if dues else None

    def due_in(self) -> bool:
        """Whether a held delivery is due now (the loop reads even without socket events)."""
        return bool(self._held_in) and self._held_in[0][0] <= self._monotonic()

    def passed(self, streams: list[tuple[str, str]]) -> None:
        """*streams* (topic, sender) already reached the engine (the rules changed while
        the process ran): a loss on them shows as a gap."""
        self._passed.update(streams[:_STREAMS])

    def lost_with_process(self) -> None:
        """The process goes (an injected crash), or its rules change: a note on the ledger
        for each delivery still held, which no receiver will count now."""
        for _, _, frames in self._held_in:
            entry = self._held_entries.get(id(frames))
            if entry is not None:
                self.ledger.append(replace(entry, edge="lost", time=self._clock()))
        self._held_entries.clear()

    def flush(self, publish: Callable[[str, Any], None]) -> None:
        """Send the held publishes that are due, and publish the ledger's new entries."""
        raw = self._raw_send
        held = self._held_out
        now = self._monotonic()
        while held and held[0][0] <= now and raw is not None:
            _, _, (topic, envelope) = heapq.heappop(held)
            raw(topic, envelope)
        ledger, self.ledger = self.ledger, []
        for entry in ledger:
            publish(SYS_FAULT, entry.encode())

    def describe(self) -> dict[str, Any]:
        """What a snapshot keeps of the faults in force: the seed, when the site started
        (windows count from it), this actor's rules, and the counts so far."""
        rules = self.publish_rules + self.deliver_rules + self.request_rules + self.reply_rules
        return {
            "seed": self.seed,
            "started": self.started,
            "rules": [{"index": r.index, **r.describe()} for r in [*rules, *self.step_rules]],
            "counts": self.statistics(),
        }

    def statistics(self) -> dict[str, int]:
        """Faults injected per rule (keys are the rules' indexes, as text)."""
        return {str(index): n for index, n in self.counts.items()}


def _may_match(rule: FaultRule, topic: str, receiver: str) -> bool:
    """Whether *rule* can be about a message on *topic* to *receiver* (its sender aside).

    The framework's topics (``$...``) are left alone unless the rule names one (a reply's
    rule is chosen by its hop: replies travel on ``$rsp.<caller>``).
    """
    if rule.to is not None and receiver and rule.to != receiver:
        return False
    if rule.hop == "reply":
        return True
    pattern = rule.topic
    if topic.startswith("$") and (pattern is None or not pattern.text.startswith("$")):
        return False
    return pattern is None or pattern.matches(topic)
