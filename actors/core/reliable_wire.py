"""Reliable topics: what a declaration says, and the two control messages (pure core, no IO).

A reliable topic's data messages are ordinary messages (topic, envelope, the sender's
sequence number); three messages of the framework's own make them reliable, after
DDS/RTPS's reliable QoS:

- a :class:`Heartbeat`, from the writer on ``$sys.hb.<topic>`` while some reader has not
  acknowledged everything: the sequence numbers it still keeps, ``first`` to ``last``.
  It leaves the writer's socket after the data it speaks of, and the broker keeps one
  publisher's messages in order, so a reader that gets it has got every message sent
  before it that was not lost: what it lacks up to ``last`` is lost, never late, and
  it asks for exactly that (no resend on a timer of what is merely queued).

- an :class:`Ack` (ACKNACK), from a reader to the writer on ``$sys.ack.<writer>``:
  every message up to ``acked`` has been delivered (cumulative), and the sequence
  numbers in ``missing`` are wanted again (a negative acknowledgement). ``acked`` of
  :data:`HELLO` says the reader has no state for this writer and topic (it started, or
  restarted without its inbox): the writer tells it where to begin with a Gap.
  ``epoch`` tells one process of the reader from the next (when it started): an Ack
  of a process that has been replaced, still on its way, is not taken for the new
  one's.
- a :class:`Gap`, from the writer to one reader on ``$sys.gap.<reader>``: the sequence
  numbers from ``start`` up to (not including) ``end`` are not coming to this reader
  (acknowledged before it started, shed by a full window, or given up as
  undeliverable), so it stops waiting for them. The answer to a HELLO is the Gap from
  1 to where the reader's stream begins (from 1 to 1: at the start).

:class:`Reliability` is what an Output or an Input declares (``reliable=True`` or a
Reliability), checked when the class is created.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

#: Acks to a writer go on this prefix plus its name; gaps to a reader on the other;
#: a writer's heartbeats on the third plus the data topic.
ACK_PREFIX: Final = "$sys.ack."
GAP_PREFIX: Final = "$sys.gap."
HEARTBEAT_PREFIX: Final = "$sys.hb."
#: ``Ack.acked`` of a reader that has no state for the stream (asks for a Gap).
HELLO: Final = -1
#: Sequence numbers one Ack may ask for again, at most (more are asked for later).
MAX_MISSING: Final = 256
#: What a full window does: wait for acknowledgements (bounded by ``block_for``), drop
#: the oldest message (counted ``shed``; readers are told with a Gap), or raise in the
#: step (:class:`WindowFull`: the failure snapshot shows it).
POLICIES: Final = ("block", "drop_oldest", "raise")


class WindowFull(RuntimeError):
    """A reliable Output's window of unacknowledged messages is full (policy ``raise``,
    or ``block`` past ``block_for``); the message names the actor, topic and readers."""


@dataclass(frozen=True)
class Reliability:
    """How a reliable Output keeps what its readers have not acknowledged.

    *window* and *window_bytes* bound what is kept (count and bytes of envelopes);
    *policy* says what a full window does (:data:`POLICIES`), *block_for* how long
    ``block`` waits before it raises; *depth* is how many of the newest messages a
    reader that joins later is sent first (0: only what comes after it joined);
    while a reader has not acknowledged everything, a heartbeat goes out every
    *heartbeat* seconds; a message is sent at most *max_deliver* times in all (the
    first send and those a reader asked for), after which it is undeliverable (kept for
    inspection, the readers told to skip it).
    """

    window: int = 10_000
    window_bytes: int = 64 * 1024 * 1024
    policy: str = "block"
    block_for: float = 5.0
    depth: int = 0
    heartbeat: float = 0.1
    max_deliver: int = 20

    def problems(self) -> list[str]:
        """What is wrong with these values (empty when sound)."""
        out = []
        if self.policy not in POLICIES:
            out.append(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        for name in ("window", "window_bytes", "max_deliver"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                out.append(f"{name} must be a positive integer, got {value!r}")
        if type(self.depth) is not int or not 0 <= self.depth <= self.window:
            out.append(f"depth must be an integer from 0 to window ({self.window})")
        for name in ("block_for", "heartbeat"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                out.append(f"{name} must be a positive number of seconds, got {value!r}")
        return out


def reliability_of(value: Any) -> Reliability | None:
    """What ``reliable=`` declares: None (not reliable), or the Reliability (``True``: the
    defaults); TypeError for anything else."""
    if value is None or value is False:
        return None
    if value is True:
        return Reliability()
    if isinstance(value, Reliability):
        return value
    raise TypeError(f"reliable= must be True, False or a Reliability(...), got {value!r}")


@dataclass(frozen=True)
class Ack:
    """A reader's acknowledgement of a writer's topic (see the module docstring)."""

    topic: str
    reader: str
    acked: int
    missing: tuple[int, ...] = ()
    epoch: int = 0

    def encode(self) -> list[Any]:
        return [self.topic, self.reader, self.acked, list(self.missing), self.epoch]

    @classmethod
    def decode(cls, payload: Any) -> Ack | None:
        """The Ack a peer sent, or None when *payload* is not one (never trusted)."""
        if not isinstance(payload, list) or len(payload) != 5:  # noqa: PLR2004 - the fields
            return None
        topic, reader, acked, missing, epoch = payload
        if (
            type(topic) is not str
            or type(reader) is not str
            or type(acked) is not int
            or acked < HELLO
            or type(epoch) is not int
            or epoch < 0
            or not isinstance(missing, list)
            or len(missing) > MAX_MISSING
            or not all(type(s) is int and s > 0 for s in missing)
        ):
            return None
        return cls(topic, reader, acked, tuple(missing), epoch)


@dataclass(frozen=True)
class Gap:
    """A writer's word to one reader: ``start`` up to ``end`` (excluded) are not coming."""

    topic: str
    writer: str
    start: int
    end: int

    def encode(self) -> list[Any]:
        return [self.topic, self.writer, self.start, self.end]

    @classmethod
    def decode(cls, payload: Any) -> Gap | None:
        """The Gap a peer sent, or None when *payload* is not one."""
        if not isinstance(payload, list) or len(payload) != 4:  # noqa: PLR2004 - the fields
            return None
        topic, writer, start, end = payload
        if (
            type(topic) is not str
            or type(writer) is not str
            or type(start) is not int
            or type(end) is not int
            or not 1 <= start <= end
        ):
            return None
        return cls(topic, writer, start, end)


@dataclass(frozen=True)
class Heartbeat:
    """A writer's word to every reader of a topic: it keeps ``first`` to ``last``."""

    topic: str
    writer: str
    first: int
    last: int

    def encode(self) -> list[Any]:
        return [self.topic, self.writer, self.first, self.last]

    @classmethod
    def decode(cls, payload: Any) -> Heartbeat | None:
        """The Heartbeat a peer sent, or None when *payload* is not one."""
        if not isinstance(payload, list) or len(payload) != 4:  # noqa: PLR2004 - the fields
            return None
        topic, writer, first, last = payload
        if (
            type(topic) is not str
            or type(writer) is not str
            or type(first) is not int
            or type(last) is not int
            or not 1 <= first <= last
        ):
            return None
        return cls(topic, writer, first, last)
