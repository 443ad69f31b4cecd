"""Actors used by the benchmarks (found through the bench folder on python_path)."""

from __future__ import annotations

import time

from actors import Actor, Input, Output, Param, State


class Source(Actor):
    """On a 'go' message with a count, publishes that many payloads as fast as it can."""

    go = Input("bench.go", int, doc="How many messages to send")
    data = Output("bench.data", bytes, doc="Benchmark payload")
    size = Param(64, doc="Payload size", unit="By")

    def step(self) -> None:
        """Runs in the source's process on each 'go'."""
        payload = b"x" * self.size
        send = self.enlil.send
        for _ in range(self.go):
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
