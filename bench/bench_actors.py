"""Actors used by the benchmarks (found through the bench folder on python_path)."""

from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field

import msgspec

from actors import (
    Actor,
    Breaker,
    Call,
    Input,
    Output,
    Pending,
    Policy,
    Reliability,
    Retry,
    State,
    service,
)


class Source(Actor):
    """On a 'go' message ``[count, size]``, publishes that many payloads as fast as it can."""

    go = Input("bench.go", list[int], doc="How many messages to send, and their size")
    data = Output("bench.data", bytes, doc="Benchmark payload")

    def step(self) -> None:
        """Runs in the source's process on each 'go'."""
        count, size = self.go
        payload = b"x" * size
        send = self.enlil.send
        for _ in range(count):
            send("data", payload)


class Sink(Actor):
    """Counts payloads; reports the first-to-last time once it has seen 'expect' of them."""

    data = Input("bench.data", bytes, doc="Benchmark payload", default=b"")
    reset = Input("bench.reset", int, doc="Expect this many messages from now", default=0)
    done = Output("bench.done", dict, doc="Count and first-to-last receive time")
    armed = Output("bench.armed", int, doc="The count expected after a reset")
    count = State(0, doc="Payloads received since reset")
    expect = State(0, doc="Payloads expected")
    first = State(0, doc="perf_counter_ns of the first payload")

    def step(self) -> None:
        """Runs in the sink's process on each payload."""
        if self.enlil.trigger == "reset":
            self.expect, self.count = self.reset, 0
            self.armed = self.expect
            return
        self.count += 1
        if self.count == 1:
            self.first = time.perf_counter_ns()
        if self.count == self.expect:
            self.done = {"count": self.count, "ns": time.perf_counter_ns() - self.first}


class Pinger(Actor):
    """Sends pings one at a time and measures each round trip through a Ponger."""

    start = Input("rt.start", int, doc="How many round trips to make")
    pong = Input("rt.pong", int, doc="A ping coming back", default=0)
    ping = Output("rt.ping", int, doc="A ping, numbered")
    result = Output("rt.result", list, doc="Round-trip times in nanoseconds")
    left = State(0, doc="Round trips still to make")
    sent_at = State(0, doc="perf_counter_ns of the ping in flight")

    def step(self) -> None:
        """Runs in the pinger's process on a start or a pong."""
        now = time.perf_counter_ns()
        if self.enlil.trigger == "start":
            # Measurements, not state: kept out of the flight recorder's copies.
            self.left, self.times = self.start, []
        else:
            self.times.append(now - self.sent_at)
            self.left -= 1
            if self.left == 0:
                self.result = self.times
                return
        self.sent_at = time.perf_counter_ns()
        self.ping = self.left


class Ponger(Actor):
    """Sends every ping straight back."""

    ping = Input("rt.ping", int, doc="A ping")
    pong = Output("rt.pong", int, doc="The same ping, back")

    def step(self) -> None:
        """Runs in the ponger's process on each ping."""
        self.pong = self.ping


class Chatter(Actor):
    """Publishes a count every period and counts what its neighbour publishes."""

    heard = Input("chat.in", int, doc="The neighbour's count", default=0)
    said = Output("chat.out", int, doc="This actor's count")
    count = State(0, doc="Messages published")
    received = State(0, doc="Messages heard")
    period = 0.1

    def step(self) -> None:
        """Runs every period and on each message heard."""
        if self.enlil.trigger == "heard":
            self.received += 1
            return
        self.count += 1
        self.said = self.count


class Idle(Actor):
    """Does nothing; for measuring the cost of an idle actor."""

    nothing = Input("idle.in", int, doc="Never published")


class RetainedSource(Source):
    """The Source, with its output retained: the supervisor keeps the last payload."""

    data = Output("bench.data", bytes, doc="Benchmark payload", retained=True)


class Stream(Actor):
    """Publishes 1, 2, 3... on bench.stream, `go` of them every millisecond."""

    go = Input("bench.stream.go", int, doc="How many per millisecond (0 stops)", default=0)
    n = Output("bench.stream", int, doc="The next number")
    sent = State(0, doc="Numbers sent")
    period = 0.001
    step_on_input = False

    def step(self) -> None:
        """Runs every millisecond."""
        for _ in range(self.go):
            self.sent += 1
            self.enlil.send("n", self.sent)


class Follower(Actor):
    """Publishes each number it gets (what a swap must not lose or double)."""

    n = Input("bench.stream", int, doc="A number")
    echo = Output("bench.echo", int, doc="The number, processed")
    count = State(0, doc="Numbers processed")

    def step(self) -> None:
        """Runs on each number."""
        self.count += 1
        self.echo = self.n


class BigSink(Sink):
    """A Sink that also keeps a 10,000-entry table, changed by every payload.

    What the flight recorder copies grows with such a memory; its cost per
    message must not (bench/recorder.py).
    """

    table = State(None, doc="10,000 entries, one updated per payload", type=object)

    def on_start(self) -> None:
        """Runs in the sink's process before the first message."""
        self.table = {i: i for i in range(10_000)}

    def step(self) -> None:
        """Runs in the sink's process on each payload."""
        super().step()
        self.table[self.count % 10_000] = self.count


class EchoServer(Actor):
    """Serves bench.echo: the request back."""

    @service("bench.echo", int, int, doc="The request, back")
    def echo(self, request: int) -> int:
        """Runs in the server's process on each request."""
        return request


class CallPinger(Actor):
    """On ``[count, window]``: that many lock-step calls (each timed), then that many
    pipelined ones with *window* in flight; publishes the times and the rate."""

    start = Input("cb.start", list[int], doc="How many calls, and how many in flight")
    result = Output("cb.result", dict, doc="Lock-step call times (ns) and pipelined calls/s")
    echo = Call(
        "bench.echo",
        int,
        int,
        doc="The echo server",
        timeout=5.0,
        policy=Policy(timeout=2.0, retry=Retry(attempts=2), breaker=Breaker()),
    )

    def step(self) -> None:
        """Runs in the pinger's process on a start."""
        count, window = self.start
        times = []
        lock_start = time.perf_counter_ns()
        for i in range(count):
            began = time.perf_counter_ns()
            self.echo(i)
            times.append(time.perf_counter_ns() - began)
        lock_ns = time.perf_counter_ns() - lock_start
        # Measurements, not state: kept out of the flight recorder's copies.
        self.run = {"count": count, "started": 0, "done": 0, "failed": 0, "times": times}
        self.run["lock_ns"] = lock_ns
        self.run["t0"] = time.perf_counter_ns()
        for _ in range(min(window, count)):
            self._next()

    def _next(self) -> None:
        run = self.run
        run["started"] += 1
        self.echo.start(run["started"], callback=self._done)

    def _done(self, pending: Pending) -> None:
        run = self.run
        run["done"] += 1
        run["failed"] += pending.error is not None
        if run["started"] < run["count"]:
            self._next()
        elif run["done"] == run["count"]:
            seconds = (time.perf_counter_ns() - run["t0"]) / 1e9
            self.enlil.send(
                "result",
                {
                    "times": run["times"],
                    "lock_per_s": run["count"] / (run["lock_ns"] / 1e9),
                    "pipelined_per_s": run["count"] / seconds,
                    "failed": run["failed"],
                },
            )


class DurableSink(Sink):
    """A Sink whose step changes durable State at every message (bytes received so far)."""

    received = State(0, doc="Bytes received, kept across restarts", durable=True)

    def step(self) -> None:
        """Runs in the sink's process on each payload."""
        super().step()
        if self.enlil.trigger == "data":
            self.received += len(self.data)


class CountingSink(Sink):
    """The DurableSink's step without durability: the baseline that isolates its cost."""

    received = State(0, doc="Bytes received")

    def step(self) -> None:
        """Runs in the sink's process on each payload."""
        super().step()
        if self.enlil.trigger == "data":
            self.received += len(self.data)


class UnboundCallPinger(CallPinger):
    """The same calls as they were before replies were bound to their server (#27): ids
    counted up by one, a reply taken from any sender. Patches its own process only, for
    the benchmark's baseline in the same run."""

    start = Input("cb0.start", list[int], doc="How many calls, and how many in flight")
    result = Output("cb0.result", dict, doc="Lock-step call times (ns) and pipelined calls/s")

    def on_start(self) -> None:
        """Runs in this actor's process before any call: today's caller, unbound."""
        from actors.core import caller

        counter = itertools.count(1)
        caller.Calls.new_id = lambda calls: next(counter)  # type: ignore[method-assign]
        caller.Calls._refusal = lambda calls, line, to, sender: ""  # type: ignore[method-assign]


class Axis(enum.Enum):
    """Which way a reading faces."""

    UP = "up"
    DOWN = "down"


@dataclass
class Point:
    """A point in 3-D space."""

    x: float = field(metadata={"doc": "along x", "unit": "m"})
    y: float = field(metadata={"doc": "along y", "unit": "m"})
    z: float = field(metadata={"doc": "along z", "unit": "m"})


@dataclass
class Reading:
    """A 10-field nested record: what the records benchmark sends."""

    stamp: int = field(metadata={"doc": "when", "unit": "ns"})
    frame: str = field(metadata={"doc": "the frame"})
    position: Point = field(metadata={"doc": "where"})
    velocity: Point = field(metadata={"doc": "how fast", "unit": "m/s"})
    axis: Axis = field(metadata={"doc": "which way it faces"})
    covariance: list[float] = field(metadata={"doc": "its uncertainty", "unit": "m^2"})
    quality: int = field(metadata={"doc": "how good, 0-100"})
    ok: bool = field(metadata={"doc": "whether it is valid"})
    note: str | None = field(default=None, metadata={"doc": "a remark"})
    seq: int = field(default=0, metadata={"doc": "its number"})


READING = Reading(
    stamp=1_700_000_000_000_000_000,
    frame="map",
    position=Point(1.5, -2.25, 0.125),
    velocity=Point(0.1, 0.2, 0.0),
    axis=Axis.UP,
    covariance=[0.01] * 6,
    quality=97,
    ok=True,
    note="calibrated",
    seq=42,
)
#: The same data as a map (what a site without records sends).
READING_MAP = msgspec.to_builtins(READING)


class RecordSource(Source):
    """The Source, publishing the 10-field record (the size in 'go' is ignored)."""

    data = Output("bench.record", Reading, doc="A reading")

    def step(self) -> None:
        """Runs in the source's process on each 'go'."""
        count, _ = self.go
        send = self.enlil.send
        for _ in range(count):
            send("data", READING)


class MapSource(Source):
    """The Source, publishing the same data as a map."""

    data = Output("bench.map", dict, doc="A reading as a map")

    def step(self) -> None:
        """Runs in the source's process on each 'go'."""
        count, _ = self.go
        send = self.enlil.send
        for _ in range(count):
            send("data", READING_MAP)


class RecordSink(Sink):
    """The Sink of records: each one decoded and checked against its type."""

    data = Input("bench.record", Reading, doc="A reading", default=None)


class MapSink(Sink):
    """The Sink of maps."""

    data = Input("bench.map", dict, doc="A reading as a map", default=None)


class ViewSink(Sink):
    """The Sink, taking each payload without a copy (a view of the received frame)."""

    data = Input("bench.data", memoryview, doc="Benchmark payload", default=b"")


class ReliableSource(Source):
    """The Source, on a reliable topic (kept until the Sink acknowledges it)."""

    data = Output(
        "bench.data",
        bytes,
        doc="Benchmark payload",
        reliable=Reliability(window=1_000_000, window_bytes=1024 * 1024 * 1024),
    )


class ReliableSink(Sink):
    """The Sink of a reliable topic: every message once, in order, acknowledged."""

    data = Input("bench.data", bytes, doc="Benchmark payload", default=b"", reliable=True)


class DurableReliableSource(ReliableSource):
    """The reliable Source with durable State: its messages are stored with it (its
    outbox) before they leave."""

    sent = State(0, doc="go messages taken", durable=True)

    def step(self) -> None:
        """Runs in the source's process on each 'go'."""
        self.sent += 1
        super().step()


class ReliablePinger(Pinger):
    """The Pinger, its pings and pongs on reliable topics."""

    pong = Input("rt.pong", int, doc="A ping coming back", default=0, reliable=True)
    ping = Output("rt.ping", int, doc="A ping, numbered", reliable=True)


class ReliablePonger(Ponger):
    """The Ponger, on reliable topics."""

    ping = Input("rt.ping", int, doc="A ping", reliable=True)
    pong = Output("rt.pong", int, doc="The same ping, back", reliable=True)


class DurablePonger(ReliablePonger):
    """The reliable Ponger with durable State: each pong is stored with it (one SQLite
    write per step) before it leaves, and its inbox with it."""

    pongs = State(0, doc="pings answered", durable=True)

    def step(self) -> None:
        """Runs in the ponger's process on each ping."""
        self.pongs += 1
        super().step()
