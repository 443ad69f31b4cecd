"""The sending side of reliable topics: what is kept until every reader has it (pure core).

For each reliable Output topic, :class:`ReliableWriter` keeps the messages that some
expected reader has not acknowledged (a writer's history, in DDS's words), bounded by
the topic's window; the site's supervisor says who the expected readers are (the
actors that declare a reliable Input on the topic and are meant to run), and readers
stop being waited for when it says they are not. While a reader lags, a
:class:`~actors.core.reliable_wire.Heartbeat` goes out every ``heartbeat`` seconds;
a message is sent again only when a reader asks for it (after a heartbeat, or when
it sees a gap): what is merely queued is never sent twice. What comes in
(acknowledgements, requests for missing messages, new reader lists) and the clock's
ticks return *actions* for the engine to carry out: :class:`Resend` a kept message,
send a :class:`~actors.core.reliable_wire.Gap` to a reader or a
:class:`SendHeartbeat`, report an :class:`Undeliverable` message. No IO here.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from actors.core.reliable_wire import HELLO, Ack, Gap, Heartbeat, Reliability, WindowFull

#: Readers whose epochs are remembered per topic, at most.
_EPOCHS: Final = 10_000
#: Seconds between two sends of one message that readers asked for (two readers asking
#: at once get one resend: it goes to every reader of the topic).
RESEND_GAP: Final = 0.02


@dataclass(frozen=True)
class Resend:
    """Send a kept message again, as it was (same sequence number)."""

    topic: bytes
    envelope: bytes


@dataclass(frozen=True)
class SendGap:
    """Tell *reader* what is not coming."""

    reader: str
    gap: Gap


@dataclass(frozen=True)
class Undeliverable:
    """A message given up after ``max_deliver`` sends: kept for inspection, redeliverable."""

    topic: str
    seq: int
    envelope: bytes
    readers: tuple[str, ...]
    sends: int


@dataclass(frozen=True)
class SendHeartbeat:
    """Tell every reader of the topic what the writer keeps."""

    heartbeat: Heartbeat


Action = Resend | SendGap | SendHeartbeat | Undeliverable


@dataclass
class _Kept:
    envelope: bytes
    sent_at: float
    sends: int = 1


@dataclass
class TopicOut:
    """One reliable topic: its kept messages, its readers and what happened to them."""

    topic: str
    spec: Reliability
    kept: OrderedDict[int, _Kept] = field(default_factory=OrderedDict)
    size: int = 0
    #: Expected reader -> the highest sequence number it acknowledged; None: not told yet
    #: (everything is kept, within the window, until the supervisor says).
    readers: dict[str, int] | None = None
    #: The epoch (process start) of each reader's newest process heard from.
    epochs: dict[str, int] = field(default_factory=dict)
    #: The last sequence number sent, and the highest no reader waits for any more.
    last: int = 0
    released: int = 0
    #: When the next heartbeat is due (while a reader lags).
    beat_at: float = 0.0
    resent: int = 0
    shed: int = 0
    dead: int = 0
    acks: int = 0
    #: With an outbox: the messages kept since the last commit, and those given up
    #: (undeliverable) since, whose stored copies go.
    added: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)

    def room(self, size: int) -> bool:
        """Whether one more message of *size* bytes fits the window."""
        spec = self.spec
        return len(self.kept) < spec.window and (
            not self.kept or self.size + size <= spec.window_bytes
        )

    def behind(self, seq: int) -> tuple[str, ...]:
        """The readers that have not acknowledged *seq*."""
        return tuple(sorted(r for r, acked in (self.readers or {}).items() if acked < seq))


class ReliableWriter:
    """The reliable Output topics of one actor (by topic frame)."""

    def __init__(self, name: str, topics: dict[str, Reliability]) -> None:
        self.name = name
        self.topics: dict[bytes, TopicOut] = {
            t.encode(): TopicOut(t, spec) for t, spec in topics.items()
        }
        self._by_name = {t.topic: t for t in self.topics.values()}
        self._next_due: float | None = None
        #: Whether what is kept is also stored (an outbox, with the actor's durable State).
        self.journal = False

    # -- what the actor sends --------------------------------------------------------

    def room(self, topic: bytes, size: int) -> bool:
        """Whether a message of *size* bytes on *topic* fits its window now."""
        return self.topics[topic].room(size)

    def sent(self, topic: bytes, seq: int, envelope: bytes, now: float) -> list[Action]:
        """Keep message *seq* of *topic* until its readers have it. A full window sheds
        its oldest message (policy ``drop_oldest``: the readers behind are told) or raises
        :class:`WindowFull` (``raise``; ``block`` waits for room before it sends)."""
        out = self.topics[topic]
        actions: list[Action] = []
        while not out.room(len(envelope)):
            if out.spec.policy != "drop_oldest":
                raise WindowFull(self.full_message(topic))
            actions += self._shed_oldest(out)
        out.kept[seq] = _Kept(envelope, now)
        out.size += len(envelope)
        out.last = max(out.last, seq)
        if self.journal:
            out.added.append(seq)
        if out.readers is not None and not out.readers:
            self._release(out)  # nobody to wait for
        elif out.beat_at <= now:
            out.beat_at = now + out.spec.heartbeat
            if self._next_due is None or out.beat_at < self._next_due:
                self._next_due = out.beat_at
        return actions

    def full_message(self, topic: bytes) -> str:
        """What a full window of *topic* says: the actor, topic, counts and readers behind."""
        out = self.topics[topic]
        first = next(iter(out.kept), None)
        behind = ", ".join(out.behind(first)) if first is not None else ""
        return (
            f"{self.name}: reliable topic {out.topic!r} has {len(out.kept)} messages "
            f"({out.size} bytes) not acknowledged (window {out.spec.window} messages, "
            f"{out.spec.window_bytes} bytes); waiting for: {behind or 'readers not known yet'}"
        )

    def _shed_oldest(self, out: TopicOut) -> list[Action]:
        seq, kept = out.kept.popitem(last=False)
        out.size -= len(kept.envelope)
        out.shed += 1
        return self._skip(out, seq)

    def _skip(self, out: TopicOut, seq: int) -> list[Action]:
        """Readers behind *seq* stop waiting for it (it is gone)."""
        actions: list[Action] = [
            SendGap(r, Gap(out.topic, self.name, seq, seq + 1)) for r in out.behind(seq)
        ]
        for reader, acked in (out.readers or {}).items():
            if acked == seq - 1:
                out.readers[reader] = seq  # type: ignore[index]  # readers is a dict here
        self._release(out)
        return actions

    # -- what the readers say ----------------------------------------------------

    def acked(self, ack: Ack, now: float) -> list[Action]:
        """An Ack from a reader: what it has, and what it asks for again."""
        out = self._by_name.get(ack.topic)
        if out is None:
            return []
        out.acks += 1
        actions: list[Action] = []
        readers = out.readers
        known = out.epochs.get(ack.reader, 0)
        if ack.epoch < known:
            return []  # a replaced process's Ack, still on its way: not the reader now
        if ack.epoch > known:
            out.epochs[ack.reader] = ack.epoch
            if len(out.epochs) > _EPOCHS:
                out.epochs.clear()  # bounded: readers come and go by name
        if ack.acked == HELLO:
            if readers is not None and ack.reader in readers:
                start = readers[ack.reader]  # what it had acknowledged before it lost count
            else:  # not a reader it waits for: what is still kept
                start = next(iter(out.kept), out.last + 1) - 1
            # Where its stream begins; it then asks for what it lacks (it knows: what it
            # holds, and the heartbeats), so nothing is sent twice that it has.
            actions.append(SendGap(ack.reader, Gap(out.topic, self.name, 1, start + 1)))
            return actions
        if readers is not None and ack.reader in readers:
            acked = min(ack.acked, out.last)
            # A new process of the reader counts from where it began (its Gap), which may
            # be below what the one before it acknowledged (messages it took and lost).
            fresh = ack.epoch > known and known != 0
            readers[ack.reader] = acked if fresh else max(readers[ack.reader], acked)
        for seq in ack.missing:
            kept = out.kept.get(seq)
            if kept is not None:
                actions += self._resend(out, seq, kept, now)
            elif seq <= out.last:
                actions.append(SendGap(ack.reader, Gap(out.topic, self.name, seq, seq + 1)))
        self._release(out)
        return actions

    def _resend(self, out: TopicOut, seq: int, kept: _Kept, now: float) -> list[Action]:
        """Send *seq* again, unless it just was; give it up past ``max_deliver``."""
        if now - kept.sent_at < RESEND_GAP:
            return []
        if kept.sends >= out.spec.max_deliver:
            behind = out.behind(seq)
            del out.kept[seq]
            out.size -= len(kept.envelope)
            out.dead += 1
            if self.journal:
                out.dropped.append(seq)
            return [
                Undeliverable(out.topic, seq, kept.envelope, behind, kept.sends),
                *self._skip(out, seq),
            ]
        kept.sends += 1
        kept.sent_at = now
        out.resent += 1
        return [Resend(out.topic.encode(), kept.envelope)]

    def readers(self, topic: str, names: list[str]) -> None:
        """The supervisor's word on who must get *topic*: a reader new to the list starts
        after what is released (and the last ``depth`` messages); one off the list is no
        longer waited for."""
        out = self._by_name.get(topic)
        if out is None:
            return
        before = out.readers or {}
        start = max(0, out.last - out.spec.depth) if out.readers is not None else 0
        out.readers = {n: before.get(n, start) for n in names}
        self._release(out)
        if out.kept and self._next_due is None:
            self._next_due = out.beat_at

    def _release(self, out: TopicOut) -> None:
        """Forget what every expected reader has (but the newest ``depth``, for readers
        that join later)."""
        if out.readers is None:
            return
        upto = min(out.readers.values(), default=out.last)
        out.released = max(out.released, upto)
        upto = min(upto, out.last - out.spec.depth)
        kept = out.kept
        while kept:
            seq = next(iter(kept))
            if seq > upto:
                break
            out.size -= len(kept.pop(seq).envelope)

    # -- an outbox ---------------------------------------------------------------

    def restore(self, topic: str, last: int, kept: list[tuple[int, bytes]], now: float) -> None:
        """Go on from a stored outbox: *last* sent on *topic*, and the messages kept then
        (sent again when a reader asks: a heartbeat tells the readers of them)."""
        out = self._by_name.get(topic)
        if out is None:
            return  # no longer a reliable Output of this actor
        out.last = max(out.last, last)
        for seq, envelope in kept:
            if seq <= last and seq not in out.kept:
                out.kept[seq] = _Kept(envelope, now - RESEND_GAP)
                out.size += len(envelope)
        out.kept = OrderedDict(sorted(out.kept.items()))

    def changes(self) -> tuple[list[tuple[str, int, bytes]], list[tuple[str, int, int]]]:
        """What the store must change: the messages kept since the last commit, as (topic,
        seq, envelope); the stored ones that are gone, as (topic, from, to) ranges of
        sequence numbers (*to* included)."""
        add: list[tuple[str, int, bytes]] = []
        gone: list[tuple[str, int, int]] = []
        for out in self.topics.values():
            kept = out.kept
            add += [(out.topic, seq, kept[seq].envelope) for seq in out.added if seq in kept]
            first = next(iter(kept), out.last + 1)
            if first > 1:
                gone.append((out.topic, 0, first - 1))
            gone += [(out.topic, seq, seq) for seq in out.dropped]
        return add, gone

    def committed(self) -> None:
        """What :meth:`changes` said is stored."""
        for out in self.topics.values():
            out.added.clear()
            out.dropped.clear()

    # -- the clock ---------------------------------------------------------------

    def next_due(self) -> float | None:
        """When a kept message is next due to be sent again (None: none is)."""
        return self._next_due

    def due(self, now: float) -> list[Action]:
        """A heartbeat for each topic a reader lags on, every ``heartbeat`` seconds."""
        if self._next_due is None or now < self._next_due:
            return []
        actions: list[Action] = []
        soonest: float | None = None
        for out in self.topics.values():
            if out.readers is None or not out.kept:
                continue  # nobody to ask yet, or nothing kept
            everyone = min(out.readers.values(), default=out.last)
            if everyone >= out.last:
                continue  # what is kept is kept for depth only: nobody lags
            if out.beat_at <= now:
                first = max(everyone + 1, next(iter(out.kept)))
                beat = Heartbeat(out.topic, self.name, first, out.last)
                actions.append(SendHeartbeat(beat))
                out.beat_at = now + out.spec.heartbeat
            soonest = out.beat_at if soonest is None else min(soonest, out.beat_at)
        self._next_due = soonest
        return actions

    def statistics(self) -> dict[str, dict[str, object]]:
        """Per topic: kept (unacknowledged), resent, shed, dead, and each reader's ack."""
        return {
            out.topic: {
                "unacked": len(out.kept),
                "bytes": out.size,
                "last": out.last,
                "resent": out.resent,
                "shed": out.shed,
                "dead": out.dead,
                "readers": dict(out.readers) if out.readers is not None else None,
            }
            for out in self.topics.values()
        }
