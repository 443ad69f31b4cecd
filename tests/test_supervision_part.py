"""The supervision part alone: restart strategies with a fake spawner and a fake clock.

No process is started: the fake spawner hands out fake processes that record
the signals sent to them, and a test makes one exit when it likes. Timers
(backoff, stop timeouts) run on a clock the test advances. The same
strategies are also tested with real processes in ``test_supervision.py``.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from actors.site import SiteConfig, parse_site
from supervisor.children import Child
from supervisor.core.lifecycle import ChildState
from supervisor.core.policy import PolicyConfig, RestartPolicy
from supervisor.events import Events
from supervisor.loop import EventLoop
from supervisor.records import FailureRecords
from supervisor.supervision import Supervision


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeProcess:
    """A process that never ran: it records signals and exits when the test says."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.usage = None
        self.signals: list[int] = []
        self.code: int | None = None

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)

    def wait(self) -> int:
        assert self.code is not None, "reaped before it exited"
        return self.code


class FakeSpawner:
    """Starts fake processes with increasing pids; remembers whom to tell of an exit."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.pids = iter(range(100, 10_000))
        self.on_exit: dict[int, Callable[[Child], None]] = {}
        self.started: list[str] = []

    def spawn(self, children: Sequence[Child], on_exit: Callable[[Child], None]) -> None:
        for child in children:
            proc = FakeProcess(next(self.pids))
            child.started(proc, self.clock())
            self.on_exit[proc.pid] = on_exit
            self.started.append(child.name)

    def watch(self, child: Child, on_exit: Callable[[Child], None]) -> None:
        assert child.pid is not None
        self.on_exit[child.pid] = on_exit

    def owns(self, pid: int) -> bool:
        return False

    @property
    def forks(self) -> bool:
        return False


class Log:
    """Takes log calls and drops them."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class World:
    """A supervision part over a fake spawner and clock, and what it published."""

    def __init__(self, tmp_path: Path, strategy: str, restart: dict[str, str]) -> None:
        data: dict[str, Any] = {
            "site": {"name": "fake", "run_dir": str(tmp_path / "run")},
            "supervisor": {
                "strategy": strategy,
                "max_restarts": 3,
                "max_seconds": 10,
                "backoff_initial": 0.5,
                "backoff_max": 4.0,
            },
            "actors": {
                "a": {"class": "m:A", "restart": restart.get("a", "permanent")},
                "b": {"class": "m:B", "after": ["a"], "restart": restart.get("b", "permanent")},
                "c": {"class": "m:C", "after": ["b"], "restart": restart.get("c", "permanent")},
            },
        }
        site: SiteConfig = parse_site(data, tmp_path / "site.toml")
        self.clock = FakeClock()
        self.loop = EventLoop(self.clock)
        self.spawner = FakeSpawner(self.clock)
        self.events: list[dict[str, Any]] = []
        self.replies: list[tuple[bytes, bytes]] = []
        self.sup = Supervision(
            site,
            self.loop,
            self.spawner,
            Events(Log(), lambda topic, payload: self.events.append(payload), lambda: True),
            records=FailureRecords(tmp_path / "snapshots", 5),
            reply=lambda identity, body: self.replies.append((identity, body)),
            # No jitter: the delays are exact under the fake clock.
            policy=RestartPolicy(PolicyConfig(), rng=_NoJitter()),
        )
        self.sup.apply(site, set())
        self.sup.spawn(self.sup.broker)
        self.sup.ready(self.sup.broker)
        for name in self.sup.order:
            self.beat(name)

    def child(self, name: str) -> Child:
        return self.sup.actors[name]

    def proc(self, name: str) -> FakeProcess:
        proc = self.child(name).proc
        assert isinstance(proc, FakeProcess)
        return proc

    def beat(self, name: str) -> None:
        """The actor's first heartbeat: it is ready."""
        child = self.child(name)
        assert child.state is ChildState.STARTING
        self.sup.ready(child)

    def exit(self, name: str, code: int) -> None:
        """The actor's process exits with *code* (negative: killed by that signal)."""
        proc = self.proc(name)
        proc.code = code
        self.spawner.on_exit[proc.pid](self.child(name))

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.loop.run_timers()

    def kinds(self, kind: str) -> list[str]:
        return [e["actor"] for e in self.events if e.get("event") == kind]


class _NoJitter:
    def random(self) -> float:
        return 0.0


def test_one_for_one_restarts_only_the_failed_actor(tmp_path: Path) -> None:
    """one_for_one: b crashes; only b is started again, at once, with the others untouched."""
    w = World(tmp_path, "one_for_one", {})
    pids = {n: w.child(n).pid for n in "abc"}
    w.exit("b", 70)
    assert w.child("b").state is ChildState.BACKOFF
    w.advance(0)  # the first restart is immediate
    assert w.child("b").state is ChildState.STARTING
    assert w.child("b").pid != pids["b"]
    assert [w.child(n).pid for n in "ac"] == [pids["a"], pids["c"]]
    assert w.proc("a").signals == [] and w.proc("c").signals == []
    w.beat("b")
    assert w.kinds("restarted") == ["b"]
    assert w.sup.counts[("b", "restart")] == 1


def test_one_for_all_stops_the_others_and_restarts_them_all(tmp_path: Path) -> None:
    """one_for_all: b crashes; a and c get SIGTERM and start again with b, in order."""
    w = World(tmp_path, "one_for_all", {})
    w.exit("b", 70)
    assert w.proc("a").signals == [signal.SIGTERM]
    assert w.proc("c").signals == [signal.SIGTERM]
    w.exit("c", 0)
    w.exit("a", 0)
    assert w.kinds("stopped") == ["c", "a"]
    w.advance(0)
    # a starts first; b and c wait for their after lists.
    assert w.child("a").state is ChildState.STARTING
    assert w.child("b").state is ChildState.STOPPED
    w.beat("a")
    w.beat("b")
    w.beat("c")
    assert all(w.child(n).state is ChildState.RUNNING for n in "abc")
    # Only b's crash counts against the intensity; the others went with it.
    assert w.sup.counts.get(("a", "restart")) is None
    assert w.sup.counts[("b", "restart")] == 1


def test_rest_for_one_restarts_the_failed_and_those_after_it(tmp_path: Path) -> None:
    """rest_for_one: b crashes; c (started after b) goes with it, a does not."""
    w = World(tmp_path, "rest_for_one", {})
    w.exit("b", 70)
    assert w.proc("a").signals == []
    assert w.proc("c").signals == [signal.SIGTERM]
    w.exit("c", 0)
    w.advance(0)
    w.beat("b")
    w.beat("c")
    assert w.child("a").restarts == 0
    assert w.child("b").restarts == 1


def test_backoff_grows_under_the_fake_clock_then_escalates(tmp_path: Path) -> None:
    """Crash after crash: immediate, then 0.5 s, 1 s; the fourth within 10 s shuts the site."""
    w = World(tmp_path, "one_for_one", {})
    delays = []
    for _ in range(3):
        w.exit("c", 70)
        delays.append(w.events[-1]["delay"])
        w.advance(w.events[-1]["delay"])
        assert w.child("c").state is ChildState.STARTING
        w.beat("c")
    assert delays == [0.0, 0.5, 1.0]
    w.exit("c", 70)
    assert w.kinds("escalated") == ["c"]
    assert w.sup.exit_code == 1
    assert w.sup.shutting_down
    # Shutdown order: c's dependants first; b (after a) goes before a.
    assert w.proc("b").signals == [signal.SIGTERM]
    assert w.proc("a").signals == []
    w.exit("b", 0)
    assert w.proc("a").signals == [signal.SIGTERM]
    w.exit("a", 0)
    assert w.sup.broker.proc is not None
    assert w.sup.broker.proc.signals == [signal.SIGTERM]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("restart", "code", "restarted"),
    [
        ("permanent", 0, True),
        ("transient", 0, False),
        ("transient", 70, True),
        ("temporary", 70, False),
    ],
)
def test_restart_types(tmp_path: Path, restart: str, code: int, restarted: bool) -> None:
    """permanent always, transient after an abnormal exit only, temporary never."""
    w = World(tmp_path, "one_for_one", {"c": restart})
    w.exit("c", code)
    w.advance(0)
    assert (w.child("c").state is ChildState.STARTING) is restarted
    assert w.child("c").wanted is restarted


def test_stop_timeout_kills_with_sigkill(tmp_path: Path) -> None:
    """A child that ignores SIGTERM gets SIGKILL after stop_timeout on the fake clock."""
    w = World(tmp_path, "one_for_one", {})
    w.sup.terminate(w.child("c"))
    assert w.proc("c").signals == [signal.SIGTERM]
    w.advance(w.sup.site.supervisor.stop_timeout - 0.01)
    assert w.proc("c").signals == [signal.SIGTERM]
    w.advance(0.02)
    assert w.proc("c").signals == [signal.SIGTERM, signal.SIGKILL]


def test_the_lifecycle_table_allows_only_its_transitions() -> None:
    """Every (state, transition) pair is either in the table or raises, naming both."""
    from supervisor.core.lifecycle import (
        TABLE,
        ChildState,
        IllegalTransition,
        Transition,
        next_state,
    )

    for state in ChildState:
        for transition in Transition:
            if (state, transition) in TABLE:
                assert next_state("a", state, transition) is TABLE[state, transition]
            else:
                with pytest.raises(
                    IllegalTransition, match=f"a: cannot {transition} while {state}"
                ):
                    next_state("a", state, transition)
    # A process exits only from a state that has one; only a stopped child is started.
    assert {s for s, t in TABLE if t is Transition.EXIT} == {
        ChildState.STARTING,
        ChildState.RUNNING,
        ChildState.STOPPING,
    }
    assert {s for s, t in TABLE if t is Transition.SPAWN} == {ChildState.STOPPED}


def test_a_restart_walks_the_table(tmp_path: Path) -> None:
    """A crash: running -> stopped -> backoff -> stopped -> starting -> running."""
    w = World(tmp_path, "one_for_one", {})
    seen = []
    child = w.child("c")
    original = child.move

    def move(transition: Any) -> None:
        original(transition)
        seen.append(str(child.state))

    child.move = move  # type: ignore[method-assign]
    w.exit("c", 70)
    w.advance(0.5)
    w.beat("c")
    assert seen == ["stopped", "backoff", "stopped", "starting", "running"]
