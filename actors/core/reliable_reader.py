"""The receiving side of reliable topics: every message once, in order per sender (pure core).

For each (sender, topic) of its reliable Inputs, :class:`ReliableReader` knows the next
sequence number to deliver. A message ahead of it is held (bounded) and the ones in
between are asked for again (a negative acknowledgement); a message behind it is a
duplicate, dropped, and acknowledged again (the writer may not have heard the first
time). Acknowledgements are cumulative and go out at most once per turn of the
actor's loop (:meth:`due`). A reader with no count for a writer (it started, or
restarted without its inbox) holds what comes and says HELLO; the writer's Gap says
where its stream begins. No IO here: the engine delivers, sends and decodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from actors.core.reliable_wire import HELLO, MAX_MISSING, Ack, Gap, Heartbeat

#: Messages held per stream while earlier ones are missing, at most (more are dropped:
#: they are asked for again once the earlier ones came).
HOLD_MAX: Final = 10_000
#: Seconds before a missing message, or a HELLO, is asked for again.
ASK_AGAIN: Final = 0.2
#: Seconds a HELLO waits for the writer's Gap before the reader starts at what it holds:
#: a sender that is not a reliable writer (an actor whose Output is not reliable; ``pub``
#: needs no wait: its one message is its first). A reliable writer answers in
#: milliseconds, and sends its first messages again meanwhile.
HELLO_WAIT: Final = 10.0


class Verdict(Enum):
    """What :meth:`ReliableReader.take` says of a message."""

    DELIVER = "deliver"  # deliver it now, then what :meth:`ReliableReader.ready` gives
    HELD = "held"  # kept until the ones before it came
    DUPLICATE = "duplicate"  # delivered before: dropped


@dataclass
class _Stream:
    next: int | None = None
    held: dict[int, list[bytes]] = field(default_factory=dict)
    #: Ranges that are not coming: start -> end (excluded).
    skips: dict[int, int] = field(default_factory=dict)
    ack_due: bool = False
    asked: float | None = None
    since: float = 0.0
    #: The newest envelope time seen: a seq 1 sent after it is a writer that started
    #: again; one sent before it, a resend of the first message.
    latest_ns: int = 0
    #: The highest sequence number the writer said it sent (a heartbeat): what is not
    #: here up to it was lost.
    known: int = 0
    #: With an inbox: the last sequence number whose processing is committed (stored with
    #: the State); Acks say no more than it.
    committed: int = 0


class ReliableReader:
    """The reliable Inputs' streams of one actor, by (sender, topic)."""

    def __init__(
        self,
        name: str,
        epoch: int = 0,
        counts: dict[str, int] | None = None,
        *,
        inbox: bool = False,
    ) -> None:
        self.name = name
        #: Whether Acks wait for :meth:`commit` (an inbox kept with durable State): a message
        #: is acknowledged once its processing is stored, so a restarted reader that
        #: resumes from the store is sent again exactly what it had not stored.
        self.inbox = inbox
        #: The engine's counters: ``recovered`` and ``lost`` summed over every topic.
        self._counts = counts if counts is not None else {"recovered": 0, "lost": 0}
        #: When this process of the reader started (ns): its Acks say it, so that the
        #: writer does not take a replaced process's late Acks for this one's.
        self.epoch = epoch
        self._streams: dict[tuple[str, str], _Stream] = {}
        #: Messages delivered after they had been missing (a drop recovered), per topic.
        self.recovered: dict[str, int] = {}
        #: Messages a writer said are not coming (shed or undeliverable), per topic.
        self.lost: dict[str, int] = {}
        #: Duplicates dropped (redeliveries of what was delivered), per topic.
        self.redelivered: dict[str, int] = {}

    def take(  # noqa: PLR0913, PLR0917 - a message's own fields, then the clock
        self, sender: str, topic: str, seq: int, sent_ns: int, frames: list[bytes], now: float
    ) -> Verdict:
        """What to do with message *seq* of *sender* on *topic*, sent at *sent_ns*."""
        key = (sender, topic)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(since=now)
        restarted = seq == 1 and sent_ns > stream.latest_ns
        stream.latest_ns = max(stream.latest_ns, sent_ns)
        expected = stream.next
        if expected is None:
            if seq == 1:
                stream.next = 1
                stream.committed = 0
                return Verdict.DELIVER
            self._hold(stream, seq, frames)
            return Verdict.HELD
        if seq == expected:
            return Verdict.DELIVER
        if restarted and expected > 1:  # the writer started again (no outbox): a new stream
            self._streams[key] = _Stream(next=1, since=now, latest_ns=sent_ns)
            return Verdict.DELIVER
        if seq < expected:
            stream.ack_due = True
            self.redelivered[topic] = self.redelivered.get(topic, 0) + 1
            return Verdict.DUPLICATE
        self._hold(stream, seq, frames)
        return Verdict.HELD

    def _hold(self, stream: _Stream, seq: int, frames: list[bytes]) -> None:
        if seq not in stream.held and len(stream.held) < HOLD_MAX:
            stream.held[seq] = frames
        stream.ack_due = True  # asks for what is missing

    def delivered(self, sender: str, topic: str) -> None:
        """The message :meth:`take` said to deliver was delivered: the next one is due."""
        stream = self._streams[(sender, topic)]
        assert stream.next is not None
        if stream.held or stream.known >= stream.next:
            # Later ones came first, or a heartbeat said it was sent: it had been lost.
            self.recovered[topic] = self.recovered.get(topic, 0) + 1
            self._counts["recovered"] += 1
        stream.next += 1
        stream.ack_due = True
        self._skip(stream, topic)

    def ready(self, sender: str, topic: str) -> list[bytes] | None:
        """The held message that is next in order, if there is one (deliver it, then call
        :meth:`delivered`)."""
        stream = self._streams.get((sender, topic))
        if stream is None or stream.next is None:
            return None
        return stream.held.pop(stream.next, None)

    def _skip(self, stream: _Stream, topic: str) -> None:
        while stream.next is not None and stream.next in stream.skips:
            end = stream.skips.pop(stream.next)
            self._lose(topic, end - stream.next)
            for seq in range(stream.next, min(end, stream.next + HOLD_MAX)):
                stream.held.pop(seq, None)
            stream.next = end

    def gap(self, gap: Gap, now: float) -> None:
        """A writer's Gap: *start* up to *end* are not coming (the answer to a HELLO starts
        the stream at *end*)."""
        key = (gap.writer, gap.topic)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(since=now)
        if stream.next is None:
            if gap.start != 1:
                return  # not yet started: only the answer to a HELLO says where it starts
            stream.next = gap.end
            stream.committed = gap.end - 1  # nothing before it is coming: nothing to store
            stream.asked = None  # ask at once for what it lacks from there
            for seq in [s for s in stream.held if s < gap.end]:
                del stream.held[seq]
            stream.ack_due = True
            return
        if gap.end <= stream.next or gap.start == gap.end:
            return  # old news, or a stream's start it already knows
        if gap.start <= stream.next:
            self._lose(gap.topic, gap.end - stream.next)
            for seq in range(stream.next, min(gap.end, stream.next + HOLD_MAX)):
                stream.held.pop(seq, None)
            stream.next = gap.end
            stream.ack_due = True
            self._skip(stream, gap.topic)
        else:
            stream.skips[gap.start] = max(gap.end, stream.skips.get(gap.start, 0))

    def heartbeat(self, beat: Heartbeat, now: float) -> None:
        """A writer's heartbeat: it sent up to ``last``, so what is not here up to it was
        lost (it comes after the data on the same way), and is asked for at once; a
        reader with no count for the writer says HELLO."""
        key = (beat.writer, beat.topic)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(since=now)
        stream.known = max(stream.known, beat.last)
        stream.ack_due = True
        stream.asked = None  # answer now: the heartbeat asks

    def _lose(self, topic: str, count: int) -> None:
        self.lost[topic] = self.lost.get(topic, 0) + count
        self._counts["lost"] += count

    def waiting(self) -> list[tuple[str, str]]:
        """The streams whose next message is held and deliverable now (after a Gap)."""
        return [key for key, s in self._streams.items() if s.next is not None and s.next in s.held]

    # -- the clock ---------------------------------------------------------------

    def due(self, now: float) -> list[tuple[str, Ack]]:
        """The Acks to send now, each with the writer it goes to: cumulative ones for
        what was delivered, what is missing, and HELLOs."""
        out: list[tuple[str, Ack]] = []
        for (sender, topic), stream in self._streams.items():
            if stream.next is None:
                if not stream.held and not stream.known:
                    continue
                if stream.asked is None or now - stream.asked >= ASK_AGAIN:
                    if stream.held and now - stream.since >= HELLO_WAIT:
                        stream.next = min(stream.held)  # no writer answers: start there
                        stream.committed = stream.next - 1
                        continue
                    stream.asked = now
                    out.append((sender, Ack(topic, self.name, HELLO, (), self.epoch)))
                continue
            lacking = stream.held or stream.known >= stream.next
            if not stream.ack_due and not (
                lacking and (stream.asked is None or now - stream.asked >= ASK_AGAIN)
            ):
                continue
            missing: list[int] = []
            if lacking:
                stream.asked = now
                top = max(max(stream.held, default=0), stream.known + 1)
                seq = stream.next
                while seq < top and len(missing) < MAX_MISSING:
                    if seq not in stream.held:
                        missing.append(seq)
                    seq += 1
            stream.ack_due = False
            acked = min(stream.next - 1, stream.committed) if self.inbox else stream.next - 1
            out.append((sender, Ack(topic, self.name, acked, tuple(missing), self.epoch)))
        return out

    def next_due(self, now: float) -> float | None:
        """When :meth:`due` next has something to send (None: nothing is waiting)."""
        soonest: float | None = None
        for stream in self._streams.values():
            if stream.ack_due:
                return now
            if stream.held or (stream.next is not None and stream.known >= stream.next):
                at = (stream.asked or now) + ASK_AGAIN
                soonest = at if soonest is None else min(soonest, at)
        return soonest

    def positions(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Per (sender, topic): the last sequence number delivered and the newest send time
        seen (an inbox to store with the State)."""
        return {
            k: (s.next - 1, s.latest_ns) for k, s in self._streams.items() if s.next is not None
        }

    def resume(self, positions: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Go on from *positions* (a stored inbox): what comes at or below is a duplicate,
        acknowledged and not delivered again."""
        for key, (last, latest_ns) in positions.items():
            self._streams[key] = _Stream(
                next=last + 1, committed=last, latest_ns=latest_ns, ack_due=True
            )

    def commit(self, positions: dict[tuple[str, str], tuple[int, int]]) -> None:
        """*positions* (taken by :meth:`positions`) are stored now: Acks may say them."""
        for key, (last, _) in positions.items():
            stream = self._streams.get(key)
            if stream is not None and stream.next is not None and last != stream.committed:
                stream.committed = min(last, stream.next - 1)
                stream.ack_due = True


#: The inbox's name among the journals stored with durable State.
INBOX: Final = "$inbox"


class Inbox:
    """A reader's positions as a journal stored with the actor's durable State: stored as
    ``[[sender, topic, last, latest_ns], ...]``."""

    def __init__(self, reader: ReliableReader) -> None:
        self.reader = reader

    def take(self) -> list[list[object]]:
        """The positions now."""
        return [[s, t, last, ns] for (s, t), (last, ns) in self.reader.positions().items()]

    def stored(self, value: list[list[object]]) -> None:
        """They are stored: the reader may acknowledge them."""
        self.reader.commit(self._positions(value))

    def restore(self, value: object) -> None:
        """Resume from the positions the process before this one stored."""
        self.reader.resume(self._positions(value))

    @staticmethod
    def _positions(value: object) -> dict[tuple[str, str], tuple[int, int]]:
        if not isinstance(value, list):
            raise ValueError(f"the inbox is not a list: {value!r:.80}")
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for entry in value:
            match entry:
                case [str(sender), str(topic), int(last), int(ns)] if last >= 0 and ns >= 0:
                    out[(sender, topic)] = (last, ns)
                case _:
                    raise ValueError(f"not an inbox entry [sender, topic, last, ns]: {entry!r:.60}")
        return out
