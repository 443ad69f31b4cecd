"""Reliable topics, the pure core: a writer and its readers over a lossy, reordering
channel on a fake clock (fast; the real-process tests are in test_reliable.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.core.reliable_reader import Inbox, ReliableReader, Verdict
from actors.core.reliable_wire import HELLO, Ack, Gap, Heartbeat, Reliability, WindowFull
from actors.core.reliable_writer import (
    ReliableWriter,
    Resend,
    SendGap,
    SendHeartbeat,
    Undeliverable,
)
from actors.core.wire import encode_envelope

TOPIC = "cmd.go"
T = TOPIC.encode()


@dataclass
class Net:
    """One writer, readers, and a channel that drops and delays each hop at random."""

    writer: ReliableWriter
    readers: dict[str, ReliableReader]
    rng: random.Random
    drop: float
    now: float = 0.0
    #: (arrival time, order, destination, what): in flight.
    flying: list[tuple[float, int, str, object]] = field(default_factory=list)
    delivered: dict[str, list[int]] = field(default_factory=dict)
    dead: list[int] = field(default_factory=list)
    n: int = 0

    def send(self, to: str, what: object) -> None:
        if self.rng.random() < self.drop:
            return
        self.n += 1
        self.flying.append((self.now + self.rng.uniform(0.001, 0.05), self.n, to, what))

    def publish(self, seq: int) -> None:
        self.writer.sent(T, seq, str(seq).encode(), self.now)
        for name in self.readers:
            self.send(name, ("data", seq))

    def act(self, actions: list[object]) -> None:
        for action in actions:
            if isinstance(action, Resend):
                for name in self.readers:
                    self.send(name, ("data", int(action.envelope)))
            elif isinstance(action, SendGap):
                self.send(action.reader, ("gap", action.gap))
            elif isinstance(action, SendHeartbeat):
                for name in self.readers:
                    self.send(name, ("beat", action.heartbeat))
            elif isinstance(action, Undeliverable):
                self.dead.append(action.seq)

    def deliver(self, name: str, seq: int) -> None:
        reader = self.readers[name]
        got = self.delivered.setdefault(name, [])
        # The envelope's time: when the writer first sent it (a resend keeps it).
        verdict = reader.take("w", TOPIC, seq, seq, [T, str(seq).encode()], self.now)
        if verdict is Verdict.DELIVER:
            got.append(seq)
            reader.delivered("w", TOPIC)
            self.drain(name)

    def drain(self, name: str) -> None:
        reader = self.readers[name]
        while (frames := reader.ready("w", TOPIC)) is not None:
            self.delivered.setdefault(name, []).append(int(frames[1]))
            reader.delivered("w", TOPIC)

    def run(self, until: float) -> None:
        while self.now < until:
            self.now += 0.01
            self.flying.sort()
            while self.flying and self.flying[0][0] <= self.now:
                _, _, to, what = self.flying.pop(0)
                kind, body = what  # type: ignore[misc]
                if to == "writer":
                    self.act(self.writer.acked(body, self.now))
                elif kind == "data":
                    self.deliver(to, body)
                elif kind == "beat":
                    self.readers[to].heartbeat(body, self.now)
                else:
                    self.readers[to].gap(body, self.now)
                    self.drain(to)
            for name, reader in self.readers.items():
                for _, ack in reader.due(self.now):
                    self.send("writer", ("ack", ack))
                del name
            self.act(self.writer.due(self.now))


def net(readers: int, drop: float, seed: int, spec: Reliability | None = None) -> Net:
    writer = ReliableWriter("w", {TOPIC: spec or Reliability(window=100_000)})
    names = [f"r{i}" for i in range(readers)]
    writer.readers(TOPIC, names)
    return Net(writer, {n: ReliableReader(n) for n in names}, random.Random(seed), drop)


def test_every_message_once_and_in_order_through_a_lossy_channel() -> None:
    """2,000 messages, 20% of every hop dropped (data, resends, acks, gaps), reordered by
    random delays: each reader delivers 1..2000 once, in order; the writer keeps nothing."""
    n = net(readers=2, drop=0.2, seed=7)
    for seq in range(1, 2001):
        n.publish(seq)
        if seq % 50 == 0:
            n.run(n.now + 0.02)
    n.run(n.now + 60)
    for name in ("r0", "r1"):
        assert n.delivered[name] == list(range(1, 2001)), name
    assert n.writer.topics[T].kept == {} and n.dead == []
    stats = n.writer.statistics()[TOPIC]
    assert stats["resent"] > 0 and stats["readers"] == {"r0": 2000, "r1": 2000}
    assert sum(r.recovered.get(TOPIC, 0) for r in n.readers.values()) > 0


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), drop=st.floats(0.0, 0.4), count=st.integers(1, 300))
def test_any_loss_pattern_ends_with_everything_delivered_once(
    seed: int, drop: float, count: int
) -> None:
    n = net(readers=3, drop=drop, seed=seed)
    for seq in range(1, count + 1):
        n.publish(seq)
    n.run(120)
    for name in n.readers:
        assert n.delivered.get(name, []) == list(range(1, count + 1))


def test_a_reader_off_the_list_is_not_waited_for() -> None:
    """The supervisor says r1 stopped on purpose: what only r1 lacked is released."""
    n = net(readers=2, drop=0.0, seed=1)
    n.readers["r1"] = ReliableReader("gone")  # never answers: stands for a stopped actor
    del n.readers["r1"]
    for seq in range(1, 11):
        n.writer.sent(T, seq, str(seq).encode(), n.now)
        n.send("r0", ("data", seq))
    n.run(1.0)
    assert len(n.writer.topics[T].kept) == 10  # r1 has acknowledged nothing
    n.writer.readers(TOPIC, ["r0"])
    assert n.writer.topics[T].kept == {}


def test_a_restarted_reader_says_hello_and_gets_what_it_had_not_acknowledged() -> None:
    n = net(readers=1, drop=0.0, seed=2)
    for seq in range(1, 6):
        n.publish(seq)
    n.run(1.0)
    assert n.delivered["r0"] == [1, 2, 3, 4, 5]
    n.readers["r0"] = ReliableReader("r0")  # restarted without an inbox
    n.delivered["r0"] = []
    for seq in range(6, 9):
        n.writer.sent(T, seq, str(seq).encode(), n.now)
    n.send("r0", ("data", 8))  # only the newest one reaches it: it holds it, says HELLO
    n.run(3.0)
    assert n.delivered["r0"] == [6, 7, 8]


def test_a_late_joiner_gets_the_declared_depth() -> None:
    writer = ReliableWriter("w", {TOPIC: Reliability(depth=3)})
    writer.readers(TOPIC, ["a"])
    for seq in range(1, 11):
        writer.sent(T, seq, b"x", 0.0)
    writer.acked(Ack(TOPIC, "a", 10), 0.0)
    writer.readers(TOPIC, ["a", "b"])
    assert writer.topics[T].readers == {"a": 10, "b": 7}
    actions = writer.acked(Ack(TOPIC, "b", HELLO), 0.1)
    gap = next(a for a in actions if isinstance(a, SendGap)).gap
    assert (gap.start, gap.end) == (1, 8)
    assert [a for a in actions if isinstance(a, Resend)] == []  # it asks for 8..10 itself
    assert len(writer.topics[T].kept) == 3  # a has them all: the depth is kept, not resent


def test_a_full_window_raises_or_sheds_as_declared() -> None:
    raising = ReliableWriter("w", {TOPIC: Reliability(window=2, policy="raise")})
    raising.readers(TOPIC, ["r"])
    raising.sent(T, 1, b"a", 0.0)
    raising.sent(T, 2, b"b", 0.0)
    with pytest.raises(WindowFull, match=r"w: reliable topic 'cmd.go' has 2 .*waiting for: r"):
        raising.sent(T, 3, b"c", 0.0)
    shedding = ReliableWriter("w", {TOPIC: Reliability(window=2, policy="drop_oldest")})
    shedding.readers(TOPIC, ["r"])
    shedding.sent(T, 1, b"a", 0.0)
    shedding.sent(T, 2, b"b", 0.0)
    actions = shedding.sent(T, 3, b"c", 0.0)
    assert actions == [SendGap("r", Gap(TOPIC, "w", 1, 2))]
    assert list(shedding.topics[T].kept) == [2, 3] and shedding.topics[T].shed == 1


def test_a_message_nobody_acknowledges_becomes_undeliverable_and_readers_skip_it() -> None:
    """A reader that asks for message 1 again and again (it crashes on it, say): after
    max_deliver sends it is given up, and the reader told to skip it."""
    writer = ReliableWriter("w", {TOPIC: Reliability(max_deliver=3)})
    writer.readers(TOPIC, ["r"])
    writer.sent(T, 1, b"one", 0.0)
    beats = writer.due(0.1)
    assert beats == [SendHeartbeat(Heartbeat(TOPIC, "w", 1, 1))]
    sent = [a for t in (0.2, 0.3, 0.4) for a in writer.acked(Ack(TOPIC, "r", 0, (1,)), t)]
    assert sum(isinstance(a, Resend) for a in sent) == 2
    [dead] = [a for a in sent if isinstance(a, Undeliverable)]
    assert (dead.seq, dead.readers, dead.sends) == (1, ("r",), 3)
    assert SendGap("r", Gap(TOPIC, "w", 1, 2)) in sent
    reader = ReliableReader("r")
    assert reader.take("w", TOPIC, 2, 2, [T, b"two"], 0.0) is Verdict.HELD
    reader.gap(Gap(TOPIC, "w", 1, 2), 0.0)  # the answer to its HELLO
    assert reader.ready("w", TOPIC) == [T, b"two"]


def test_acks_and_gaps_from_peers_are_checked() -> None:
    assert Ack.decode(["t", "r", 5, [6, 7], 9]) == Ack("t", "r", 5, (6, 7), 9)
    bad_acks = (
        None,
        ["t", "r", -2, [], 0],
        ["t", "r", 1, [0], 0],
        ["t", 1, 1, [], 0],
        ["t", "r", 1, [1] * 300, 0],
        ["t", "r", 1, [], -1],
        ["t", "r", 1, []],
    )
    for bad in bad_acks:
        assert Ack.decode(bad) is None
    assert Gap.decode(["t", "w", 1, 5]) == Gap("t", "w", 1, 5)
    assert Gap.decode(["t", "w", 1, 1]) == Gap("t", "w", 1, 1)  # a stream starting at 1
    for bad in (["t", "w", 5, 4], ["t", "w", 0, 2], ["t", "w", 1]):
        assert Gap.decode(bad) is None
    assert Reliability(policy="later", window=0).problems()


def test_a_replaced_readers_late_ack_is_not_taken_for_the_new_process() -> None:
    """The old process acknowledged 9 just before it was killed; its Ack arrives after the
    new process (a later epoch) said HELLO and began at 6: the writer keeps what the new
    one still needs."""
    writer = ReliableWriter("w", {TOPIC: Reliability()})
    writer.readers(TOPIC, ["r"])
    for seq in range(1, 11):
        writer.sent(T, seq, b"x", 0.0)
    writer.acked(Ack(TOPIC, "r", 5, (), 100), 0.0)
    writer.acked(Ack(TOPIC, "r", HELLO, (), 200), 0.1)
    writer.acked(Ack(TOPIC, "r", 9, (), 100), 0.1)  # the old one's, late
    assert writer.topics[T].readers == {"r": 5} and len(writer.topics[T].kept) == 5
    writer.acked(Ack(TOPIC, "r", 7, (), 200), 0.2)
    assert writer.topics[T].readers == {"r": 7}


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    drop=st.floats(0.0, 0.3),
    crashes=st.lists(st.floats(0.05, 4.0), max_size=4),
)
def test_a_reader_with_an_inbox_processes_every_message_exactly_once(
    seed: int, drop: float, crashes: list[float]
) -> None:
    """The reader's State (what it processed) and its inbox are stored together every
    0.1 s; it crashes at random times, losing what it processed since: restarted from
    the store, it processes every message exactly once, in order."""
    n = net(readers=1, drop=drop, seed=seed)
    n.readers["r0"] = ReliableReader("r0", 1, inbox=True)
    stored: tuple[list[int], object] = ([], [])
    epoch, next_commit = 1, 0.1
    for seq in range(1, 301):
        n.publish(seq)
        if seq % 20 == 0:
            n.run(n.now + 0.05)
    for crash in [*sorted(crashes), 30.0]:
        while n.now < crash:
            n.run(min(crash, next_commit))
            if n.now >= next_commit:  # the durable write: State and inbox in one record
                inbox = Inbox(n.readers["r0"])
                value = inbox.take()
                stored = (list(n.delivered.get("r0", [])), value)
                inbox.stored(value)
                next_commit = n.now + 0.1
        if crash < 30.0:  # kill -9: what was not stored is gone
            epoch += 1
            n.readers["r0"] = ReliableReader("r0", epoch, inbox=True)
            Inbox(n.readers["r0"]).restore(stored[1])
            n.delivered["r0"] = list(stored[0])
    assert n.delivered["r0"] == list(range(1, 301))


def test_a_stored_inbox_that_cannot_be_read_is_refused_naming_the_entry() -> None:
    inbox = Inbox(ReliableReader("r", inbox=True))
    inbox.restore([["w", TOPIC, 5, 10]])
    assert inbox.take() == [["w", TOPIC, 5, 10]]
    with pytest.raises(ValueError, match="not an inbox entry"):
        inbox.restore([["w", TOPIC, -1, 0]])
    with pytest.raises(ValueError, match="not a list"):
        inbox.restore({"w": 5})


def test_a_reliable_actor_under_the_harness() -> None:
    """The Harness runs a reliable Output as a site with no reliable reader of it would
    (nothing kept), and a reliable Input takes messages in order, holding one that comes
    early and asking for the one it lacks."""
    from reliable_actors import Commander, Executor

    from actors.testing import Harness

    commander = Harness(Commander)
    assert len(commander.feed("go", 100)) == 100
    assert commander.engine.reliable.writer.topics[b"cmd.out"].kept == {}  # type: ignore[union-attr]
    executor = Harness(Executor)
    executor.feed("command", 1, sender="commander")
    executor.feed_frames([b"cmd.out", encode_envelope("commander", 3, executor.clock.wall_ns(), 3)])
    assert executor.state["last"] == 1  # 3 waits for 2
    asks = executor.advance(0.01)
    assert next(m.envelope.payload for m in asks if m.topic == "$sys.ack.commander")[:4] == [
        "cmd.out",
        "executor",
        1,
        [2],
    ]
    executor.feed_frames([b"cmd.out", encode_envelope("commander", 2, executor.clock.wall_ns(), 2)])
    assert executor.state["last"] == 3 and executor.state["out_of_order"] == 0


def test_an_outbox_stores_what_is_kept_and_a_new_process_goes_on_from_it(tmp_path: Path) -> None:
    """The writer's kept messages are rows added and removed with the State, in one
    transaction; a new process keeps them again and numbers on from the last one; a
    write by a process whose epoch was taken over changes nothing."""
    from actors.core.engine_reliable import WriterOutbox
    from actors.durability import StateStore, Superseded

    writer = ReliableWriter("w", {TOPIC: Reliability(max_deliver=2)})
    writer.journal = True
    writer.readers(TOPIC, ["r"])
    seq_out: dict[bytes, int] = {}
    outbox = WriterOutbox(writer, seq_out)
    store = StateStore(tmp_path / "state.db")
    epoch = store.claim("w")

    def write() -> None:
        add, gone = outbox.changes()
        store.write("w", epoch, 1, b"\x80", (add, gone))
        outbox.stored(outbox.take())

    for seq in range(1, 6):
        writer.sent(T, seq, b"m%d" % seq, 0.0)
    write()
    assert [r[1] for r in store.outbox("w")] == [1, 2, 3, 4, 5]
    writer.acked(Ack(TOPIC, "r", 2, (), 1), 0.0)  # 1 and 2 released
    writer.acked(Ack(TOPIC, "r", 2, (4,), 1), 1.0)
    writer.acked(Ack(TOPIC, "r", 2, (4,), 1), 2.0)  # 4 given up: max_deliver
    writer.sent(T, 6, b"m6", 2.0)
    write()
    assert [r[1] for r in store.outbox("w")] == [3, 5, 6]
    other = store.claim("w")  # another process takes the actor over
    writer.sent(T, 7, b"m7", 3.0)
    with pytest.raises(Superseded):
        write()
    assert [r[1] for r in store.outbox("w")] == [3, 5, 6]  # nothing of the refused write

    again = ReliableWriter("w", {TOPIC: Reliability()})
    numbers: dict[bytes, int] = {}
    restored = WriterOutbox(again, numbers)
    restored.restore({TOPIC: 6})
    restored.restore_rows(store.outbox("w"))
    assert list(again.topics[T].kept) == [3, 5, 6] and numbers == {T: 6}
    assert again.topics[T].kept[5].envelope == b"m5"
    with pytest.raises(ValueError, match="not a map of topic to number"):
        restored.restore([6])
    del other
    store.close()


def test_the_harness_runs_a_reliable_writer_on_its_fake_clock() -> None:
    """With readers said: kept until acknowledged, heartbeats while a reader lags, a
    message a reader asks for sent again, and a step that fills the window raises."""
    from reliable_actors import Commander, Flooder

    from actors.testing import Harness

    h = Harness(Commander)
    h.readers("command", ["x"])
    assert [m.envelope.seq for m in h.feed("go", 3)] == [1, 2, 3]
    beats = [m for m in h.advance(0.11) if m.topic == "$sys.hb.cmd.out"]
    assert [b.envelope.payload[2:] for b in beats] == [[1, 3]]
    ack = Ack("cmd.out", "x", 1, (2,), 7).encode()
    again = h.feed_frames([b"$sys.ack.commander", encode_envelope("x", 1, 0, ack)])
    assert [(m.topic, m.envelope.seq, m.envelope.payload) for m in again] == [("cmd.out", 2, 2)]
    h.feed_frames(
        [b"$sys.ack.commander", encode_envelope("x", 2, 0, Ack("cmd.out", "x", 3, (), 7).encode())]
    )
    assert h.engine.reliable.writer.topics[b"cmd.out"].kept == {}  # type: ignore[union-attr]

    flood = Harness(Flooder)
    flood.readers("number", ["x"])
    with pytest.raises(WindowFull, match="has 50 messages"):
        flood.feed("go", 51)
