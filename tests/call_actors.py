"""Actors that serve and call services, for the multi-process tests of calls."""

from __future__ import annotations

import time
from typing import Any

from actors import (
    Actor,
    Breaker,
    Call,
    CallError,
    Input,
    Output,
    Pending,
    Policy,
    Retry,
    State,
    service,
)


class SetPoint(Actor):
    """Holds a set point and serves it; a request may ask the handler to be slow."""

    setpoint = State(21.0, doc="The target")
    runs = State(0, doc="How often the set handler ran")
    handled = Output("sp.handled", int, doc="The n of each request the set handler ran for")
    busy = Output("sp.busy", float, doc="The set handler starts sleeping this long")

    @service("sp.set", dict, float, doc="Set the target from {value, n?, sleep?}; the new one")
    def set_setpoint(self, request: dict[str, Any]) -> float:
        if request.get("sleep"):
            self.enlil.send("busy", float(request["sleep"]))
            time.sleep(float(request["sleep"]))  # a slow server, as asked
        self.runs += 1
        self.setpoint = float(request["value"])
        if "n" in request:
            self.enlil.send("handled", int(request["n"]))
        return self.setpoint

    @service("sp.runs", object, int, doc="How often the set handler ran")
    def get_runs(self, request: object) -> int:
        return self.runs


class Relay(Actor):
    """Serves relay.set by calling sp.set, with a long timeout of its own."""

    inner = Call("sp.set", dict, float, doc="The set point itself", timeout=30.0)
    waited = Output("relay.waited", dict, doc="How long the inner call took and how it ended")

    @service("relay.set", dict, float, doc="Set the target through the relay")
    def relay(self, request: dict[str, Any]) -> float:
        start = time.monotonic()
        try:
            value: float = self.inner(request)
        except CallError as exc:
            self.enlil.send("waited", {"seconds": time.monotonic() - start, "kind": exc.kind})
            raise
        self.enlil.send("waited", {"seconds": time.monotonic() - start, "kind": "ok"})
        return value


class Asker(Actor):
    """Makes the call a question names, and publishes how it went."""

    question = Input("ask.in", dict, doc="{call, request, id}")
    answer = Output("ask.out", dict, doc="{id, ok, value | kind, message, elapsed}")
    sp = Call("sp.set", dict, float, doc="Set the target", timeout=30.0)
    runs = Call("sp.runs", object, int, doc="How often the server's handler ran", timeout=5.0)
    retried = Call(
        "sp.set",
        dict,
        float,
        doc="Set the target, retrying attempts that time out",
        timeout=20.0,
        policy=Policy(
            timeout=0.3, retry=Retry(attempts=20, initial=0.05, maximum=0.2), breaker=Breaker()
        ),
    )
    once = Call("sp.set", dict, float, doc="Set the target, one short try", timeout=0.3)
    ghost = Call("ghost.call", object, object, doc="A service nobody serves", timeout=30.0)
    relay = Call("relay.set", dict, float, doc="Set the target through the relay", timeout=1.0)

    def step(self) -> None:
        question = self.question
        call = getattr(self, question["call"])
        start = time.monotonic()
        try:
            value = call(question["request"])
        except CallError as exc:
            self.answer = {
                "id": question.get("id"),
                "ok": False,
                "kind": exc.kind,
                "message": exc.message,
                "elapsed": time.monotonic() - start,
            }
            return
        self.answer = {
            "id": question.get("id"),
            "ok": True,
            "value": value,
            "elapsed": time.monotonic() - start,
        }


class Streamer(Actor):
    """Starts one call per step without waiting, until it has started as many as asked."""

    period = 0.01
    go = Input("stream.go", int, doc="How many calls to make in all", default=0)
    result = Output("stream.result", dict, doc="{n, value} or {n, error} of each call")
    started = State(0, doc="Calls started")
    sp = Call(
        "sp.set",
        dict,
        float,
        doc="Set the target",
        timeout=20.0,
        policy=Policy(retry=Retry(attempts=50, initial=0.05, maximum=0.5)),
    )

    def step(self) -> None:
        if self.started < self.go:
            self.started += 1
            n = self.started
            self.sp.start({"value": float(n), "n": n}, callback=self._done)

    def _done(self, pending: Pending) -> None:
        request = pending.value
        if pending.error is not None:
            self.enlil.send(
                "result", {"error": pending.error.kind, "message": pending.error.message}
            )
        else:
            self.enlil.send("result", {"n": int(request)})


class OtherSetPoint(Actor):
    """A second server of sp.set (not declared as a group)."""

    @service("sp.set", dict, float, doc="Set the target, again")
    def set_setpoint(self, request: dict[str, Any]) -> float:
        return float(request["value"])


class GroupMember(Actor):
    """One of a group serving pool.work."""

    @service("pool.work", int, int, doc="Double a number", group=True)
    def work(self, request: int) -> int:
        return 2 * request


class PoolUser(Actor):
    """Calls pool.work with the wrong types."""

    work = Call("pool.work", str, list, doc="Ask the pool")


class PoolAsker(Actor):
    """On a count, calls pool.work that many times (one after the other)."""

    count = Input("pool.count", int, doc="How many calls to make")
    results = Output("pool.results", list, doc="The replies, in order")
    work = Call("pool.work", int, int, doc="Ask the pool", timeout=10.0)

    def step(self) -> None:
        self.results = [self.work(i) for i in range(self.count)]


class Rogue(Actor):
    """Serves ghost.call (which the Asker calls), so that a checked broker lets it reply to
    the Asker: the tests forge its replies to the Asker's other calls with its key."""

    @service("ghost.call", object, object, doc="Answer anything with 'ghost'")
    def ghost(self, request: object) -> object:
        return "ghost"


class PoolPoller(Actor):
    """Calls pool.work every period (a steady stream of calls for the live graph)."""

    work = Call("pool.work", int, int, doc="Ask the pool", timeout=5.0)
    asked = State(0, doc="Calls made")

    def step(self) -> None:
        self.asked += 1
        self.work(self.asked)
