"""Liveness in the shell: sample each running actor and kill the hung or greedy (shell).

Every watch interval, each running actor's heartbeat age, RSS and CPU go to
its pure :class:`~supervisor.core.liveness.LivenessWatch`; a violation kills
the actor (a hung one first gets SIGUSR1, so its faulthandler dumps every
thread's stack for the failure record) and supervision restarts it. Orphans
adopted by the supervisor (an actor's own subprocesses) are reaped here too.
"""

from __future__ import annotations

import os
import signal
from typing import Final

import psutil

from supervisor.children import Child
from supervisor.core.lifecycle import ChildState
from supervisor.core.liveness import Violation
from supervisor.spawner import Spawner
from supervisor.supervision import Supervision

#: Between SIGUSR1 (dump the stack) and SIGKILL of a hung actor.
STACK_GRACE: Final = 0.3
_REAP_INTERVAL: Final = 5.0


class Liveness:
    """Samples the running actors on the loop; kills those that break their limits."""

    def __init__(self, supervision: Supervision, spawner: Spawner) -> None:
        self.supervision = supervision
        self.loop = supervision.loop
        self.spawner = spawner
        self._next_reap = 0.0

    @property
    def interval(self) -> float:
        """Seconds between two samples."""
        return min(0.5, self.supervision.site.supervisor.heartbeat_interval)

    def start(self) -> None:
        """Sample from now on, every :attr:`interval`."""
        self.loop.after(self.interval, self.watch)

    def watch(self) -> None:
        """Kill actors that stopped sending heartbeats or broke a resource limit."""
        self.loop.after(self.interval, self.watch)
        now = self.loop.clock()
        # The supervisor is a subreaper: the subprocesses of an actor that ended
        # (killed with its group, or escaped from it) become ours to reap.
        if now >= self._next_reap:
            self._next_reap = now + _REAP_INTERVAL
            self.reap_orphans()
        for child in self.supervision.actors.values():
            if child.state is not ChildState.RUNNING or child.kill_kind or child.watch is None:
                continue
            violation = child.watch.heartbeat(now, max(child.heartbeat_at, child.ready_at))
            usage = child.proc.usage if child.proc is not None else None
            if violation is None and usage is not None:
                try:
                    with usage.oneshot():
                        rss = usage.memory_info().rss
                        cpu = usage.cpu_percent(None)
                except psutil.Error:
                    continue  # it is exiting; its pidfd will tell
                violation = child.watch.resources(now, rss, cpu)
            if violation is not None:
                self.kill(child, violation)

    def kill(self, child: Child, violation: Violation) -> None:
        """Kill *child* for *violation* (a hung one dumps its stacks first)."""
        child.kill_kind, child.kill_reason = violation.kind, violation.reason
        self.supervision.events.log.warning(
            "killing", actor=child.name, pid=child.pid, reason=violation.reason
        )
        if violation.kind != "hung":
            child.signal(signal.SIGKILL)
            return
        child.signal(signal.SIGUSR1)  # its faulthandler dumps every thread's stack
        pid = child.pid

        def kill() -> None:
            if child.pid == pid:
                child.signal(signal.SIGKILL)

        self.loop.after(STACK_GRACE, kill)

    def reap_orphans(self) -> None:
        """Reap adopted processes that are not ours (an actor's own subprocesses, orphaned)."""
        ours = {c.pid for c in self.supervision.all() if c.pid is not None}
        try:
            children = psutil.Process().children()
        except psutil.Error:
            return
        for proc in children:
            if proc.pid in ours or self.spawner.owns(proc.pid):
                continue
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(proc.pid, os.WNOHANG)
            except (psutil.Error, ChildProcessError):
                continue
