"""Calls and their resilience policies under the harness's fake clock (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from actors import (
    Actor,
    Breaker,
    Bulkhead,
    Call,
    CallError,
    DeclarationError,
    Fallback,
    Input,
    Output,
    Pending,
    Policy,
    RateLimit,
    Retry,
    State,
    Unavailable,
    service,
)
from actors.core.control_calls import CONTROL_SERVICE
from actors.core.resilience import ORDER, BreakerState, CircuitBreaker, PolicyError, TokenBucket
from actors.testing import NO_REPLY, Harness


class Thermostat(Actor):
    """Holds a set point and serves it."""

    setpoint = State(21.0, doc="The target temperature")

    @service("thermo.set", float, float, doc="Set the target; replies with the new one")
    def set_setpoint(self, value: float) -> float:
        if value > 40:
            raise ValueError("too hot")
        self.setpoint = value
        return value


def console(policy: Policy, timeout: float = 2.0) -> type[Actor]:
    """A caller of thermo.set with *policy*, blocking in its step."""

    class Console(Actor):
        """Asks the thermostat for a new set point on each target."""

        target = Input("console.target", float, doc="The wanted set point")
        got = State(0.0, doc="What the thermostat replied")
        errors = State([], doc="The kinds of the calls that failed")
        sp = Call(
            "thermo.set", float, float, doc="Change the set point", timeout=timeout, policy=policy
        )

        def step(self) -> None:
            try:
                self.got = self.sp(self.target)
            except CallError as exc:
                self.errors.append(exc.kind)

        def cold(self, request: float, error: CallError) -> float:
            return -1.0

    return Console


def test_a_call_crosses_to_a_served_harness_and_back() -> None:
    """The reply of the serving actor's handler is the caller's value; both sides count."""
    caller = Harness(console(Policy()))
    server = Harness(Thermostat, clock=caller.clock)
    caller.serve("thermo.set", server)
    caller.feed("target", 22.5)
    assert caller.state["got"] == 22.5
    assert server.state["setpoint"] == 22.5
    assert caller.actor.sp.statistics()["ok"] == 1
    assert server.engine.rpc.service_counts["set_setpoint"]["replied"] == 1


def test_a_handler_that_raises_answers_a_remote_error_and_keeps_running() -> None:
    """The caller gets kind 'remote' with the exception's type; the server goes on."""
    caller = Harness(console(Policy()))
    server = Harness(Thermostat, clock=caller.clock)
    caller.serve("thermo.set", server)
    caller.feed("target", 45.0)
    assert caller.state["errors"] == ["remote"]
    caller.feed("target", 20.0)
    assert caller.state["got"] == 20.0
    assert server.engine.rpc.service_counts["set_setpoint"]["errors"] == 1


def test_no_responders_fails_at_once_without_waiting() -> None:
    """No server in the directory: the call fails at once (the clock does not move)."""
    caller = Harness(console(Policy()))
    start = caller.clock.now
    caller.feed("target", 20.0)
    assert caller.state["errors"] == ["no_responders"]
    assert caller.clock.now == start


def test_a_call_with_no_answer_times_out_at_its_deadline() -> None:
    """A server that never answers: 'timeout' after exactly the call's timeout."""
    caller = Harness(console(Policy(), timeout=1.5))
    caller.serve("thermo.set", lambda request: NO_REPLY)
    start = caller.clock.now
    caller.feed("target", 20.0)
    assert caller.state["errors"] == ["timeout"]
    assert caller.clock.now - start == pytest.approx(1.5)
    assert caller.actor.sp.statistics()["resent"] > 0  # it asked again meanwhile


def test_retry_backs_off_with_jitter_within_bounds_and_honours_retry_after() -> None:
    """Three attempts: waits drawn in [d/2, d] of the doubling delay, and never shorter
    than the server's retry_after."""
    times: list[float] = []
    caller = Harness(console(Policy(retry=Retry(attempts=3, initial=0.1, maximum=1.0)), 10.0))

    def flaky(request: float) -> float:
        times.append(caller.clock.now)
        if len(times) < 3:
            raise Unavailable("warming up", retry_after=0.01 if len(times) == 1 else 0.7)
        return request

    caller.serve("thermo.set", flaky)
    caller.feed("target", 19.0)
    assert caller.state["got"] == 19.0
    first, second = times[1] - times[0], times[2] - times[1]
    assert 0.05 <= first <= 0.1  # retry 0: 0.1 s jittered over its upper half
    assert second == pytest.approx(0.7)  # retry 1 would be <= 0.2 s: retry_after wins
    assert caller.actor.sp.statistics()["retries"] == 2


def test_retry_stops_at_the_attempts_and_at_non_retryable_errors() -> None:
    """A remote error is not retried; 'unavailable' is, up to the attempts."""
    calls: list[float] = []
    caller = Harness(console(Policy(retry=Retry(attempts=4, initial=0.01)), 10.0))

    def down(request: float) -> float:
        calls.append(request)
        raise Unavailable("down")

    caller.serve("thermo.set", down)
    caller.feed("target", 1.0)
    assert caller.state["errors"] == ["unavailable"]
    assert len(calls) == 4
    caller.serve("thermo.set", lambda request: 1 / 0)
    caller.feed("target", 2.0)
    assert caller.state["errors"] == ["unavailable", "remote"]
    assert caller.actor.sp.statistics()["attempts"] == 5


def test_the_breaker_opens_half_opens_closes_and_opens_again() -> None:
    """closed -> open after the failure rate; open fails at once; half-open after
    open_for; a good probe closes it; later failures open it again; and a failing
    probe opens it straight back."""
    policy = Policy(breaker=Breaker(window=4, min_calls=2, failure_rate=0.5, open_for=2.0))
    caller = Harness(console(policy))
    healthy = [False]

    def server(request: float) -> float:
        if not healthy[0]:
            raise RuntimeError("broken")
        return request

    caller.serve("thermo.set", server)
    breaker = caller.engine.calls.lines["sp"].breaker
    assert breaker is not None
    caller.feed("target", 1.0)
    assert breaker.state is BreakerState.CLOSED
    caller.feed("target", 2.0)
    assert breaker.state is BreakerState.OPEN
    caller.feed("target", 3.0)  # refused without a request
    assert caller.state["errors"] == ["remote", "remote", "circuit_open"]
    assert len(caller.requests) == 2
    caller.advance(2.0)
    healthy[0] = True
    caller.feed("target", 4.0)  # the probe
    assert caller.state["got"] == 4.0
    assert breaker.state is BreakerState.CLOSED
    healthy[0] = False
    caller.feed("target", 5.0)
    caller.feed("target", 6.0)
    assert breaker.state is BreakerState.OPEN
    caller.advance(2.0)
    caller.feed("target", 7.0)  # a failing probe: open again at once
    assert breaker.state is BreakerState.OPEN
    events = [m.envelope.payload for m in caller.published if m.topic == "$sys.event"]
    assert [(e["from"], e["to"]) for e in events] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
    ]
    assert caller.actor.sp.statistics()["breaker_opened"] == 3


def test_a_half_open_breaker_whose_probe_never_answers_opens_again() -> None:
    """The probe's timeout counts as its failure: the breaker never stays half-open."""
    breaker = CircuitBreaker(Breaker(window=2, min_calls=1, open_for=1.0))
    assert breaker.allow(0.0) is None
    breaker.record(0.0, True, 0.1)
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow(0.5) == pytest.approx(0.5)
    assert breaker.allow(1.0) is None  # the probe
    assert breaker.allow(1.1) is not None  # one probe at a time
    breaker.record(3.0, True, 2.0)  # it timed out
    assert breaker.state is BreakerState.OPEN


def test_a_slow_call_rate_opens_the_breaker() -> None:
    """Calls slower than slow_call count against the slow rate."""
    breaker = CircuitBreaker(Breaker(window=3, min_calls=3, slow_call=0.5, slow_rate=0.6))
    for t in range(3):
        assert breaker.allow(float(t)) is None
        breaker.record(float(t), False, 0.9)
    assert breaker.state is BreakerState.OPEN


def test_rate_limit_on_calls_refuses_past_the_bucket() -> None:
    """Two tokens, one a second: the third call at once is rate_limited with retry_after."""
    caller = Harness(console(Policy(rate_limit=RateLimit(rate=1.0, burst=2))))
    caller.serve("thermo.set", lambda request: request)
    for value in (1.0, 2.0, 3.0):
        caller.feed("target", value)
    assert caller.state["errors"] == ["rate_limited"]
    caller.advance(1.0)
    caller.feed("target", 4.0)
    assert caller.state["got"] == 4.0
    bucket = TokenBucket(2.0, 1, now=0.0)
    assert bucket.take(0.0) is None
    assert bucket.take(0.1) == pytest.approx(0.4)  # 0.2 of a token saved: 0.8 / 2 per s


def test_bulkhead_limits_the_calls_in_flight() -> None:
    """With one place, a second call started while one waits fails with bulkhead_full."""

    class Starter(Actor):
        """Starts calls without waiting."""

        results = State([], doc="Finished calls")
        sp = Call("thermo.set", float, float, doc="Change it", policy=Policy(bulkhead=Bulkhead(1)))

        def go(self, value: float) -> Pending:
            return self.sp.start(value, callback=lambda p: self.results.append(p.error or p.value))

    caller = Harness(Starter)
    caller.serve("thermo.set", lambda request: request, delay=0.5)
    first = caller.actor.go(1.0)
    second = caller.actor.go(2.0)
    assert second.done and second.error is not None and second.error.kind == "bulkhead_full"
    assert not first.done
    caller.advance(1.0)  # the reply arrives; the callback runs between steps
    assert first.result() == 1.0
    assert caller.state["results"][-1] == 1.0
    assert caller.actor.go(3.0).done is False  # the place is free again


def test_fallback_gives_a_value_or_a_method_result() -> None:
    """A failed call ends in the fallback's value (or method) and is counted."""
    caller = Harness(console(Policy(fallback=Fallback(value=15.0))))
    caller.feed("target", 1.0)  # no responders
    assert caller.state["got"] == 15.0
    caller = Harness(console(Policy(fallback=Fallback(method="cold", on=("remote",)))))
    caller.feed("target", 1.0)  # no responders: not a kind the fallback takes
    assert caller.state["errors"] == ["no_responders"]
    caller.serve("thermo.set", lambda request: 1 / 0)
    caller.feed("target", 1.0)
    assert caller.state["got"] == -1.0
    assert caller.actor.sp.statistics()["fallbacks"] == 1


def test_a_nested_call_inherits_the_remaining_budget() -> None:
    """A handler's own call ends at the request's deadline, not at its own timeout."""

    class Relay(Actor):
        """Serves relay.set by calling thermo.set."""

        inner = Call("thermo.set", float, float, doc="The real one", timeout=30.0)

        @service("relay.set", float, float, doc="Set through the relay")
        def relay(self, value: float) -> float:
            result: float = self.inner(value)
            return result

    class Outer(Actor):
        """Calls the relay."""

        target = Input("outer.target", float, doc="Wanted")
        error = State("", doc="The kind of the failure")
        relay = Call("relay.set", float, float, doc="Through the relay", timeout=1.0)

        def step(self) -> None:
            try:
                self.relay(self.target)
            except CallError as exc:
                self.error = exc.kind

    outer = Harness(Outer)
    relay = Harness(Relay, clock=outer.clock)
    relay.serve("thermo.set", lambda request: NO_REPLY)
    outer.serve("relay.set", relay)
    start = outer.clock.now
    outer.feed("target", 1.0)
    # The relay's inner call gave up at the outer deadline (1 s), not after 30 s.
    assert relay.actor.inner.statistics()["timeouts"] == 1
    assert outer.clock.now - start == pytest.approx(1.0, abs=0.01)


def test_site_toml_overrides_the_codes_policy() -> None:
    """[actors.NAME.calls.CALL] changes the timeout and the policy's parts."""
    cls = console(Policy(retry=Retry(attempts=1)), timeout=2.0)
    caller = Harness(cls, calls={"sp": {"timeout": 0.5, "retry": {"attempts": 3, "initial": 0.01}}})
    line = caller.engine.calls.lines["sp"]
    assert line.timeout == 0.5
    assert line.policy.retry is not None and line.policy.retry.attempts == 3
    attempts: list[float] = []
    caller.serve("thermo.set", lambda request: attempts.append(request) or NO_REPLY)
    caller.feed("target", 1.0)
    assert caller.state["errors"] == ["timeout"]
    assert caller.clock.now - 1_800_000_000.0 == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"retry": {"attempts": 0}}, "calls.sp.retry.attempts"),
        ({"retry": {"tries": 2}}, "calls.sp.retry.tries"),
        ({"breaker": {"failure_rate": 2}}, "calls.sp.breaker.failure_rate"),
        ({"attempt_timeout": 5.0}, "calls.sp.attempt_timeout"),
        ({"breaker": {"slow_call": 3.0}}, "calls.sp.breaker.slow_call"),
        ({"rate_limit": {"burst": 2}}, "calls.sp.rate_limit.rate"),
        ({"fallback": {"on": ["nonsense"]}}, "calls.sp.fallback.on"),
        ({"timeout": -1}, "calls.sp.timeout"),
        ({"color": 1}, "calls.sp.color"),
        ({"retry": 3}, "calls.sp.retry"),
    ],
)
def test_an_invalid_override_names_its_key(table: dict[str, Any], key: str) -> None:
    """Each bad key is refused with its full name."""
    with pytest.raises(PolicyError) as info:
        Harness(console(Policy()), calls={"sp": table})
    assert info.value.key == key
    with pytest.raises(PolicyError, match="declares no such Call"):
        Harness(console(Policy()), calls={"nope": {}})


def test_an_invalid_declared_policy_is_a_declaration_error() -> None:
    """The class itself cannot declare an impossible policy."""
    with pytest.raises(DeclarationError, match=r"sp.*policy timeout"):
        console(Policy(timeout=10.0), timeout=1.0)
    with pytest.raises(DeclarationError, match=r"fallback\.method 'nope'"):
        console(Policy(fallback=Fallback(method="nope")))


def test_the_order_is_documented() -> None:
    """The documented order of the parts is the one the code names."""
    import actors.core.resilience as module

    assert ORDER == (
        "fallback",
        "deadline",
        "retry",
        "breaker",
        "rate_limit",
        "bulkhead",
        "timeout",
    )
    assert " ".join(f"{part}(" for part in ORDER) in (module.__doc__ or "")


class Gauge(Actor):
    """Steps on every reading and republishes it, both sides rate-limited."""

    reading = Input(
        "gauge.in", float, doc="A reading", rate_limit=RateLimit(rate=2.0, burst=1, mode="drop")
    )
    shown = Output(
        "gauge.out",
        float,
        doc="The reading, at most twice a second",
        rate_limit=RateLimit(rate=2.0, burst=1, mode="latest"),
    )
    steps = State([], doc="The readings each step saw")

    def step(self) -> None:
        self.steps.append(self.reading)
        self.shown = self.reading


def test_an_input_rate_limit_drops_past_the_bucket_and_counts() -> None:
    """Two a second, burst one: of four readings at once, one steps, three are shed."""
    h = Harness(Gauge)
    for value in (1.0, 2.0, 3.0, 4.0):
        h.feed("reading", value)
    assert h.state["steps"] == [1.0]
    assert h.engine.limits.shed()["reading"] == 3
    h.advance(0.5)
    h.feed("reading", 5.0)
    assert h.state["steps"] == [1.0, 5.0]


def test_an_input_rate_limit_keeping_the_latest_steps_once_when_the_token_comes() -> None:
    """mode latest: the newest value waits for the next token, then one step sees it."""
    h = Harness(Gauge, rate_limits={"reading": {"mode": "latest"}, "shown": False})
    for value in (1.0, 2.0, 3.0):
        h.feed("reading", value)
    assert h.state["steps"] == [1.0]
    h.advance(0.5)
    assert h.state["steps"] == [1.0, 3.0]
    assert h.engine.limits.shed()["reading"] == 1  # 2.0 was replaced by 3.0 before its step


def test_an_output_rate_limit_publishes_the_latest_when_the_token_comes() -> None:
    """Readings spaced so the input passes but the output (latest) holds the newest."""
    h = Harness(Gauge, rate_limits={"reading": False})
    published: list[float] = []
    for value in (1.0, 2.0, 3.0):
        published += [m.envelope.payload for m in h.feed("reading", value)]
    assert published == [1.0]
    published += [m.envelope.payload for m in h.advance(0.5)]
    assert published == [1.0, 3.0]
    assert h.engine.limits.shed()["shown"] == 1


def test_a_rate_limit_override_is_checked() -> None:
    """A bad mode or an unknown variable names its key."""
    with pytest.raises(PolicyError) as info:
        Harness(Gauge, rate_limits={"reading": {"mode": "slow"}})
    assert info.value.key == "rate_limits.reading.mode"
    with pytest.raises(PolicyError) as info:
        Harness(Gauge, rate_limits={"nothing": {"rate": 1}})
    assert info.value.key == "rate_limits.nothing"
    with pytest.raises(DeclarationError, match="rate_limit"):

        class Bad(Actor):
            """Declares an impossible limit."""

            x = Input("x", float, doc="x", rate_limit=RateLimit(rate=0))


class Guard(Actor):
    """Asks a flaky service; gives up loudly once its breaker has opened."""

    target = Input("guard.in", float, doc="A set point to ask for")
    seen = State([], doc="What each call gave (its reply or its error kind)")
    sp = Call(
        "thermo.set",
        float,
        float,
        doc="Set it",
        policy=Policy(breaker=Breaker(window=4, min_calls=3, failure_rate=0.6, open_for=60.0)),
    )

    def step(self) -> None:
        try:
            self.seen.append(self.sp(self.target))
        except CallError as exc:
            self.seen.append(exc.kind)
            if exc.kind == "circuit_open":
                raise RuntimeError("the thermostat is gone") from exc


def flaky(request: float) -> float:
    if request > 10:
        raise RuntimeError("too warm")
    return request


def test_a_replay_gives_the_calls_their_recorded_outcomes_and_the_breaker_its_decision() -> None:
    """No server in the replay: each call gets what it got when recorded, so the breaker's
    refusal and the failure it caused come back, from the start or from the last event."""
    from actors.testing import replay

    h = Harness(Guard)
    h.serve("thermo.set", flaky)
    for value in (1.0, 20.0, 30.0):
        h.feed("target", value)
    assert h.state["seen"] == [1.0, "remote", "remote"]
    on_demand = h.snapshot()
    again = replay(on_demand)
    assert again.state["seen"] == [1.0, "remote", "remote"]
    with pytest.raises(RuntimeError, match="gone") as info:
        h.feed("target", 2.0)
    snap = h.engine.keeper.snapshot("exception", info.value)
    assert snap.events[snap.failed_event].payload == 2.0  # the message, not the call after it
    assert [e.kind for e in snap.events].count("call") == 4
    with pytest.raises(RuntimeError, match="gone"):
        replay(snap)
    with pytest.raises(RuntimeError, match="gone"):
        replay(snap, last_only=True)


class Collector(Actor):
    """Starts a call per input; its callback keeps the answers."""

    target = Input("collector.in", float, doc="A value to send")
    answers = State([], doc="Replies and errors, in the order they came")
    sp = Call("thermo.set", float, float, doc="Set it")

    def step(self) -> None:
        self.sp.start(self.target, callback=self.got)

    def got(self, pending: Pending) -> None:
        self.answers.append(pending.error.kind if pending.error else pending.value)


def test_a_replay_runs_the_callbacks_of_calls_started_without_waiting_where_they_ran() -> None:
    """Calls started from steps, answered later: the callbacks replay in place."""
    from actors.testing import replay

    h = Harness(Collector)
    h.serve("thermo.set", flaky, delay=0.5)
    h.feed("target", 1.0)
    h.feed("target", 20.0)
    h.advance(1.0)
    h.feed("target", 3.0)
    h.advance(1.0)
    assert h.state["answers"] == [1.0, "remote", 3.0]
    again = replay(h.snapshot())
    assert again.state["answers"] == [1.0, "remote", 3.0]
    snap = h.snapshot()
    from actors.core.snapshot import Snapshot

    assert Snapshot.from_dict(snap.to_dict()).events == snap.events  # call and reply events


def test_a_server_drops_a_request_past_its_deadline_and_answers_a_retry_from_its_cache() -> None:
    """A request whose deadline has passed runs nothing and gets no reply (counted
    'expired'); a second request with the same caller and key gets the first reply
    again without running the handler (counted 'cached')."""
    from actors.core.calls import SERVICE_PREFIX, decode_reply, request_payload
    from actors.core.wire import encode_envelope

    server = Harness(Thermostat)
    topic = (SERVICE_PREFIX + "thermo.set").encode()
    now_ns = server.clock.wall_ns()

    def request(seq: int, rid: int, deadline_ns: int, key: int, value: float) -> list[Any]:
        payload = request_payload(rid, deadline_ns, key, None, value)
        return [
            m.envelope.payload
            for m in server.feed_frames([topic, encode_envelope("caller", seq, now_ns, payload)])
        ]

    assert request(1, 10, now_ns - 1, 1, 30.0) == []
    assert server.state["setpoint"] == 21.0
    first = request(2, 11, now_ns + 10**9, 2, 25.0)
    assert server.state["setpoint"] == 25.0
    again = request(3, 12, now_ns + 10**9, 2, 25.0)
    replies = [decode_reply(p) for p in first + again]
    assert [(r.id, r.ok, r.body) for r in replies if r] == [(11, True, 25.0), (12, True, 25.0)]
    counts = server.engine.rpc.service_counts["set_setpoint"]
    assert (counts["expired"], counts["replied"], counts["cached"]) == (1, 1, 1)


def test_a_request_with_an_outsized_key_or_shape_is_malformed() -> None:
    """A peer cannot make a server keep a megabyte key in its reply cache."""
    from actors.core.calls import MAX_KEY, SERVICE_PREFIX, request_payload
    from actors.core.wire import encode_envelope

    server = Harness(Thermostat)
    topic = (SERVICE_PREFIX + "thermo.set").encode()
    later = server.clock.wall_ns() + 10**9
    for seq, payload in enumerate(
        [
            request_payload(1, later, "k" * (MAX_KEY + 1), None, 22.0),
            request_payload(2, later, 1, "x" * (MAX_KEY + 1), 22.0),
            [1, later, 1.5, None, 22.0],
            {"id": 1},
        ],
        start=1,
    ):
        assert server.feed_frames([topic, encode_envelope("peer", seq, 0, payload)]) == []
    assert server.statistics().malformed == 4
    assert server.state["setpoint"] == 21.0


class Fragile(Actor):
    """A service whose failures are the actor's own (crash=True)."""

    @service("fragile.do", int, int, doc="Fails on zero", crash=True)
    def do(self, request: int) -> int:
        return 10 // request


def test_a_service_that_says_crash_fails_its_actor() -> None:
    """With crash=True the handler's exception escapes like a step's (snapshot, restart)."""
    from actors.core.calls import SERVICE_PREFIX, request_payload
    from actors.core.wire import encode_envelope

    h = Harness(Fragile)
    later = h.clock.wall_ns() + 10**9
    frames = [
        (SERVICE_PREFIX + "fragile.do").encode(),
        encode_envelope("caller", 1, 0, request_payload(1, later, 1, None, 0)),
    ]
    with pytest.raises(ZeroDivisionError):
        h.feed_frames(frames)


def test_a_time_window_breaker_forgets_old_failures() -> None:
    """window_seconds: failures older than the window no longer count."""
    breaker = CircuitBreaker(Breaker(window_seconds=10.0, min_calls=2, failure_rate=1.0))
    breaker.record(0.0, True, 0.1)
    breaker.record(11.0, True, 0.1)  # the first is out of the window: one call, too few
    assert breaker.state is BreakerState.CLOSED
    breaker.record(12.0, True, 0.1)
    assert breaker.state is BreakerState.OPEN


class Sequencer(Actor):
    """Brings up a stage when told (control from inside the site)."""

    stage = Input("stage.go", str, doc="The actor to start")
    done = Output("stage.done", dict, doc="What the supervisor said")

    def step(self) -> None:
        try:
            self.done = self.enlil.start(self.stage, timeout=2.0)
        except CallError as exc:
            self.done = {"error": exc.kind}


def test_control_calls_go_to_the_supervisor_service_and_a_fake_can_answer_them() -> None:
    """Under the harness, ``self.enlil.start`` is a call to ``supervisor.control`` that a
    fake server answers; without control rights it is refused in the actor's own process;
    without a server it fails at once (``no_responders``), and user code cannot serve it."""
    h = Harness(Sequencer, control=True)
    assert h.feed("stage.go", "pump")[-1].envelope.payload == {"error": "no_responders"}
    h.serve(CONTROL_SERVICE, lambda request: {"name": request["actor"], "state": "running"})
    assert h.feed("stage.go", "pump")[-1].envelope.payload == {"name": "pump", "state": "running"}
    assert h.requests[-1] == (CONTROL_SERVICE, {"op": "start", "actor": "pump"})
    plain = Harness(Sequencer)
    assert plain.feed("stage.go", "pump")[-1].envelope.payload == {"error": "forbidden"}
    with pytest.raises(DeclarationError, match="are the supervisor's"):

        class Impostor(Actor):
            @service(CONTROL_SERVICE, dict, dict, doc="Pretends to be the supervisor")
            def serve(self, request: dict[str, Any]) -> dict[str, Any]:
                return request


class Forwarder(Actor):
    """Serves fwd.set by calling thermo.set (a handler that calls)."""

    inner = Call("thermo.set", float, float, doc="The thermostat's set point", timeout=10.0)

    @service("fwd.set", float, float, doc="Set the thermostat's target through this actor")
    def forward(self, value: float) -> float:
        result: float = self.inner(value)
        return result


def test_the_harness_calls_the_actors_own_service() -> None:
    """``h.call`` sends a request to the actor under test's own service and returns the
    reply's value; errors come back as a caller sees them on the wire."""
    h = Harness(Thermostat)
    assert h.call("thermo.set", 22.5) == 22.5
    assert h.state["setpoint"] == 22.5
    with pytest.raises(CallError, match="too hot") as info:
        h.call("thermo.set", 45.0)
    assert info.value.kind == "remote" and info.value.type == "ValueError"
    with pytest.raises(CallError) as wrong:
        h.call("thermo.set", "warm")
    assert wrong.value.kind == "rejected"
    with pytest.raises(LookupError, match=r"serves no 'thermo.get' \(it serves: thermo.set\)"):
        h.call("thermo.get")


def test_a_handler_that_calls_waits_on_the_fake_clock() -> None:
    """The handler's own call is answered by a fake server 2 s later on the fake clock."""
    h = Harness(Forwarder)
    h.serve("thermo.set", lambda value: value, delay=2.0)
    began = h.clock.now
    assert h.call("fwd.set", 19.0) == 19.0
    assert h.clock.now - began == pytest.approx(2.0)
    assert set(h.requests) == {("thermo.set", 19.0)}  # sent again while it waited
