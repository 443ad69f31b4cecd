"""An engine's reliable topics: its writer and reader, wired to its sends and receives (pure core).

:class:`Reliable` is the engine's collaborator for reliable Outputs and Inputs
(:mod:`actors.core.reliable_writer`, :mod:`actors.core.reliable_reader`): it keeps
each reliable message the engine sends, takes the Acks and Gaps addressed to the
actor (``$sys.ack.<name>``, ``$sys.gap.<name>``), puts each reliable Input's messages
in order before the engine delivers them (and takes the writers' heartbeats on
``$sys.hb.<topic>``), and on each turn of the loop sends what is due (Acks,
heartbeats). It reaches the engine through :class:`ReliableHost`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from actors.core.declarations import ActorSpec
from actors.core.durable import Journal, Outbox, Ranges, Rows
from actors.core.params import Route
from actors.core.reliable_reader import INBOX, Inbox, ReliableReader, Verdict
from actors.core.reliable_wire import (
    ACK_PREFIX,
    GAP_PREFIX,
    HEARTBEAT_PREFIX,
    Ack,
    Gap,
    Heartbeat,
    Reliability,
    WindowFull,
)
from actors.core.reliable_writer import (
    Action,
    ReliableWriter,
    Resend,
    SendGap,
    SendHeartbeat,
    Undeliverable,
)
from actors.core.wire import WireError, decode_message

Outgoing = tuple[bytes, bytes]


class ReliableHost(Protocol):
    """What :class:`Reliable` needs of its engine."""

    def publish(self, topic: bytes, payload: Any, trace: str | None = None) -> Outgoing:
        """Encode *payload* for *topic* with its next sequence number."""
        ...

    def put_out(self, frames: Outgoing) -> None:
        """Send *frames* now, or with the running hook's outputs."""
        ...

    def deliver(
        self,
        route: Route,
        sender: str,
        seq: int,
        trace: str | None,
        payload: Any,
        frames: list[bytes],
        now_ns: int,
    ) -> list[Outgoing]:
        """Take one message on an Input (its sequence number already checked)."""
        ...


class Reliable:
    """The reliable Outputs (a writer) and Inputs (a reader) of one engine."""

    def __init__(
        self,
        host: ReliableHost,
        spec: ActorSpec,
        name: str,
        topics: dict[str, str],
        *,
        input_of: Callable[[list[bytes]], Route | None],
        counts: dict[str, int],
        seq_out: dict[bytes, int],
        monotonic: Callable[[], float],
        wall_ns: Callable[[], int],
        log: Any,
    ) -> None:
        self._host = host
        self.name = name
        self._input_of = input_of
        self._monotonic = monotonic
        self._wall_ns = wall_ns
        self._log = log
        outputs: dict[str, Reliability] = {}
        for var_name, var in spec.outputs.items():
            if isinstance(var.reliable, Reliability):
                outputs[topics[var_name]] = var.reliable
        #: The Outputs' topic frames that are reliable.
        self.output_topics = frozenset(t.encode() for t in outputs)
        #: The names of the reliable Inputs.
        self.inputs = frozenset(n for n, var in spec.inputs.items() if var.reliable)
        #: The writers' heartbeats on the reliable Inputs' topics (or families).
        self.heartbeats = sorted(
            HEARTBEAT_PREFIX + topics[n] for n in spec.inputs if n in self.inputs
        )
        self.writer = ReliableWriter(name, outputs) if outputs else None
        self._ack_topic = (ACK_PREFIX + name).encode()
        self.reader = ReliableReader(name, wall_ns(), counts) if self.inputs else None
        self._outbox = WriterOutbox(self.writer, seq_out) if self.writer is not None else None
        #: With an outbox: new reliable messages are held until it is stored (the State
        #: of the step that sent them with them), then sent.
        self.holding = False
        self.held: list[Outgoing] = []
        self.held_on: dict[bytes, int] = {}
        #: A replay of a snapshot: the messages come as the reader delivered them (in
        #: order, once, the recovered ones where they were taken), so they are delivered
        #: as they come.
        self.replaying = False
        #: Messages given up (``max_deliver`` sends), newest last, for the runtime to keep.
        self.undeliverable: list[Undeliverable] = []
        #: Sends that waited for room in a full window (policy ``block``).
        self.blocked = 0
        #: Acks and Gaps refused: malformed, or naming another reader or writer than
        #: their sender.
        self.rejected = 0
        #: How a full window with policy ``block`` waits: given a condition and a monotonic
        #: deadline, it takes Acks until the condition holds or the time is up (the
        #: runtime's loop); None: it cannot wait (the harness), and a full window raises.
        self.block: Callable[[Callable[[], bool], float], None] | None = None

    # -- durable State -----------------------------------------------------------------

    def journals(self) -> dict[str, Journal]:
        """What to store with the actor's durable State: the reader's inbox, the writer's
        outbox (:meth:`outbox`)."""
        out: dict[str, Journal] = {}
        if self.reader is not None:
            out[INBOX] = Inbox(self.reader)
        if self._outbox is not None:
            out[OUTBOX] = self._outbox
        return out

    def outbox(self) -> Outbox | None:
        """The writer's outbox, among :meth:`journals`."""
        return self._outbox

    def journaled(self, on: bool) -> None:
        """Whether the journals are stored: an inbox's Acks then wait for the store, and an
        outbox's new messages are held until it is written (:meth:`take_held`)."""
        if self.reader is not None:
            self.reader.inbox = on
        if self.writer is not None:
            self.writer.journal = on
        self.holding = on and self.writer is not None

    def hold(self, frames: Outgoing) -> None:
        """A new reliable message, held until the outbox that keeps it is stored."""
        self.held.append(frames)
        self.held_on[frames[0]] = self.held_on.get(frames[0], 0) + 1

    def take_held(self) -> list[Outgoing]:
        """The held messages, to send now that the outbox is stored."""
        out, self.held = self.held, []
        self.held_on.clear()
        return out

    # -- topics ------------------------------------------------------------------------

    def special(self) -> dict[bytes, Callable[[list[bytes]], list[Outgoing]]]:
        """The framework topics this actor takes: Acks if it writes, Gaps if it reads."""
        out: dict[bytes, Callable[[list[bytes]], list[Outgoing]]] = {}
        if self.writer is not None:
            out[(ACK_PREFIX + self.name).encode()] = self._on_ack
        if self.reader is not None:
            out[(GAP_PREFIX + self.name).encode()] = self._on_gap
        return out

    def subscriptions(self) -> list[str]:
        """The topics of :meth:`special`, and the heartbeats of the reliable Inputs."""
        return [topic.decode() for topic in self.special()] + self.heartbeats

    def heartbeat(self, frames: list[bytes]) -> list[Outgoing]:
        """A writer's heartbeat on one of the reliable Inputs' topics."""
        reader = self.reader
        if reader is None:
            return []
        sender, payload = self._message(frames)
        beat = Heartbeat.decode(payload)
        if beat is None or beat.writer != sender:
            self.rejected += 1
            return []
        reader.heartbeat(beat, self._monotonic())
        return []

    # -- writing -----------------------------------------------------------------------

    def wait_room(self, topic: bytes, size: int) -> None:
        """Before sending on reliable *topic*: wait (policy ``block``) for room in its window,
        up to ``block_for``; WindowFull when there is none then (or no way to wait)."""
        writer = self.writer
        assert writer is not None
        if writer.room(topic, size):
            return
        spec = writer.topics[topic].spec
        if spec.policy != "block":
            return  # shed or raise: the writer does it as it keeps the message
        if self.held_on.get(topic, 0) >= len(writer.topics[topic].kept):
            raise WindowFull(  # none of them sent: no Ack can come before the step ends
                f"{writer.full_message(topic)}; with a durable outbox a step sends its "
                "messages when it ends, so it may publish at most a window of them"
            )
        self.blocked += 1
        if self.block is not None:
            deadline = self._monotonic() + spec.block_for
            while not writer.room(topic, size) and (now := self._monotonic()) < deadline:
                for frames in self.due():  # heartbeats: a reader that lost the tail asks
                    self._host.put_out(frames)
                self.block(lambda: writer.room(topic, size), min(deadline, now + spec.heartbeat))
        if not writer.room(topic, size):
            raise WindowFull(writer.full_message(topic))

    def ack_traffic(self, frames: list[bytes]) -> bool:
        """Take an Ack while the step waits for room (False: not one); what it frees to
        send again goes out at once."""
        if self.writer is None or frames[0] != self._ack_topic:
            return False
        for out in self._on_ack(frames):
            self._host.put_out(out)
        return True

    def sent(self, topic: bytes, seq: int, envelope: bytes) -> None:
        """A reliable message went out: keep it until its readers have it."""
        writer = self.writer
        assert writer is not None
        for frames in self._act(writer.sent(topic, seq, envelope, self._monotonic())):
            self._host.put_out(frames)

    def take_undeliverable(self) -> list[Undeliverable]:
        """The messages given up since the last call (the runtime keeps them)."""
        out, self.undeliverable = self.undeliverable, []
        return out

    def _on_ack(self, frames: list[bytes]) -> list[Outgoing]:
        writer = self.writer
        assert writer is not None
        sender, payload = self._message(frames)
        ack = Ack.decode(payload)
        if ack is None or ack.reader != sender:
            self.rejected += 1  # a peer's word for another reader is not taken
            return []
        return self._act(writer.acked(ack, self._monotonic()))

    def readers(self, topic: str, names: list[str]) -> None:
        """The supervisor's list of who must get *topic*."""
        if self.writer is not None:
            self.writer.readers(topic, names)

    def _act(self, actions: list[Action]) -> list[Outgoing]:
        host = self._host
        out: list[Outgoing] = []
        for action in actions:
            if isinstance(action, Resend):
                out.append((action.topic, action.envelope))
            elif isinstance(action, SendGap):
                gap = action.gap
                out.append(host.publish((GAP_PREFIX + action.reader).encode(), gap.encode()))
            elif isinstance(action, SendHeartbeat):
                beat = action.heartbeat
                out.append(host.publish((HEARTBEAT_PREFIX + beat.topic).encode(), beat.encode()))
            elif isinstance(action, Undeliverable):
                self._log.warning(
                    "undeliverable",
                    topic=action.topic,
                    seq=action.seq,
                    readers=list(action.readers),
                    sends=action.sends,
                )
                self.undeliverable.append(action)
                del self.undeliverable[:-1000]  # bounded: the runtime takes them as they come
        return out

    # -- reading -----------------------------------------------------------------------

    def receive(
        self,
        route: Route,
        sender: str,
        seq: int,
        sent_ns: int,
        trace: str | None,
        payload: Any,
        frames: list[bytes],
        now_ns: int,
    ) -> list[Outgoing]:
        """A message on a reliable Input: delivered in order (with what it frees), held,
        or dropped as a duplicate."""
        if self.replaying:  # recorded as they were delivered: in order, once
            return self._host.deliver(route, sender, seq, trace, payload, frames, now_ns)
        reader = self.reader
        assert reader is not None
        topic = route[1]
        verdict = reader.take(sender, topic, seq, sent_ns, frames, self._monotonic())
        if verdict is not Verdict.DELIVER:
            return []
        out = self._host.deliver(route, sender, seq, trace, payload, frames, now_ns)
        reader.delivered(sender, topic)
        return out + self._drain(sender, topic)

    def _drain(self, sender: str, topic: str) -> list[Outgoing]:
        """Deliver the held messages that are next in order now."""
        reader = self.reader
        assert reader is not None
        out: list[Outgoing] = []
        while (frames := reader.ready(sender, topic)) is not None:
            route = self._input_of(frames)
            if route is not None:
                try:
                    _, seq, _, trace, payload = route[3](frames[1])
                except WireError:
                    reader.delivered(sender, topic)
                    continue
                now_ns = self._wall_ns()
                out += self._host.deliver(route, sender, seq, trace, payload, frames, now_ns)
            reader.delivered(sender, topic)
        return out

    def _on_gap(self, frames: list[bytes]) -> list[Outgoing]:
        reader = self.reader
        assert reader is not None
        sender, payload = self._message(frames)
        gap = Gap.decode(payload)
        if gap is None or gap.writer != sender:
            self.rejected += 1
            return []
        reader.gap(gap, self._monotonic())
        out: list[Outgoing] = []
        for sender, topic in reader.waiting():
            out += self._drain(sender, topic)
        return out

    # -- the clock ---------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When :meth:`due` next has something to do."""
        now = self._monotonic()
        times = [
            t
            for t in (
                self.writer.next_due() if self.writer is not None else None,
                self.reader.next_due(now) if self.reader is not None else None,
            )
            if t is not None
        ]
        return min(times) if times else None

    def due(self) -> list[Outgoing]:
        """Acks to send, and messages to send again."""
        now = self._monotonic()
        host = self._host
        out: list[Outgoing] = []
        if self.reader is not None:
            for writer, ack in self.reader.due(now):
                out.append(host.publish((ACK_PREFIX + writer).encode(), ack.encode()))
        if self.writer is not None:
            out += self._act(self.writer.due(now))
        return out

    def statistics(self) -> dict[str, Any]:
        """What the writer keeps and its readers acknowledged; what the reader recovered,
        lost and dropped as redelivered."""
        out: dict[str, Any] = {}
        if self.writer is not None:
            out["out"] = self.writer.statistics()
            out["blocked"] = self.blocked
        if self.reader is not None:
            out["in"] = {
                "recovered": dict(self.reader.recovered),
                "lost": dict(self.reader.lost),
                "redelivered": dict(self.reader.redelivered),
            }
        return out

    @staticmethod
    def _message(frames: list[bytes]) -> tuple[str, Any]:
        try:
            envelope = decode_message(frames).envelope
        except WireError:
            return "", None
        return envelope.sender, envelope.payload


#: The outbox's name among the journals stored with durable State.
OUTBOX = "$outbox"


class WriterOutbox:
    """A writer's kept messages as an outbox stored with the actor's durable State: the
    last sequence number per topic in the record (``{topic: last}``), the messages as
    rows of their own."""

    def __init__(self, writer: ReliableWriter, seq_out: dict[bytes, int]) -> None:
        self.writer = writer
        self._seq_out = seq_out
        self._lasts: dict[str, int] = {}

    def take(self) -> dict[str, int]:
        """The last sequence number sent per topic."""
        return {out.topic: out.last for out in self.writer.topics.values()}

    def stored(self, value: dict[str, int]) -> None:
        """The record and rows are stored."""
        del value
        self.writer.committed()

    def changes(self) -> tuple[Rows, Ranges]:
        """The messages kept since the last write, and the stored ones that are gone."""
        return self.writer.changes()

    def restore(self, value: object) -> None:
        """The last numbers the process before this one sent (ValueError if not a map of
        topic -> number)."""
        if not isinstance(value, dict) or not all(
            isinstance(t, str) and type(n) is int and n >= 0 for t, n in value.items()
        ):
            raise ValueError(f"the outbox is not a map of topic to number: {value!r:.60}")
        self._lasts = value

    def restore_rows(self, rows: Rows) -> None:
        """Keep the stored messages again; number on from the stored last ones."""
        now = 0.0
        by_topic: dict[str, list[tuple[int, bytes]]] = {}
        for topic, seq, envelope in rows:
            by_topic.setdefault(topic, []).append((seq, envelope))
        for topic, last in self._lasts.items():
            self.writer.restore(topic, last, by_topic.get(topic, []), now)
            if topic.encode() in self.writer.topics:
                self._seq_out[topic.encode()] = max(self._seq_out.get(topic.encode(), 0), last)
