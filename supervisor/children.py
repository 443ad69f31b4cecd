"""Child processes of the supervisor: the broker and the actors (shell).

Each child is started as its own process group (so a Ctrl-C in the terminal
reaches only the supervisor, which then stops the children in order), with
``ENLIL_SUPERVISOR_PID`` set so that it dies with the supervisor. Its exit is
watched through a pidfd that the supervisor's event loop polls.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psutil

from actors.process import PARENT_ENV
from supervisor.core.liveness import LivenessWatch


class ChildState(StrEnum):
    """Where a child is in its life."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    BACKOFF = "backoff"
    FAILED = "failed"


class ForkedProcess:
    """A process the zygote forked and the supervisor adopted: waited for by pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self) -> int:
        """Reap the process; return its exit code (negative: the signal that killed it)."""
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                # Not adopted yet (killed before the zygote's go-between exited): its
                # status went to the go-between; the orphan reaper collects the rest.
                self.returncode = -signal.SIGKILL
        return self.returncode


@dataclass(eq=False)
class Waiter:
    """A control request waiting for a child to reach *until* (or to fail)."""

    identity: bytes
    request_id: int
    until: ChildState


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
    state: ChildState = ChildState.STOPPED
    want: bool = True
    proc: subprocess.Popen[bytes] | ForkedProcess | None = None
    pidfd: int = -1
    started_at: float = 0.0
    ready_at: float = 0.0
    restarts: int = 0
    then: str = ""
    last_exit: str = ""
    heartbeat: dict[str, Any] = field(default_factory=dict)
    heartbeat_at: float = 0.0
    waiters: list[Waiter] = field(default_factory=list)
    kill_kind: str = ""
    kill_reason: str = ""
    restarting: bool = False
    watch: LivenessWatch | None = None
    process: psutil.Process | None = None
    #: Being removed from the site (``ctl remove``, ``ctl reload``); run once it is gone.
    removing: bool = False
    on_removed: Callable[[], None] | None = None

    @property
    def arguments(self) -> list[str]:
        """What follows ``NAME --config PATH`` on the process's command line."""
        return [*self.extra, *(["--retained"] if self.retained else [])]

    @property
    def pid(self) -> int | None:
        """The running process's pid, if any."""
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        """Whether a process of this child exists (starting, running or stopping)."""
        return self.proc is not None

    def spawn(self, forked_pid: int | None = None) -> None:
        """Start the process (or adopt *forked_pid* from the zygote); the caller
        registers :attr:`pidfd` with its poller."""
        if forked_pid is not None:
            self.proc = ForkedProcess(forked_pid)
        else:
            env = dict(os.environ)
            env[PARENT_ENV] = str(os.getpid())
            self.proc = subprocess.Popen(
                [*self.argv, *self.arguments],
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.state = ChildState.STARTING
        self.started_at = time.monotonic()
        self.ready_at = 0.0
        self.heartbeat = {}
        self.heartbeat_at = 0.0
        self.kill_kind = self.kill_reason = ""
        try:
            self.process = psutil.Process(self.proc.pid)
        except psutil.NoSuchProcess:
            self.process = None

    def signal(self, sig: int) -> None:
        """Send *sig* to the process, if it still exists."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, sig)

    def reap(self) -> int:
        """Collect the exited process; return its returncode (negative: killed by signal)."""
        assert self.proc is not None
        code = self.proc.wait()
        os.close(self.pidfd)
        self.pidfd = -1
        self.proc = None
        self.process = None
        return code

    def status(self, now: float) -> dict[str, Any]:
        """The record ``ctl status`` shows for this child."""
        return {
            "name": self.name,
            "kind": self.kind,
            "class": self.class_path,
            "state": str(self.state),
            "pid": self.pid,
            "restarts": self.restarts,
            "uptime": round(now - self.started_at, 3) if self.alive else None,
            "last_exit": self.last_exit or None,
            "stats": self.heartbeat.get("stats", {}),
            "heartbeat_age": round(now - self.heartbeat_at, 3) if self.heartbeat_at else None,
            "metrics": self.heartbeat.get("metrics", {}),
            "topics": self.heartbeat.get("topics", {}),
            "inputs": self.heartbeat.get("inputs", {}),
        }


def actor_argv(name: str, config_path: str) -> list[str]:
    """Command line of an actor started by plain spawn."""
    return [sys.executable, "-m", "actors", name, "--config", config_path]


def broker_argv(config_path: str) -> list[str]:
    """Command line of the broker."""
    return [sys.executable, "-m", "broker", "--config", config_path]
