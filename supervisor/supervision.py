"""Supervision: starts children in order, turns exits into restarts, stops the site (shell).

This part owns the broker and the actor children, their start order and
``after`` lists, and the waiters of control requests on them. An exit becomes
an :class:`~supervisor.core.policy.ActorExited` event, the pure
:class:`~supervisor.core.policy.RestartPolicy` decides (ignore, restart the
group after a backoff, give up, escalate), and this part carries the decision
out. Shutdown stops each actor once its dependants have exited, the broker
last. It starts processes through a :class:`~supervisor.spawner.Spawner` and
schedules timeouts on the loop, so tests can drive it with a fake of each.
"""

from __future__ import annotations

import dataclasses
import json
import signal
from collections.abc import Callable
from typing import Any, Final

from actors.core.control import Exit
from actors.site import SiteConfig
from supervisor.children import Child, Waiter, actor_argv, broker_argv
from supervisor.core.lifecycle import AfterExit, ChildState, Goal, Order, Transition, after_exit
from supervisor.core.liveness import Limits, LivenessWatch
from supervisor.core.policy import (
    ActorExited,
    Escalate,
    GiveUp,
    Ignore,
    PolicyConfig,
    Restart,
    RestartPolicy,
)
from supervisor.core.protocol import encode_error, encode_result
from supervisor.core.site_events import (
    Escalated,
    Exited,
    GaveUp,
    Ready,
    Restarted,
    Restarting,
    ShuttingDown,
    Spawned,
    Stopped,
)
from supervisor.events import Events
from supervisor.loop import EventLoop
from supervisor.records import FailureRecords
from supervisor.spawner import Spawner

BROKER: Final = "broker"
_PROBE_INTERVAL: Final = 0.01


class Supervision:
    """The children of one site and what happens when they start, exit and stop."""

    def __init__(
        self,
        site: SiteConfig,
        loop: EventLoop,
        spawner: Spawner,
        events: Events,
        *,
        records: FailureRecords,
        reply: Callable[[bytes, bytes], None],
        policy: RestartPolicy | None = None,
    ) -> None:
        self.loop = loop
        self.spawner = spawner
        self.events = events
        self.records = records
        self.reply = reply
        self.policy = policy or RestartPolicy(PolicyConfig())
        self.broker = Child(BROKER, "broker", broker_argv(str(site.path)))
        self.actors: dict[str, Child] = {}
        self.order: list[str] = []
        self.dependants: dict[str, list[str]] = {}
        self.limits: dict[str, Limits] = {}
        self.site = site
        #: ``[actors.NAME]`` tables added at run time (``ctl add``), by name.
        self.added: dict[str, dict[str, Any]] = {}
        #: Why the site is shutting down ("" while it runs), and the supervisor's exit code.
        self.shutting_down = ""
        self.exit_code = 0
        #: (actor, "restart" or exit reason) -> count, for the site metrics.
        self.counts: dict[tuple[str, str], int] = {}
        #: Sends the broker readiness probe (set by the shell that owns the broker link).
        self.probe: Callable[[], None] = lambda: None
        #: Called with a child that exits while something else depends on it (a swap).
        self.exit_listeners: list[Callable[[Child], None]] = []
        #: Called with a removed child once it has exited (membership forgets it).
        self.on_removed: Callable[[Child], None] = lambda child: None
        #: Fault injection's spawn hop: what happens to this spawn of *child*: None (no
        #: fault), ("crash", 0) it fails, ("delay", seconds) it is slow.
        self.spawn_fault: Callable[[Child], tuple[str, float] | None] | None = None
        #: The site's counts of the fault rules limited per site (each spawn is given them).
        self.faults_used: Callable[[], dict[str, int]] | None = None

    # -- the site's children ---------------------------------------------------------

    def apply(self, site: SiteConfig, retained_readers: set[str]) -> None:
        """Take *site*'s actor settings: order, policy, limits; a Child for each new actor."""
        self.site = site
        self.order = site.start_order()
        self.policy.config = PolicyConfig.from_site(site)
        path = str(site.path)
        actors = {}
        for name in self.order:
            child = self.actors.get(name)
            if child is None:
                child = Child(name, "actor", actor_argv(name, path))
                if not site.actors[name].autostart:
                    child.order(Order.STOP)
                if name in self.added:
                    child.extra = ["--table", json.dumps(self.added[name])]
            child.class_path = site.actors[name].class_path
            child.after = site.actors[name].after
            child.retained = name in retained_readers
            actors[name] = child
        self.actors = actors
        self.dependants = {
            n: [m for m in self.order if n in self.actors[m].after] for n in self.order
        }
        self.limits = {name: Limits.from_site(site, name) for name in site.actors}

    def child(self, name: str) -> Child | None:
        """The broker or the actor called *name*."""
        return self.broker if name == BROKER else self.actors.get(name)

    def all(self) -> list[Child]:
        """The broker, then the actors in start order."""
        return [self.broker, *self.actors.values()]

    def count(self, name: str, kind: str) -> None:
        """Count one restart or exit of *name*, for the site metrics."""
        self.counts[name, kind] = self.counts.get((name, kind), 0) + 1

    # -- starting ------------------------------------------------------------------------

    def spawn(self, *children: Child) -> None:
        """Start *children* now."""
        if self.faults_used is not None:
            used = self.faults_used()
            for child in children:
                child.faults_used = used if child.kind == "actor" else {}
        self.spawner.spawn(children, self.exited)
        for child in children:
            self._started(child)
            if child.kind == "actor" and self.spawn_fault is not None:
                fault = self.spawn_fault(child)
                if fault is not None:
                    self._spawn_faulted(child, *fault)

    def _spawn_faulted(self, child: Child, kind: str, delay: float) -> None:
        """Fault injection at the spawn: the new process killed (a spawn that fails) or
        held stopped for *delay* seconds (a slow one: its readiness waits, and its ready
        timeout runs meanwhile)."""
        if kind == "crash":
            child.signal(signal.SIGKILL)
            return
        child.signal(signal.SIGSTOP)
        child.held = True
        pid = child.pid

        def go_on() -> None:
            if child.pid == pid and child.held:
                child.held = False
                child.signal(signal.SIGCONT)

        self.loop.after(delay, go_on)

    def _started(self, child: Child) -> None:
        if child.kind == "actor":
            child.watch = LivenessWatch(self.limits[child.name])
        self.events.emit(Spawned(actor=child.name, kind=child.kind, pid=child.pid))
        pid = child.pid
        self.loop.after(self.site.supervisor.ready_timeout, lambda: self._ready_timeout(child, pid))
        if child is self.broker:
            self._probe()

    def _probe(self) -> None:
        if self.broker.state is ChildState.STARTING:
            self.probe()
            self.loop.after(_PROBE_INTERVAL, self._probe)

    def _ready_timeout(self, child: Child, pid: int | None) -> None:
        if child.state is ChildState.STARTING and child.pid == pid:
            child.last_exit = f"not ready within {self.site.supervisor.ready_timeout:g}s"
            self.events.log.error("not ready in time; killing", actor=child.name, pid=pid)
            child.signal(signal.SIGKILL)

    def ready(self, child: Child) -> None:
        """*child* answered: it runs; its dependants may start."""
        child.move(Transition.READY)
        child.ready_at = self.loop.clock()
        self.policy.ready(child.name, child.ready_at)
        self.events.emit(
            Ready(
                actor=child.name,
                kind=child.kind,
                pid=child.pid,
                startup_ms=round((child.ready_at - child.started_at) * 1000, 1),
            )
        )
        if child.order(Order.READY) is Goal.RECOVER:
            self.events.emit(
                Restarted(actor=child.name, kind=child.kind, pid=child.pid, restarts=child.restarts)
            )
        self.answer(child)
        self.spawn_due()

    def blocked(self, child: Child) -> list[str]:
        """The actors of *child*'s ``after`` list that are not running."""
        return [d for d in child.after if self.actors[d].state is not ChildState.RUNNING]

    def spawn_due(self) -> None:
        """Start every wanted, stopped actor whose ``after`` actors are all running."""
        if self.shutting_down or self.broker.state is not ChildState.RUNNING:
            return
        due = [
            child
            for child in self.actors.values()
            if child.wanted and child.state is ChildState.STOPPED and not self.blocked(child)
        ]
        if due:
            self.spawn(*due)

    # -- exits and the restart policy -------------------------------------------------------

    def exited(self, child: Child) -> None:
        """*child*'s process has exited: record it, then restart, stop or escalate."""
        for listener in self.exit_listeners:
            listener(child)
        pid = child.pid
        code = child.reap()
        limit = self.limits[child.name].max_rss_mb if child.name in self.limits else None
        if code == Exit.MEMORY_LIMIT and limit is not None and not child.kill_kind:
            child.kill_kind = "limit"
            child.kill_reason = (
                f"limit: rss would exceed max_rss_mb = {limit:g} (the kernel refused an "
                f"allocation; peak {child.peak_rss_mb} MiB)"
            )
        event = ActorExited(
            name=child.name,
            at=self.loop.clock(),
            code=code if code >= 0 else None,
            signal=-code if code < 0 else None,
            commanded=child.state is ChildState.STOPPING and not child.kill_kind,
            reason=child.kill_reason
            or (
                child.last_exit
                if child.state is ChildState.STARTING and child.last_exit.startswith("not ready")
                else ""
            ),
        )
        child.last_exit = event.describe()
        params = self.site.actor_params(child.name) if child.name in self.site.actors else {}
        record = self.records.death(
            child, event, pid, self.loop.clock(), params=params, events=self.events
        )
        self.count(child.name, self._exit_kind(child, event))
        child.move(Transition.EXIT)
        if event.commanded:
            self.events.emit(
                Stopped(actor=child.name, kind=child.kind, pid=pid, exit=child.last_exit)
            )
        else:
            self.events.emit(
                Exited(
                    actor=child.name,
                    kind=child.kind,
                    pid=pid,
                    exit=child.last_exit,
                    code=event.code,
                    signal=event.signal,
                    record=record,
                )
            )
        after = after_exit(child.goal, event.commanded)
        child.order(Order.EXIT)
        if after is AfterExit.FORGET and not self.shutting_down:
            self.on_removed(child)
            return
        self.answer(child)
        if self.shutting_down:
            self.shutdown_step()
        elif child is self.broker:
            if not event.commanded:
                self._restart_broker(event)
        elif after is AfterExit.START_DUE:
            self.spawn_due()
        else:
            self._fail_early(child)
            self._decide(child, event)
            self.answer(child)  # not restarted (temporary, gave up): its waiters hear it now

    @staticmethod
    def _exit_kind(child: Child, event: ActorExited) -> str:
        if event.commanded:
            return "stopped"
        if child.kill_kind:
            return child.kill_kind
        return "normal" if event.normal else "killed" if event.signal is not None else "exit"

    def _decide(self, child: Child, event: ActorExited) -> None:
        running = [n for n, c in self.actors.items() if c.alive]
        decision = self.policy.exited(event, running)
        if isinstance(decision, Ignore):
            child.order(Order.STOP)
            self.events.log.info("not restarting", actor=child.name, why=decision.why)
        elif isinstance(decision, Restart):
            self._restart(child, decision)
        elif isinstance(decision, GiveUp):
            child.move(Transition.GIVE_UP)
            child.order(Order.STOP)
            self.events.emit(GaveUp(actor=child.name, kind=child.kind, reason=decision.reason))
        elif isinstance(decision, Escalate):
            self.events.emit(Escalated(actor=child.name, kind=child.kind, reason=decision.reason))
            self.exit_code = 1
            self.shutdown(decision.reason)

    def _restart_broker(self, event: ActorExited) -> None:
        """The broker under the same backoff and intensity as an actor; past it, the site
        stops (it cannot run without its broker)."""
        broker = self.broker
        if event.code == Exit.CANNOT_BIND and broker.restarts == 0 and not event.commanded:
            # Its first start: another process holds the address; trying again is noise.
            where = f"{self.site.broker.pub} and {self.site.broker.sub}"
            reason = f"broker.pub, broker.sub: cannot listen on {where} (address in use?)"
            self.events.emit(Escalated(actor=broker.name, kind=broker.kind, reason=reason))
            self.exit_code = Exit.CANNOT_BIND
            self.shutdown(reason)
            return
        decision = self.policy.exited(event)
        if not isinstance(decision, Restart):
            reason = decision.why if isinstance(decision, Ignore) else decision.reason
            if event.code == Exit.CANNOT_BIND:
                reason += (
                    f"; it could not bind {self.site.broker.pub} and {self.site.broker.sub} "
                    "(another process on the address? see the broker's log)"
                )
            self.events.emit(Escalated(actor=broker.name, kind=broker.kind, reason=reason))
            self.exit_code = 1
            self.shutdown(reason)
            return
        self._restart(broker, dataclasses.replace(decision, names=()))

    def _restart(self, failed: Child, decision: Restart) -> None:
        failed.restarts += 1
        self.count(failed.name, "restart")
        failed.order(Order.RECOVER)
        for name in decision.names:
            other = self.actors[name]
            if other is not failed and other.alive:
                other.order(Order.RESTART)  # restarted with the group, not counted as a failure
                self.terminate(other)
        failed.move(Transition.BACK_OFF)
        self.events.emit(
            Restarting(
                actor=failed.name,
                kind=failed.kind,
                attempt=decision.attempt,
                delay=round(decision.delay, 3),
                group=list(decision.names),
            )
        )

        def resume() -> None:
            if failed.state is not ChildState.BACKOFF:
                return
            failed.move(Transition.BACKOFF_OVER)
            if failed is not self.broker:
                self.spawn_due()
            elif not self.shutting_down:
                self.spawn(failed)  # the actors wait for it: they were not stopped

        self.loop.after(decision.delay, resume)

    def terminate(self, child: Child) -> None:
        """Ask *child* to stop (SIGTERM), and SIGKILL it if it has not after stop_timeout."""
        if not child.alive or child.state is ChildState.STOPPING:
            return
        child.move(Transition.TERMINATE)
        child.signal(signal.SIGTERM)
        pid = child.pid

        def kill() -> None:
            if child.pid == pid and child.state is ChildState.STOPPING:
                self.events.log.warning("did not stop in time; killing", actor=child.name, pid=pid)
                child.signal(signal.SIGKILL)

        self.loop.after(self.site.supervisor.stop_timeout, kill)

    # -- shutdown ------------------------------------------------------------------------------

    def shutdown(self, reason: str) -> None:
        """Stop every actor in reverse start order, then the broker."""
        if self.shutting_down:
            return
        self.shutting_down = reason
        self.events.log.info("site shutting down", reason=reason)
        self.events.emit(ShuttingDown(reason=reason))
        for child in self.actors.values():
            child.order(Order.STOP)
            if child.state is ChildState.BACKOFF:
                child.move(Transition.RESET)
        self.shutdown_step()

    def shutdown_step(self) -> None:
        """Stop each actor whose dependants have all exited; the broker goes last."""
        waiting = False
        for name, child in self.actors.items():
            if child.alive:
                waiting = True
                if not any(self.actors[d].alive for d in self.dependants[name]):
                    self.terminate(child)
        if not waiting and self.broker.alive:
            self.terminate(self.broker)

    @property
    def stopped(self) -> bool:
        """Whether the site has shut down (the broker, last to go, has exited)."""
        return bool(self.shutting_down) and not self.broker.alive

    # -- waiters of control requests ---------------------------------------------------------

    def wait_for(
        self,
        child: Child,
        identity: bytes,
        request_id: int,
        until: ChildState,
        *,
        early: bool = False,
    ) -> None:
        """Answer request *request_id* once *child* is *until* (or cannot get there; with
        *early*, at its first failed exit too)."""
        child.waiters.append(Waiter(identity, request_id, until, early))

    def _fail_early(self, child: Child) -> None:
        """*child* exited on its own: the early waiters hear it now."""
        keep = []
        for w in child.waiters:
            if w.early:
                message = f"actor {child.name!r} exited before it was ready ({child.last_exit})"
                self.reply(w.identity, encode_error(w.request_id, "failed", message))
            else:
                keep.append(w)
        child.waiters = keep

    def answer(self, child: Child) -> None:
        """Reply to the requests waiting on *child*: done, or failed if it cannot get there."""
        keep = []
        for w in child.waiters:
            if child.state is w.until:
                self.reply(
                    w.identity,
                    encode_result(w.request_id, child.status(self.loop.clock()).encode()),
                )
            elif child.state in (ChildState.STOPPED, ChildState.FAILED) and not child.wanted:
                self.reply(
                    w.identity,
                    encode_error(
                        w.request_id,
                        "failed",
                        f"actor {child.name!r} {child.state} ({child.last_exit})",
                    ),
                )
            elif self.shutting_down and w.until is ChildState.RUNNING:
                self.reply(
                    w.identity,
                    encode_error(
                        w.request_id,
                        "shutting_down",
                        f"the site is shutting down ({self.shutting_down})",
                    ),
                )
            else:
                keep.append(w)
        child.waiters = keep
