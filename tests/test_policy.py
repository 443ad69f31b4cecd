"""The restart policy as a pure function of events."""

from __future__ import annotations

import random

import pytest

from supervisor.core.policy import (
    ActorExited,
    Escalate,
    GiveUp,
    Ignore,
    PolicyConfig,
    Restart,
    RestartPolicy,
)

ORDER = ("a", "b", "c")


def policy(**kw: object) -> RestartPolicy:
    """A policy over actors a, b, c with a seeded random generator."""
    config = PolicyConfig(order=ORDER, **kw)  # type: ignore[arg-type]
    return RestartPolicy(config, random.Random(1))


def crash(name: str, at: float, code: int = 70) -> ActorExited:
    """An abnormal exit."""
    return ActorExited(name=name, at=at, code=code)


@pytest.mark.parametrize(
    ("strategy", "failed", "group"),
    [
        ("one_for_one", "b", ("b",)),
        ("one_for_all", "b", ("a", "b", "c")),
        ("rest_for_one", "b", ("b", "c")),
        ("rest_for_one", "c", ("c",)),
    ],
)
def test_strategies_choose_the_group(strategy: str, failed: str, group: tuple[str, ...]) -> None:
    """Which actors restart together depends on the strategy and start order."""
    decision = policy(strategy=strategy).exited(crash(failed, 1.0), running=["a", "b", "c"])
    assert isinstance(decision, Restart)
    assert decision.names == group


@pytest.mark.parametrize(
    ("kind", "code", "restarts"),
    [
        ("permanent", 0, True),
        ("permanent", 70, True),
        ("transient", 0, False),
        ("transient", 70, True),
        ("temporary", 0, False),
        ("temporary", 70, False),
    ],
)
def test_restart_types(kind: str, code: int, restarts: bool) -> None:
    """permanent always, transient only abnormal, temporary never."""
    decision = policy(restart={"a": kind}).exited(crash("a", 1.0, code))
    assert isinstance(decision, Restart) is restarts
    if not restarts:
        assert isinstance(decision, Ignore)


def test_killed_by_signal_is_abnormal() -> None:
    """A transient actor killed by a signal is restarted."""
    event = ActorExited(name="a", at=1.0, signal=9)
    assert event.describe() == "killed by SIGKILL"
    assert isinstance(policy(restart={"a": "transient"}).exited(event), Restart)


def test_commanded_stop_never_counts() -> None:
    """A stop the operator asked for is ignored and leaves intensity untouched."""
    p = policy(max_restarts=1)
    for t in range(10):
        assert isinstance(p.exited(ActorExited("a", float(t), code=0, commanded=True)), Ignore)
    assert isinstance(p.exited(crash("a", 11.0)), Restart)


@pytest.mark.parametrize(("mode", "kind"), [("shutdown", Escalate), ("give_up", GiveUp)])
def test_intensity_escalates(mode: str, kind: type) -> None:
    """More than max_restarts within max_seconds escalates, per the actor's setting."""
    p = policy(max_restarts=3, max_seconds=10.0, escalate={"a": mode})
    for t in (0.0, 1.0, 2.0):
        assert isinstance(p.exited(crash("a", t)), Restart)
    decision = p.exited(crash("a", 3.0))
    assert isinstance(decision, kind)
    assert "'a' failed 4 times within 10s" in decision.reason  # type: ignore[union-attr]


def test_old_restarts_fall_out_of_the_window() -> None:
    """Restarts older than max_seconds do not count."""
    p = policy(max_restarts=2, max_seconds=5.0)
    for t in (0.0, 1.0, 7.0, 8.0, 14.0):
        assert isinstance(p.exited(crash("a", t)), Restart), t


def test_backoff_is_immediate_then_exponential_with_jitter_and_cap() -> None:
    """The first restart is immediate; then delays double, jittered, up to the cap."""
    p = policy(max_restarts=100, max_seconds=1000.0, backoff_initial=0.1, backoff_max=1.0)
    delays = []
    for t in range(8):
        d = p.exited(crash("a", float(t)))
        assert isinstance(d, Restart)
        delays.append(d.delay)
    assert delays[0] == 0.0
    for attempt, delay in enumerate(delays[1:], start=2):
        base = min(1.0, 0.1 * 2 ** (attempt - 2))
        assert base / 2 <= delay <= base


def test_a_stable_run_resets_the_backoff() -> None:
    """After running for max_seconds, the next failure restarts at once again."""
    p = policy(max_restarts=100, max_seconds=10.0)
    p.exited(crash("a", 0.0))
    second = p.exited(crash("a", 1.0))
    assert isinstance(second, Restart) and second.attempt == 2
    p.ready("a", 2.0)
    third = p.exited(crash("a", 20.0))
    assert isinstance(third, Restart) and third.attempt == 1 and third.delay == 0.0


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
@pytest.mark.parametrize("kind", ["permanent", "transient", "temporary"])
@pytest.mark.parametrize("escalate", ["shutdown", "give_up"])
@pytest.mark.parametrize("code", [0, 70, None])
def test_every_combination(strategy: str, kind: str, escalate: str, code: int | None) -> None:
    """Each strategy x restart type x escalation x exit kind, within and past intensity."""
    p = policy(
        strategy=strategy,
        max_restarts=2,
        max_seconds=10.0,
        restart={"b": kind},
        escalate={"b": escalate},
    )
    normal = code == 0
    decisions = []
    for t in range(4):
        event = ActorExited("b", float(t), code=code, signal=9 if code is None else None)
        decisions.append(p.exited(event, running=["a", "c"]))
    restarts = kind == "permanent" or (kind == "transient" and not normal)
    if not restarts:
        assert all(isinstance(d, Ignore) for d in decisions)
        return
    first, second, third, fourth = decisions
    expected = {"one_for_one": ("b",), "one_for_all": ("a", "b", "c"), "rest_for_one": ("b", "c")}[
        strategy
    ]
    assert isinstance(first, Restart) and first.names == expected and first.delay == 0.0
    assert isinstance(second, Restart) and second.delay > 0
    past = GiveUp if escalate == "give_up" else Escalate
    assert isinstance(third, past)
    assert isinstance(fourth, past)


def test_one_backoff_rule_for_restarts_and_reconnects() -> None:
    """Supervision and the HAL links share one rule: doubling, capped, jittered (upper half)."""
    from actors.core.backoff import exponential, jittered, next_delay

    assert [exponential(n, 0.1, 1.0) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    delays = [0.0]
    for _ in range(6):
        delays.append(next_delay(delays[-1], 0.1, 1.0))
    assert delays[1:] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])

    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    assert jittered(2.0, Fixed(0.0)) == 2.0
    assert jittered(2.0, Fixed(0.999)) == pytest.approx(1.001)
    seeded = [jittered(1.0, random.Random(7)) for _ in range(3)]
    assert seeded == [jittered(1.0, random.Random(7))] * 3
    assert all(0.5 < d <= 1.0 for d in seeded)
