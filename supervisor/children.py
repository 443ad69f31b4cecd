"""Child processes of the supervisor: the broker and the actors (shell).

What the supervisor knows about each child; the processes themselves are
started by :mod:`supervisor.spawner` (each in its own process group, so a
Ctrl-C in the terminal reaches only the supervisor, which then stops the
children in order; with ``ENLIL_SUPERVISOR_PID`` set, so that it dies with the
supervisor), which watches each exit through a pidfd.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import psutil

from actors.core.control import Heartbeat
from supervisor.core.detection import counters_of
from supervisor.core.lifecycle import (
    WANTED,
    ChildState,
    Goal,
    Order,
    Transition,
    next_goal,
    next_state,
)
from supervisor.core.liveness import LivenessWatch
from supervisor.core.status import ChildStatus


class ChildProcess(Protocol):
    """A started process as supervision sees it (:mod:`supervisor.spawner` makes real ones)."""

    pid: int
    #: Where the process's CPU and memory are read (None: not measurable).
    usage: psutil.Process | None

    def send_signal(self, sig: int) -> None:
        """Send *sig*, if the process has not been reaped."""

    def wait(self) -> int:
        """Reap the exited process: its exit code (negative: the signal that killed it)."""


@dataclass(eq=False)
class Waiter:
    """A control request waiting for a child to reach *until* (or to fail)."""

    identity: bytes
    request_id: int
    until: ChildState
    #: Answer ``failed`` at the first exit before *until* (an actor's control call: it
    #: must hear of a crash at start, not wait out the restarts).
    early: bool = False


@dataclass(eq=False)
class Child:
    """One supervised process and what the supervisor knows about it."""

    name: str
    kind: str
    argv: list[str]
    class_path: str = ""
    after: tuple[str, ...] = ()
    #: Arguments after ``NAME --config PATH`` (a swap's new version: --swap, --class...).
    extra: list[str] = field(default_factory=list)
    #: Whether some Input reads a retained topic: the process then asks for their values.
    retained: bool = False
    #: The site's counts of its fault rules limited per site, at this spawn (rule index
    #: as text -> count; empty: none such, or none injected yet).
    faults_used: dict[str, int] = field(default_factory=dict)
    state: ChildState = ChildState.STOPPED
    #: What supervision wants of it (run it, leave it stopped, ...; see :class:`Goal`).
    goal: Goal = Goal.RUN
    proc: ChildProcess | None = None
    started_at: float = 0.0
    ready_at: float = 0.0
    restarts: int = 0
    last_exit: str = ""
    #: The last heartbeat of the present process (None: none yet).
    heartbeat: Heartbeat | None = None
    heartbeat_at: float = 0.0
    waiters: list[Waiter] = field(default_factory=list)
    kill_kind: str = ""
    kill_reason: str = ""
    #: Peak resident memory of the last process, once reaped (MiB; None: unknown).
    peak_rss_mb: float | None = None
    watch: LivenessWatch | None = None
    #: Run once it is gone, when it is being removed from the site (``ctl remove``, reload).
    on_removed: Callable[[], None] | None = None
    #: Its process is held stopped (SIGSTOP) by fault injection's slow spawn until it is
    #: continued: a condition of the process (reset at each spawn), not of the child's life.
    held: bool = False
    #: The counters of this actor's earlier processes, summed (see :meth:`totals`).
    carried: dict[str, int] = field(default_factory=dict)
    #: The last process reaped, and what its counters added to ``carried``: a heartbeat
    #: it sent just before it went (an injected crash) may come after its exit.
    last_pid: int | None = None
    last_added: dict[str, int] = field(default_factory=dict)

    @property
    def arguments(self) -> list[str]:
        """What follows ``NAME --config PATH`` on the process's command line."""
        used = ["--faults-used", json.dumps(self.faults_used)] if self.faults_used else []
        return [*self.extra, *(["--retained"] if self.retained else []), *used]

    @property
    def pid(self) -> int | None:
        """The running process's pid, if any."""
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        """Whether a process of this child exists (starting, running or stopping)."""
        return self.proc is not None

    @property
    def wanted(self) -> bool:
        """Whether supervision starts it when it is stopped (its goal is to run)."""
        return self.goal in WANTED

    @property
    def removing(self) -> bool:
        """Whether it is leaving the site."""
        return self.goal is Goal.REMOVE

    def move(self, transition: Transition) -> None:
        """Take *transition* (see :mod:`supervisor.core.lifecycle`)."""
        self.state = next_state(self.name, self.state, transition)

    def order(self, order: Order) -> Goal:
        """Change the goal by *order* (see :mod:`supervisor.core.lifecycle`); the goal it had."""
        before, self.goal = self.goal, next_goal(self.goal, order)
        return before

    def started(self, proc: ChildProcess, now: float) -> None:
        """*proc* is this child's new process, started at *now*."""
        self.proc = proc
        self.move(Transition.SPAWN)
        self.started_at = now
        self.ready_at = 0.0
        self.heartbeat = None
        self.heartbeat_at = 0.0
        self.kill_kind = self.kill_reason = ""
        self.held = False

    def signal(self, sig: int) -> None:
        """Send *sig* to the process, if it still exists (a process held stopped is
        continued after any other signal, so that it can act on it)."""
        if self.proc is not None:
            self.proc.send_signal(sig)
            if self.held and sig != signal.SIGSTOP:
                self.held = False
                self.proc.send_signal(signal.SIGCONT)

    def reap(self) -> int:
        """Collect the exited process; return its returncode (negative: killed by signal)."""
        assert self.proc is not None
        self.last_pid = self.proc.pid
        self.last_added = _counters(self.heartbeat)
        for key, n in self.last_added.items():
            self.carried[key] = self.carried.get(key, 0) + n
        code = self.proc.wait()
        peak = getattr(self.proc, "peak_rss_kib", None)
        self.peak_rss_mb = round(peak / 1024, 1) if peak else None
        self.proc = None
        return code

    def late_heartbeat(self, heartbeat: Heartbeat) -> None:
        """*heartbeat* came from the last process after it was reaped: its counters stand
        for that process in ``carried``."""
        for key, n in self.last_added.items():
            self.carried[key] -= n
        self.last_added = _counters(heartbeat)
        for key, n in self.last_added.items():
            self.carried[key] = self.carried.get(key, 0) + n

    def totals(self) -> dict[str, int]:
        """The summable counters over every process of this child since the site started
        (the current one's included): what fault detection holds the ledger against."""
        out = dict(self.carried)
        beat = self.heartbeat
        if self.proc is not None and beat is not None and beat.pid == self.proc.pid:
            for key, n in _counters(beat).items():
                out[key] = out.get(key, 0) + n
        return out

    def status(self, now: float) -> ChildStatus:
        """What ``ctl status`` shows for this child."""
        beat = self.heartbeat
        return ChildStatus(
            name=self.name,
            kind=self.kind,
            cls=self.class_path,
            state=str(self.state),
            pid=self.pid,
            restarts=self.restarts,
            uptime=round(now - self.started_at, 3) if self.alive else None,
            last_exit=self.last_exit or None,
            heartbeat_age=round(now - self.heartbeat_at, 3) if self.heartbeat_at else None,
            stats=beat.stats if beat else {},
            metrics=beat.metrics if beat else {},
            topics=beat.topics if beat else {},
            inputs=beat.inputs if beat else {},
            calls=beat.calls if beat else {},
            faults=beat.faults if beat else {},
            reliable=beat.reliable if beat else {},
            totals=self.totals(),
        )


def actor_argv(name: str, config_path: str) -> list[str]:
    """Command line of an actor started by plain spawn."""
    return [sys.executable, "-m", "actors", name, "--config", config_path]


def broker_argv(config_path: str) -> list[str]:
    """Command line of the broker."""
    return [sys.executable, "-m", "broker", "--config", config_path]


def _counters(beat: Heartbeat | None) -> dict[str, int]:
    """The summable counters of heartbeat *beat* (none without one)."""
    return counters_of(beat.stats, beat.calls) if beat is not None else {}
