"""Starting child processes: forked by the zygote, or spawned plainly (shell).

One path for every start (an actor, the broker, a swap's new version): a batch
goes to the zygote, and when the zygote fails the spawner falls back to plain
spawning for good (a new zygote would be a fork of this process, which has
threads by then). Each started process is watched through its pidfd on the
event loop; its exit calls the *on_exit* handler given with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psutil

from actors.keys import KEYS_STDIN, ClientKeys, hand_keys
from actors.process import PARENT_ENV
from supervisor.children import Child, ChildProcess
from supervisor.loop import EventLoop, Priority
from supervisor.zygote import Zygote, ZygoteError


class Spawner(Protocol):
    """What supervision needs to start processes (a fake one starts none, in tests)."""

    def spawn(self, children: Sequence[Child], on_exit: Callable[[Child], None]) -> None:
        """Start *children*; call *on_exit(child)* from the loop when one exits."""

    def watch(self, child: Child, on_exit: Callable[[Child], None]) -> None:
        """Call *on_exit(child)* when *child*'s present process exits (instead of before)."""

    def owns(self, pid: int) -> bool:
        """Whether *pid* is a helper process of the spawner itself (the zygote)."""

    @property
    def forks(self) -> bool:
        """Whether children are forked by the zygote (their orphans are then ours)."""


class _Forked:
    """A process the zygote forked and the supervisor adopted: waited for by pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                # Not adopted yet (killed before the zygote's go-between exited): its
                # status went to the go-between; the orphan reaper collects the rest.
                self.returncode = -signal.SIGKILL
        return self.returncode


class PidfdProcess(ChildProcess):
    """A real child process, signalled and watched through its pidfd (no pid reuse race).

    Each leads a process group of its own (a new session): what it started goes
    with it (:meth:`end_group`).
    """

    def __init__(self, proc: subprocess.Popen[bytes] | _Forked) -> None:
        self._proc = proc
        self.pid = proc.pid
        self.pidfd = os.pidfd_open(proc.pid)
        #: The process's peak resident memory, once reaped (KiB, from wait4).
        self.peak_rss_kib: int | None = None
        try:
            self.usage: psutil.Process | None = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            self.usage = None

    def end_group(self) -> None:
        """SIGKILL what is left of the exited process's group (the processes it started).

        Called before reaping: the exited leader, a zombie until then, keeps its
        group id from being reused. A descendant that left the group (a daemon
        that called setsid) is not reached; the supervisor reaps it if it is
        adopted (it is a subreaper).
        """
        if self._proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(self.pid) == self.pid:
                os.killpg(self.pid, signal.SIGKILL)

    def send_signal(self, sig: int) -> None:
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, sig)

    def wait(self) -> int:
        self.end_group()
        if self._proc.returncode is None:
            try:
                _, status, usage = os.wait4(self.pid, 0)
            except ChildProcessError:
                pass  # not ours to wait for (see _Forked.wait)
            else:
                self.peak_rss_kib = usage.ru_maxrss
                self._proc.returncode = os.waitstatus_to_exitcode(status)
        code = self._proc.wait()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        return code


class ProcessSpawner:
    """Starts children through the zygote when there is one, plainly otherwise."""

    def __init__(
        self,
        loop: EventLoop,
        zygote: Zygote | None,
        log: Any,
        keys: Callable[[Child], ClientKeys | None] = lambda child: None,
    ) -> None:
        self.loop = loop
        self.zygote = zygote
        self.log = log
        #: The keys a child gets at spawn (an actor's own on a secured site), or None.
        self.keys = keys

    def spawn(self, children: Sequence[Child], on_exit: Callable[[Child], None]) -> None:
        """Start *children* (forked by the zygote in one batch, or plainly)."""
        forked: list[int | None] = [None] * len(children)
        handed = [self.keys(c) for c in children]
        if self.zygote is not None:
            try:
                forked = list(
                    self.zygote.spawn_many(
                        [
                            (c.kind, c.name, c.arguments, hand_keys(k) if k else None)
                            for c, k in zip(children, handed, strict=True)
                        ]
                    )
                )
            except ZygoteError as exc:
                self.log.error("zygote failed; spawning plainly from now on", error=str(exc))
                self.close()
        for child, pid, keys in zip(children, forked, handed, strict=True):
            proc = PidfdProcess(_Forked(pid) if pid is not None else self._popen(child, keys))
            child.started(proc, self.loop.clock())
            self.watch(child, on_exit)

    def watch(self, child: Child, on_exit: Callable[[Child], None]) -> None:
        """Call *on_exit(child)* when *child*'s present process exits (instead of before)."""
        proc = child.proc
        assert isinstance(proc, PidfdProcess)

        def exited() -> None:
            self.loop.unwatch(proc.pidfd)
            on_exit(child)

        self.loop.watch(proc.pidfd, exited, Priority.EXIT)

    @staticmethod
    def _popen(child: Child, keys: ClientKeys | None) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env[PARENT_ENV] = str(os.getpid())
        proc = subprocess.Popen(
            [*child.argv, *child.arguments, *([KEYS_STDIN] if keys else [])],
            env=env,
            stdin=subprocess.PIPE if keys else subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        if keys is not None and proc.stdin is not None:
            # One short line: the pipe's buffer takes it whole, the child reads it at start.
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(json.dumps(hand_keys(keys)).encode() + b"\n")
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        return proc

    @property
    def forks(self) -> bool:
        """Whether children are forked by the zygote."""
        return self.zygote is not None

    def owns(self, pid: int) -> bool:
        """Whether *pid* is the zygote's."""
        return self.zygote is not None and pid == self.zygote.pid

    def close(self) -> None:
        """Stop the zygote; later starts spawn plainly."""
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
