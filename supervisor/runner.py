"""The supervisor process: starts, watches, restarts and stops the site (shell).

One thread, one event loop over a ``zmq.Poller``: the control ROUTER socket,
the SUB socket on the broker (heartbeats, readiness probes), the signal
wakeup fd and one pidfd per child. Timers (backoff, ready and stop timeouts)
sit in a heap. Nothing here sleeps, so control requests are answered during
start-up, backoff and shutdown alike. What to do after an exit is decided by
the pure :class:`~supervisor.core.policy.RestartPolicy`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import heapq
import itertools
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import psutil
import zmq

from actors.core.topics import (
    SYS_CONTROL,
    SYS_EVENT,
    SYS_HEARTBEAT,
    SYS_REPLY,
    SYS_RETAINED,
    Pattern,
    TopicError,
    parse_pattern,
)
from actors.core.wire import WireError, decode_message, decode_topic
from actors.link import BrokerLink
from actors.logs import setup_logging
from actors.process import SignalWakeup, die_with_parent, remove_ipc_file
from actors.runtime import EXIT_FAILURE, SWAP_SUFFIX, recv_message
from actors.site import ConfigError, SiteConfig, file_etag, load_site
from actors.snapshots import list_snapshots
from supervisor.children import Child, ChildState, Waiter, actor_argv, broker_argv
from supervisor.core.design import ActorDecl, overlaps
from supervisor.core.liveness import Limits, LivenessWatch, Violation
from supervisor.core.policy import (
    ActorExited,
    Escalate,
    GiveUp,
    Ignore,
    PolicyConfig,
    Restart,
    RestartPolicy,
)
from supervisor.core.protocol import (
    ProtocolError,
    Request,
    decode_request,
    encode_error,
    encode_result,
    request_id,
)
from supervisor.prometheus import PrometheusEndpoint
from supervisor.records import has_snapshot, take_stack_dump, write_record
from supervisor.site import declared_actors, retained_topics
from supervisor.swap import (
    DONE,
    HANDING_OVER,
    STARTING,
    TAKING_OVER,
    Swap,
    etag,
    swap_arguments,
)
from supervisor.zygote import Zygote, ZygoteError

BROKER: Final = "broker"
_PROBE_INTERVAL: Final = 0.01
_STACK_GRACE: Final = 0.3  # between SIGUSR1 (dump the stack) and SIGKILL of a hung actor
_REQUEST_RETRY: Final = 1.0
_RETAINED_REQUEST: Final = SYS_RETAINED.encode()
_DRAIN: Final = 10_000  # broker messages handled before the loop looks at the rest
_SWAP_OPS: Final = frozenset({"standby", "handover", "takeover", "resume", "commit"})


class SiteLocked(RuntimeError):
    """Another supervisor already runs a site with this run directory."""


class Supervisor:
    """Runs one site until shutdown; :meth:`run` returns the exit code."""

    def __init__(
        self, site: SiteConfig, zygote: Zygote | None = None, decls: Iterable[ActorDecl] = ()
    ) -> None:
        self.site = site
        #: Topics (or families) of retained Outputs, and the last message seen on each topic.
        self.retained: list[Pattern] = []
        self.retained_cache: dict[bytes, bytes] = {}
        #: Actors with an Input on a retained topic.
        self.reads_retained: set[str] = set()
        self._take_decls(list(decls))
        self.logging = setup_logging(
            "supervisor",
            site.telemetry.log_level,
            otel_level=site.telemetry.otel_log_level,
            log_dir=site.site.run_dir / "logs",
        )
        self.log = self.logging.logger
        self.broker = Child(BROKER, "broker", broker_argv(str(site.path)))
        self.actors: dict[str, Child] = {}
        #: ``[actors.NAME]`` tables added at run time (``ctl add``), by name.
        self.added: dict[str, dict[str, Any]] = {}
        self.policy = RestartPolicy(PolicyConfig())
        self._apply_site(site)
        self.config_etag = file_etag(site.path)
        # Requests forwarded to actors on $sys.control.<name>, by our own id.
        self._forwarded: dict[int, tuple[bytes, int, Child, float]] = {}
        self._forward_ids = itertools.count(1)
        self.started = time.monotonic()
        self.shutting_down = ""
        self.exit_code = 0
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._tick = itertools.count()
        self._lock_fd = -1
        # Forked by the caller before this process imported any actor module or made a
        # ZeroMQ context (supervisor.zygote); None spawns plainly.
        self.zygote = zygote
        self._next_reap = 0.0
        #: (actor, "restart" or exit reason) -> count, for the site metrics.
        self.counts: dict[tuple[str, str], int] = {}
        self.metrics: Any = None
        self.prometheus: PrometheusEndpoint | None = None
        #: Hot swaps under way, by actor; processes of swapped-out versions, until they exit.
        self.swaps: dict[str, Swap] = {}
        #: Each actor's config version (``etag``) and what swaps changed of it.
        self.overrides: dict[str, dict[str, Any]] = {n: {} for n in site.actors}
        self.retiring: list[Child] = []
        self._swap_ids = itertools.count(1)

    def _apply_site(self, site: SiteConfig) -> None:
        """Take *site*'s actor settings: order, policy, limits; a Child for each new actor."""
        self.site = site
        cfg = site.supervisor
        self.order = site.start_order()
        self.policy.config = PolicyConfig(
            strategy=cfg.strategy,
            max_restarts=cfg.max_restarts,
            max_seconds=cfg.max_seconds,
            backoff_initial=cfg.backoff_initial,
            backoff_max=cfg.backoff_max,
            order=self.order,
            restart={n: a.restart for n, a in site.actors.items()},
            escalate={n: a.escalate for n, a in site.actors.items()},
        )
        path = str(site.path)
        actors = {}
        for name in self.order:
            child = self.actors.get(name)
            if child is None:
                child = Child(name, "actor", actor_argv(name, path))
                if name in self.added:
                    child.extra = ["--table", json.dumps(self.added[name])]
            child.class_path = site.actors[name].class_path
            child.after = site.actors[name].after
            child.retained = name in self.reads_retained
            actors[name] = child
        self.actors = actors
        self.dependants = {
            n: [m for m in self.order if n in self.actors[m].after] for n in self.order
        }
        self.limits = {
            name: Limits(
                hang_timeout=a.hang_timeout or cfg.hang_timeout,
                max_rss_mb=a.max_rss_mb,
                max_cpu_percent=a.max_cpu_percent,
                cpu_window=a.cpu_window,
            )
            for name, a in site.actors.items()
        }
        self.overrides = {n: getattr(self, "overrides", {}).get(n, {}) for n in site.actors}

    # -- timers ----------------------------------------------------------------

    def _after(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._tick), fn))

    def _run_timers(self) -> float:
        """Run due timers; return seconds until the next one (at most 1)."""
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            heapq.heappop(self._timers)[2]()
            now = time.monotonic()
        return min(1.0, self._timers[0][0] - now) if self._timers else 1.0

    # -- lifecycle -----------------------------------------------------------------

    def _lock(self) -> None:
        run_dir = self.site.site.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / "supervisor.pid", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise SiteLocked(
                f"site {self.site.site.name!r} is already running from {run_dir} "
                f"(supervisor pid {other})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            (self.site.site.run_dir / "supervisor.pid").unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def run(self) -> int:
        """Run the site until it is shut down; return 0, or 1 after an escalation."""
        # When a tool (or a test) runs the supervisor, it dies with that tool: SIGTERM, clean stop.
        die_with_parent(signal.SIGTERM)
        self._lock()
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
        self.control = ctx.socket(zmq.ROUTER)
        self.control.setsockopt(zmq.LINGER, 500)
        self.control.setsockopt(zmq.MAXMSGSIZE, 1 << 20)
        self.link = BrokerLink(
            ctx,
            self.site.broker.pub_connect,
            self.site.broker.sub_connect,
            "supervisor",
            # Retained topics too: the broker's readiness probe on this socket then proves
            # the cache subscribed before any actor starts and asks for its values.
            patterns=[
                SYS_HEARTBEAT + "*",
                SYS_REPLY + "*",
                SYS_RETAINED + "*",
                *(p.text for p in self.retained),
            ],
            reconnect_max_ms=0,  # the broker is starting right now: look every 10 ms
            hwm=self.site.broker.hwm,
        )
        self.poller = zmq.Poller()
        try:
            self.control.bind(self.site.supervisor.control)
            self.poller.register(self.control, zmq.POLLIN)
            self.poller.register(self.link.sub, zmq.POLLIN)
            self.poller.register(wakeup.fileno(), zmq.POLLIN)
            self.log.info(
                "site starting",
                site=self.site.site.name,
                config=str(self.site.path),
                control=self.site.supervisor.control,
            )
            self._start_metrics()
            if self.site.telemetry.prometheus:
                self.prometheus = PrometheusEndpoint(self.site.telemetry.prometheus)
                self.log.info("prometheus endpoint", address=self.prometheus.address)
            self._spawn(self.broker)
            self._after(self._watch_interval, self._watch)
            self._loop(wakeup)
        finally:
            if self.metrics is not None:
                self.metrics.shutdown()
            if self.prometheus is not None:
                self.prometheus.close()
            for child in (self.broker, *self.actors.values()):
                if child.alive:  # only after an internal error: never leave a child behind
                    child.signal(signal.SIGKILL)
                    child.reap()
            if self.zygote is not None:
                self.zygote.close()
                self.zygote = None
            self.link.close(linger_ms=200)
            self.control.close()
            ctx.term()
            wakeup.close()
            remove_ipc_file(self.site.supervisor.control)
            self._unlock()
        self.log.info("site stopped", reason=self.shutting_down, exit_code=self.exit_code)
        return self.exit_code

    def _loop(self, wakeup: SignalWakeup) -> None:
        while True:
            wait = self._run_timers()
            if self.shutting_down and not self.broker.alive:
                return
            events = dict(self.poller.poll(max(1, int(wait * 1000))))
            if wakeup.fileno() in events:
                for sig in wakeup.drain():
                    self.shutdown(f"received {signal.Signals(sig).name}")
            if self.link.sub in events:
                self._read_broker()
            if self.control in events:
                self._read_control()
            for child in [self.broker, *self.actors.values()]:
                if child.pidfd >= 0 and child.pidfd in events:
                    self._exited(child)
            for swap in list(self.swaps.values()):
                if swap.new.pidfd >= 0 and swap.new.pidfd in events:
                    self._swap_new_exited(swap)
            for child in list(self.retiring):
                if child.pidfd >= 0 and child.pidfd in events:
                    self._retired(child)

    # -- spawning and readiness ---------------------------------------------------

    @property
    def _watch_interval(self) -> float:
        return min(0.5, self.site.supervisor.heartbeat_interval)

    def _spawn(self, *children: Child) -> None:
        """Start *children*: forked by the zygote in one batch, or plainly."""
        forked: list[int | None] = [None] * len(children)
        if self.zygote is not None:
            try:
                forked = list(
                    self.zygote.spawn_many([(c.kind, c.name, c.arguments) for c in children])
                )
            except ZygoteError as exc:
                # A new zygote would be a fork of this process, which now has threads:
                # spawn plainly from here on.
                self.log.error("zygote failed; spawning plainly from now on", error=str(exc))
                self.zygote.close()
                self.zygote = None
        for child, pid in zip(children, forked, strict=True):
            self._started(child, pid)

    def _started(self, child: Child, forked: int | None) -> None:
        child.spawn(forked)
        if child.kind == "actor":
            child.watch = LivenessWatch(self.limits[child.name])
        self.poller.register(child.pidfd, zmq.POLLIN)
        self._event("spawned", child, pid=child.pid)
        pid = child.pid
        self._after(self.site.supervisor.ready_timeout, lambda: self._ready_timeout(child, pid))
        if child is self.broker:
            self._probe()

    def _probe(self) -> None:
        if self.broker.state is ChildState.STARTING:
            self.link.send_probe()
            self._after(_PROBE_INTERVAL, self._probe)

    def _ready_timeout(self, child: Child, pid: int | None) -> None:
        if child.state is ChildState.STARTING and child.pid == pid:
            child.last_exit = f"not ready within {self.site.supervisor.ready_timeout:g}s"
            self.log.error("not ready in time; killing", actor=child.name, pid=pid)
            child.signal(signal.SIGKILL)

    def _ready(self, child: Child) -> None:
        child.state = ChildState.RUNNING
        child.ready_at = time.monotonic()
        if child.kind == "actor":
            self.policy.ready(child.name, child.ready_at)
        self._event(
            "ready",
            child,
            pid=child.pid,
            startup_ms=round((child.ready_at - child.started_at) * 1000, 1),
        )
        if child.restarting:
            child.restarting = False
            self._event("restarted", child, pid=child.pid, restarts=child.restarts)
        self._answer(child)
        self._spawn_due()

    def _spawn_due(self) -> None:
        """Start every wanted, stopped actor whose ``after`` actors are all running."""
        if self.shutting_down or self.broker.state is not ChildState.RUNNING:
            return
        due = [
            child
            for child in self.actors.values()
            if child.want
            and child.state is ChildState.STOPPED
            and all(self.actors[d].state is ChildState.RUNNING for d in child.after)
        ]
        if due:
            self._spawn(*due)

    def _read_broker(self) -> None:
        sub = self.link.sub
        for _ in range(_DRAIN):
            frames = recv_message(sub)  # the runtime's fast receive: retained traffic may be heavy
            if frames is None:
                return
            if len(frames) == 2 and self._retained_message(frames[0], frames[1]):
                continue
            if self.link.is_probe(frames):
                if self.broker.state is ChildState.STARTING:
                    self._ready(self.broker)
                continue
            try:
                message = decode_message(frames)
            except WireError:
                continue
            if message.topic.startswith(SYS_REPLY):
                payload = message.envelope.payload
                if isinstance(payload, dict) and payload.get("op") in _SWAP_OPS:
                    self._swap_message(message.topic.removeprefix(SYS_REPLY), payload)
                else:
                    self._forwarded_reply(payload)
                continue
            if not message.topic.startswith(SYS_HEARTBEAT):
                continue
            name = message.topic.removeprefix(SYS_HEARTBEAT)
            child = self.broker if name == BROKER else self.actors.get(name)
            beat = message.envelope.payload
            if child is None or not isinstance(beat, dict) or beat.get("pid") != child.pid:
                continue  # a standalone copy, a tool, or an old incarnation
            child.heartbeat = beat
            child.heartbeat_at = time.monotonic()
            if child.state is ChildState.STARTING and child.kind == "actor":
                self._ready(child)

    def _retained_message(self, topic: bytes, envelope: bytes) -> bool:
        """Keep the last message of a retained topic; answer a starting actor's request."""
        if topic.startswith(_RETAINED_REQUEST):
            self._send_retained(topic, envelope)
            return True
        if not self.retained or topic.startswith(b"$"):
            return False
        try:
            text = decode_topic(topic)
        except WireError:
            return False
        if any(p.matches(text) for p in self.retained):
            self.retained_cache[topic] = envelope
            return True
        return False

    def _send_retained(self, topic: bytes, envelope: bytes) -> None:
        name = topic[len(_RETAINED_REQUEST) :].decode("utf-8", "replace")
        try:
            wanted = decode_message([topic, envelope]).envelope.payload
            patterns = [parse_pattern(p) for p in wanted]
        except (WireError, TopicError, TypeError, AttributeError):
            return
        messages = [
            [t, env]
            for t, env in self.retained_cache.items()
            if any(p.matches(t.decode()) for p in patterns)
        ]
        self.link.publish(SYS_CONTROL + name, {"op": "retained", "messages": messages})

    # -- exits and the restart policy ---------------------------------------------

    def _exited(self, child: Child) -> None:
        swap = self.swaps.get(child.name)
        if swap is not None and child.kind == "actor":
            swap.new.signal(signal.SIGKILL)
            self._swap_failed(swap, "the running version exited during the swap", resume=False)
        self.poller.unregister(child.pidfd)
        pid = child.pid
        code = child.reap()
        now = time.monotonic()
        event = ActorExited(
            name=child.name,
            at=now,
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
        record = self._record(child, event, pid)
        kind = (
            "stopped"
            if event.commanded
            else (
                child.kill_kind
                or ("normal" if event.normal else "killed" if event.signal is not None else "exit")
            )
        )
        self.counts[child.name, kind] = self.counts.get((child.name, kind), 0) + 1
        if event.commanded:
            child.state = ChildState.STOPPED
            self._event("stopped", child, pid=pid, exit=child.last_exit)
        else:
            self._event(
                "exited",
                child,
                pid=pid,
                exit=child.last_exit,
                code=event.code,
                signal=event.signal,
                record=record,
            )
            child.state = ChildState.STOPPED
        if child.removing and not self.shutting_down:
            self._forget(child)
            return
        self._answer(child)
        if self.shutting_down:
            self._shutdown_step()
            return
        if child is self.broker:
            if not event.commanded:
                child.restarts += 1
                self._event("restarting", child, attempt=child.restarts, delay=0.0)
                self._spawn(child)
            return
        then, child.then = child.then, ""
        if event.commanded:
            if then == "start":
                child.want = True
            self._spawn_due()
            return
        running = [n for n, c in self.actors.items() if c.alive]
        decision = self.policy.exited(event, running)
        if isinstance(decision, Ignore):
            child.want = False
            self.log.info("not restarting", actor=child.name, why=decision.why)
        elif isinstance(decision, Restart):
            self._restart(child, decision)
        elif isinstance(decision, GiveUp):
            child.state = ChildState.FAILED
            child.want = False
            self._event("gave_up", child, reason=decision.reason)
        elif isinstance(decision, Escalate):
            self._event("escalated", child, reason=decision.reason)
            self.exit_code = 1
            self.shutdown(decision.reason)

    def _record(self, child: Child, event: ActorExited, pid: int | None) -> str | None:
        """Write the supervisor-side record of an actor death it could not record itself."""
        snapshots = self.site.snapshots
        stack = take_stack_dump(snapshots.dir, child.name, pid or 0)
        if child.kind != "actor" or event.commanded or pid is None:
            return None
        if (
            not child.kill_kind
            and event.code == EXIT_FAILURE
            and has_snapshot(snapshots.dir, child.name, pid)
        ):
            return None  # the actor wrote its own failure snapshot
        now = time.monotonic()
        detail = {
            "exit": event.describe(),
            "code": event.code,
            "signal": event.signal,
            "uptime": round(now - child.started_at, 3),
            "last_heartbeat_age": round(now - child.heartbeat_at, 3)
            if child.heartbeat_at
            else None,
            "last_step": child.heartbeat.get("last_step"),
            "stats": child.heartbeat.get("stats", {}),
            "stack": stack or None,
        }
        reason = child.kill_kind or ("killed" if event.signal is not None else "exit")
        try:
            path = write_record(
                snapshots.dir,
                snapshots.keep,
                actor=child.name,
                class_path=child.class_path,
                pid=pid,
                reason=reason,
                detail=detail,
            )
        except OSError as exc:
            self.log.error("cannot write failure record", actor=child.name, error=str(exc))
            return None
        return str(path)

    # -- liveness --------------------------------------------------------------------

    def _reap_orphans(self) -> None:
        """Reap adopted processes that are not ours (an actor's own subprocesses, orphaned)."""
        ours = {c.pid for c in (self.broker, *self.actors.values()) if c.pid is not None}
        if self.zygote is not None:
            ours.add(self.zygote.pid)
        try:
            children = psutil.Process().children()
        except psutil.Error:
            return
        for proc in children:
            if proc.pid in ours:
                continue
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(proc.pid, os.WNOHANG)
            except (psutil.Error, ChildProcessError):
                continue

    def _watch(self) -> None:
        """Kill actors that stopped sending heartbeats or broke a resource limit."""
        self._after(self._watch_interval, self._watch)
        if self.prometheus is not None:
            self.prometheus.update(self.status(), dict(self.counts))
        now = time.monotonic()
        if self.zygote is not None and now >= self._next_reap:
            self._next_reap = now + 5.0
            self._reap_orphans()
        for child in self.actors.values():
            if child.state is not ChildState.RUNNING or child.kill_kind or child.watch is None:
                continue
            violation = child.watch.heartbeat(now, max(child.heartbeat_at, child.ready_at))
            if violation is None and child.process is not None:
                try:
                    with child.process.oneshot():
                        rss = child.process.memory_info().rss
                        cpu = child.process.cpu_percent(None)
                except psutil.Error:
                    continue  # it is exiting; its pidfd will tell
                violation = child.watch.resources(now, rss, cpu)
            if violation is not None:
                self._kill_for(child, violation)

    def _kill_for(self, child: Child, violation: Violation) -> None:
        child.kill_kind, child.kill_reason = violation.kind, violation.reason
        self.log.warning("killing", actor=child.name, pid=child.pid, reason=violation.reason)
        if violation.kind != "hung":
            child.signal(signal.SIGKILL)
            return
        child.signal(signal.SIGUSR1)  # its faulthandler dumps every thread's stack
        pid = child.pid

        def kill() -> None:
            if child.pid == pid:
                child.signal(signal.SIGKILL)

        self._after(_STACK_GRACE, kill)

    def _start_metrics(self) -> None:
        """Site-wide metrics, when the site exports telemetry."""
        telemetry = self.site.telemetry
        if not telemetry.otlp_endpoint:
            return
        from actors.telemetry import SiteMetrics, TracingConfig  # noqa: PLC0415 - only when used

        self.metrics = SiteMetrics(
            TracingConfig(
                endpoint=telemetry.otlp_endpoint,
                site=self.site.site.name,
                actor="supervisor",
                resource=telemetry.resource,
                protocol=telemetry.protocol,
            ),
            self.counts,
            interval=telemetry.metrics_interval,
        )

    def _restart(self, failed: Child, decision: Restart) -> None:
        failed.restarts += 1
        self.counts[failed.name, "restart"] = self.counts.get((failed.name, "restart"), 0) + 1
        failed.restarting = True
        for name in decision.names:
            other = self.actors[name]
            if other is not failed and other.alive:
                other.then = "start"  # restarted with the group, without counting as a failure
                self._terminate(other)
        failed.state = ChildState.BACKOFF
        self._event(
            "restarting",
            failed,
            attempt=decision.attempt,
            delay=round(decision.delay, 3),
            group=list(decision.names),
        )

        def resume() -> None:
            if failed.state is ChildState.BACKOFF:
                failed.state = ChildState.STOPPED
                self._spawn_due()

        self._after(decision.delay, resume)

    def _terminate(self, child: Child) -> None:
        """Ask *child* to stop (SIGTERM), and SIGKILL it if it has not after stop_timeout."""
        if not child.alive or child.state is ChildState.STOPPING:
            return
        child.state = ChildState.STOPPING
        child.signal(signal.SIGTERM)
        pid = child.pid

        def kill() -> None:
            if child.pid == pid and child.state is ChildState.STOPPING:
                self.log.warning("did not stop in time; killing", actor=child.name, pid=pid)
                child.signal(signal.SIGKILL)

        self._after(self.site.supervisor.stop_timeout, kill)

    # -- shutdown ----------------------------------------------------------------------

    def shutdown(self, reason: str) -> None:
        """Stop every actor in reverse start order, then the broker; the loop then ends."""
        if self.shutting_down:
            return
        self.shutting_down = reason
        self.log.info("site shutting down", reason=reason)
        self._publish_event({"event": "shutting_down", "reason": reason})
        for child in self.actors.values():
            child.want = False
            if child.state is ChildState.BACKOFF:
                child.state = ChildState.STOPPED
        self._shutdown_step()

    def _shutdown_step(self) -> None:
        """Stop each actor whose dependants have all exited; the broker goes last."""
        waiting = False
        for name, child in self.actors.items():
            if child.alive:
                waiting = True
                if not any(self.actors[d].alive for d in self.dependants[name]):
                    self._terminate(child)
        if not waiting and self.broker.alive:
            self._terminate(self.broker)

    # -- control requests ------------------------------------------------------------

    def _read_control(self) -> None:
        while self.control.poll(0, zmq.POLLIN):
            frames = self.control.recv_multipart()
            identity, body = frames[0], frames[-1]
            try:
                if len(frames) < 2:
                    raise ProtocolError("bad_request", "request has no body frame")
                self._handle(identity, decode_request(body))
            except ProtocolError as exc:
                self._reply(identity, encode_error(request_id(body), exc.kind, str(exc)))

    def _reply(self, identity: bytes, body: bytes) -> None:
        self.control.send_multipart([identity, b"", body])

    def _answer(self, child: Child) -> None:
        """Reply to the requests waiting on *child*: done, or failed if it cannot get there."""
        keep = []
        for w in child.waiters:
            if child.state is w.until:
                self._reply(w.identity, encode_result(w.request_id, child.status(time.monotonic())))
            elif child.state in (ChildState.STOPPED, ChildState.FAILED) and not child.want:
                self._reply(
                    w.identity,
                    encode_error(
                        w.request_id,
                        "failed",
                        f"actor {child.name!r} {child.state} ({child.last_exit})",
                    ),
                )
            elif self.shutting_down and w.until is ChildState.RUNNING:
                self._reply(
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

    def _handle(self, identity: bytes, req: Request) -> None:
        if req.op == "status":
            self._reply(identity, encode_result(req.id, self.status()))
            return
        if req.op == "shutdown":
            self._reply(identity, encode_result(req.id, {"state": "shutting_down"}))
            self.shutdown("shutdown requested over the control channel")
            return
        if req.op == "snapshots":
            if req.name is not None and req.name not in self.actors:
                raise ProtocolError("unknown_actor", f"no actor {req.name!r}")
            self._reply(
                identity, encode_result(req.id, list_snapshots(self.site.snapshots.dir, req.name))
            )
            return
        if req.op == "loglevel" and req.name == "supervisor":
            try:
                levels = self.logging.set_levels(req.level, req.otel)
            except ValueError as exc:
                raise ProtocolError("bad_request", str(exc)) from None
            self._reply(identity, encode_result(req.id, levels))
            return
        if self.shutting_down:
            raise ProtocolError(
                "shutting_down", f"the site is shutting down ({self.shutting_down})"
            )
        if req.op == "add":
            self._add(identity, req)
            return
        if req.op == "reload":
            self._reload(identity, req)
            return
        child = self.actors.get(req.name or "")
        if child is None:
            raise ProtocolError(
                "unknown_actor",
                f"no actor {req.name!r} in site "
                f"{self.site.site.name!r} (actors: {', '.join(self.actors)})",
            )
        if req.etag is not None and req.etag != self.etag_of(child.name):
            raise ProtocolError(
                "stale",
                f"actor {child.name!r} is at config version {self.etag_of(child.name)}, "
                f"not {req.etag}: someone changed it since you looked",
            )
        if req.op == "swap":
            self._start_swap(identity, req.id, child, req.cls, req.params)
            return
        if req.op == "remove":
            self._remove(identity, req.id, child)
            return
        if req.op == "snapshot":
            self._forward(identity, req.id, child, {"op": "snapshot"})
            return
        if req.op == "loglevel":
            self._forward(
                identity, req.id, child, {"op": "loglevel", "level": req.level, "otel": req.otel}
            )
            return
        waiter = Waiter(identity, req.id, ChildState.RUNNING)
        if req.op == "stop":
            child.want = False
            if not child.alive:
                child.state = (
                    ChildState.STOPPED if child.state is ChildState.BACKOFF else child.state
                )
                self._reply(identity, encode_result(req.id, child.status(time.monotonic())))
                return
            waiter.until = ChildState.STOPPED
            child.waiters.append(waiter)
            self._terminate(child)
            return
        blocked = [d for d in child.after if self.actors[d].state is not ChildState.RUNNING]
        if blocked:
            raise ProtocolError(
                "failed", f"actor {child.name!r} starts after {blocked}, which is not running"
            )
        child.want = True
        child.waiters.append(waiter)
        if req.op == "restart" and child.alive:
            child.then = "start"
            self._terminate(child)
        elif child.state is ChildState.RUNNING:
            self._answer(child)
        else:
            if child.state in (ChildState.FAILED, ChildState.BACKOFF):
                child.state = ChildState.STOPPED
            self._spawn_due()

    def _forward(self, identity: bytes, req_id: int, child: Child, request: dict[str, Any]) -> None:
        """Send *request* to a running actor; its reply goes back to the client."""
        if child.state is not ChildState.RUNNING:
            raise ProtocolError("failed", f"actor {child.name!r} is {child.state}, not running")
        fid = next(self._forward_ids)
        deadline = time.monotonic() + self.site.supervisor.ready_timeout
        self._forwarded[fid] = (identity, req_id, child, deadline)
        self._resend(fid, {**request, "id": fid})

    def _resend(self, fid: int, request: dict[str, Any]) -> None:
        """(Re)publish a forwarded request until answered or past its deadline.

        The actor answers a repeated id only once: retries cover a subscription
        still on its way to our publisher, not a second snapshot.
        """
        entry = self._forwarded.get(fid)
        if entry is None:
            return
        identity, req_id, child, deadline = entry
        if time.monotonic() > deadline or child.state is not ChildState.RUNNING:
            del self._forwarded[fid]
            self._reply(
                identity,
                encode_error(
                    req_id, "timeout", f"actor {child.name!r} did not answer {request['op']!r}"
                ),
            )
            return
        self.link.publish(SYS_CONTROL + child.name, request)
        self._after(_REQUEST_RETRY, lambda: self._resend(fid, request))

    def _forwarded_reply(self, reply: Any) -> None:
        if not isinstance(reply, dict) or type(reply.get("id")) is not int:
            return
        entry = self._forwarded.pop(reply["id"], None)
        if entry is None:
            return
        identity, req_id, child, _ = entry
        if reply.get("ok"):
            result = {k: v for k, v in reply.items() if k not in ("id", "op", "ok")}
            self._reply(identity, encode_result(req_id, {"actor": child.name, **result}))
        else:
            self._reply(
                identity,
                encode_error(
                    req_id, "failed", f"actor {child.name!r}: {reply.get('error', 'failed')}"
                ),
            )

    # -- run-time membership ----------------------------------------------------------

    def _load(self, added: dict[str, dict[str, Any]]) -> SiteConfig:
        """site.toml as it is now, plus *added* tables; ProtocolError naming the problems."""
        try:
            site = load_site(self.site.path, extra_actors=added)
        except ConfigError as exc:
            raise ProtocolError("bad_request", "; ".join(map(str, exc.problems))) from None
        decls, problems = declared_actors(site)
        if problems:
            raise ProtocolError("bad_request", "; ".join(map(str, problems)))
        self._take_decls(decls)
        return site

    def _take_decls(self, decls: list[ActorDecl]) -> None:
        """Which topics are retained, and which actors read one of them."""
        known = {p.text for p in self.retained}
        self.retained = [parse_pattern(t) for t in retained_topics(decls)]
        link = getattr(self, "link", None)
        for pattern in self.retained:
            if link is not None and pattern.text not in known:
                link.subscribe(pattern.text)  # a retained topic new since the start (reload)
        self.reads_retained = {
            d.name
            for d in decls
            if any(
                overlaps(topic, p.text)
                for name in d.spec.inputs
                for topic in d.topics.get(name, [])
                for p in self.retained
            )
        }

    def _add(self, identity: bytes, req: Request) -> None:
        name = req.name or ""
        if name in self.actors:
            raise ProtocolError("failed", f"actor {name!r} already exists")
        table = dict(req.table or {})
        if req.cls:
            table["class"] = req.cls
        if req.params is not None:
            table["params"] = req.params
        site = self._load({**self.added, name: table})
        self.added[name] = table
        self._apply_site(site)
        child = self.actors[name]
        blocked = [d for d in child.after if self.actors[d].state is not ChildState.RUNNING]
        if blocked:
            self.log.info("added; waiting for its after list", actor=name, blocked=blocked)
        child.waiters.append(Waiter(identity, req.id, ChildState.RUNNING))
        self._event("added", child, cls=child.class_path)
        self._spawn_due()

    def _remove(
        self,
        identity: bytes | None,
        req_id: int,
        child: Child,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Stop *child* and drop it from the site (*then* runs once it is gone)."""
        if identity is not None:
            users = [n for n in self.dependants[child.name] if n in self.actors]
            if users:
                raise ProtocolError(
                    "failed", f"actor {child.name!r} is in the after list of {', '.join(users)}"
                )
            child.waiters.append(Waiter(identity, req_id, ChildState.STOPPED))
        child.want = False
        child.removing = True
        child.on_removed = then
        if child.alive:
            self._terminate(child)
        else:
            self._forget(child)

    def _forget(self, child: Child) -> None:
        """Drop a removed actor from the site once it has exited."""
        child.state = ChildState.STOPPED
        self._answer(child)
        self.added.pop(child.name, None)
        self.actors.pop(child.name, None)
        actors = {n: a for n, a in self.site.actors.items() if n != child.name}
        self._apply_site(dataclasses.replace(self.site, actors=actors))
        self._event("removed", child)
        if child.on_removed is not None:
            child.on_removed()

    def _reload(self, identity: bytes, req: Request) -> None:
        """Apply what changed in site.toml: add, remove, swap; leave the rest untouched."""
        if req.etag is not None and req.etag != self.config_etag:
            raise ProtocolError(
                "stale",
                f"{self.site.path} was at version {self.config_etag} when last applied, "
                f"not {req.etag}",
            )
        site = self._load({})
        old, new = self.site.actors, site.actors
        removed = [n for n in self.order if n not in new]
        report: dict[str, Any] = {
            "added": [n for n in new if n not in old],
            "removed": removed,
            "swapped": [],
            "unchanged": [n for n in new if n in old and new[n] == old[n]],
            "failed": {},
        }
        changed = [n for n in new if n in old and new[n] != old[n]]
        pending = [1]

        def done() -> None:
            pending[0] -= 1
            if pending[0] == 0:
                self.config_etag = file_etag(self.site.path)
                self._reply(identity, encode_result(req.id, {**report, "etag": self.config_etag}))

        # The new tables take effect (settings, order, restart types); the removed
        # actors stay until they have exited.
        self.added = {}
        self._apply_site(dataclasses.replace(site, actors={**new, **{n: old[n] for n in removed}}))
        for name in reversed(removed):  # dependants first
            pending[0] += 1
            self._remove(None, 0, self.actors[name], done)
        for name in changed:
            self.overrides[name] = {}
            child = self.actors[name]
            if child.state is not ChildState.RUNNING:
                continue  # it will start from its new table
            pending[0] += 1

            def swapped(ok: bool, detail: str, name: str = name) -> None:
                if ok:
                    report["swapped"].append(name)
                else:
                    report["failed"][name] = detail
                done()

            try:
                self._start_swap(None, 0, child, None, None, done=swapped)
            except ProtocolError as exc:
                report["failed"][name] = str(exc)
                pending[0] -= 1
        self._spawn_due()
        done()

    # -- hot swap (see supervisor/swap.py) -----------------------------------------------

    def etag_of(self, name: str) -> str:
        """The config version of actor *name*."""
        return etag(self.site.actors[name], self.overrides.get(name))

    def _start_swap(
        self,
        identity: bytes | None,
        req_id: int,
        child: Child,
        cls: str | None,
        params: dict[str, Any] | None,
        *,
        done: Callable[[bool, str], None] | None = None,
    ) -> None:
        if child.state is not ChildState.RUNNING:
            raise ProtocolError("failed", f"actor {child.name!r} is {child.state}, not running")
        if child.name in self.swaps:
            raise ProtocolError("failed", f"a swap of {child.name!r} is already under way")
        token = str(next(self._swap_ids))
        current = self.overrides.get(child.name, {})
        cls = cls or current.get("class")
        if params is not None:
            params = {**current.get("params", {}), **params}
        else:
            params = current.get("params")
        new = Child(
            child.name,
            "actor",
            child.argv,
            class_path=cls or child.class_path,
            after=child.after,
            extra=swap_arguments(token, cls, params),
            retained=child.retained,
        )
        swap = Swap(child.name, token, identity, req_id, new, child.pid, cls, params, done=done)
        self.swaps[child.name] = swap
        pid = None
        if self.zygote is not None:
            try:
                pid = self.zygote.spawn_many([("actor", child.name, new.arguments)])[0]
            except ZygoteError as exc:
                self.log.error("zygote failed; spawning plainly from now on", error=str(exc))
                self.zygote.close()
                self.zygote = None
        new.spawn(pid)
        self.poller.register(new.pidfd, zmq.POLLIN)
        self.log.info("swap starting", actor=child.name, new_pid=new.pid, cls=new.class_path)
        deadline = self.site.supervisor.ready_timeout
        self._after(deadline, lambda: self._swap_timeout(swap, STARTING))

    def _swap_timeout(self, swap: Swap, phase: str) -> None:
        if self.swaps.get(swap.name) is swap and swap.phase == phase:
            swap.new.signal(signal.SIGKILL)
            self._swap_failed(swap, f"timed out while {phase.replace('_', ' ')}")

    def _swap_control(self, swap: Swap, target: str, op: str, **fields: Any) -> None:
        fid = next(self._forward_ids)
        swap.request_ids[op] = fid
        self.link.publish(SYS_CONTROL + target, {"op": op, "id": fid, **fields})

    def _swap_message(self, sender: str, payload: dict[str, Any]) -> None:
        name = sender.removesuffix(SWAP_SUFFIX)
        swap = self.swaps.get(name)
        if swap is None:
            return
        op = payload.get("op")
        from_new = sender.endswith(SWAP_SUFFIX)
        if op == "standby" and from_new and swap.phase == STARTING:
            if payload.get("token") != swap.token or payload.get("pid") != swap.new.pid:
                return
            swap.phase = HANDING_OVER
            self._swap_control(swap, name, "handover", pid=swap.old_pid)
            self._after(
                self.site.supervisor.ready_timeout, lambda: self._swap_timeout(swap, HANDING_OVER)
            )
        elif op == "handover" and not from_new and swap.phase == HANDING_OVER:
            if payload.get("id") != swap.request_ids.get("handover"):
                return
            if not payload.get("ok"):
                swap.new.signal(signal.SIGKILL)
                self._swap_failed(swap, f"the running version refused: {payload.get('error')}")
                return
            swap.phase = TAKING_OVER
            self._swap_control(
                swap,
                name + SWAP_SUFFIX,
                "takeover",
                memory=payload.get("memory"),
                sequences=payload.get("sequences"),
                version=payload.get("version", 1),
            )
            self._after(
                self.site.supervisor.ready_timeout, lambda: self._swap_timeout(swap, TAKING_OVER)
            )
        elif op == "takeover" and from_new and swap.phase in (STARTING, TAKING_OVER):
            if not payload.get("ok"):
                swap.new.signal(signal.SIGKILL)
                self._swap_failed(swap, str(payload.get("error") or "failed"))
                return
            self._swap_commit(swap, payload)

    def _swap_commit(self, swap: Swap, payload: dict[str, Any]) -> None:
        child = self.actors[swap.name]
        self._swap_control(swap, swap.name, "commit", pid=swap.old_pid)
        old = Child(f"{swap.name} (swapped out)", "actor", child.argv)
        old.proc, old.pidfd, old.state = child.proc, child.pidfd, ChildState.STOPPING
        self.retiring.append(old)
        self._after(self.site.supervisor.stop_timeout, lambda: old.signal(signal.SIGKILL))
        new = swap.new
        child.proc, child.pidfd, child.process = new.proc, new.pidfd, new.process
        child.started_at = new.started_at
        child.ready_at = time.monotonic()
        child.state = ChildState.RUNNING
        child.heartbeat, child.heartbeat_at = {}, 0.0
        child.watch = LivenessWatch(self.limits[child.name])
        overrides = {k: v for k, v in (("class", swap.cls), ("params", swap.params)) if v}
        self.overrides[swap.name] = overrides
        child.class_path = swap.cls or child.class_path
        child.extra = swap_arguments("", swap.cls, swap.params)  # restarts run this version
        swap.phase = DONE
        del self.swaps[swap.name]
        result = {
            **child.status(time.monotonic()),
            "etag": self.etag_of(swap.name),
            "old_pid": swap.old_pid,
            "processed": payload.get("processed", 0),
        }
        self._event("swapped", child, pid=child.pid, old_pid=swap.old_pid, cls=child.class_path)
        if swap.done is not None:
            swap.done(True, "")
        elif swap.identity is not None:
            self._reply(swap.identity, encode_result(swap.request_id, result))

    def _swap_failed(self, swap: Swap, error: str, resume: bool = True) -> None:
        """Roll back: the old version resumes with its state; the caller hears why."""
        if self.swaps.get(swap.name) is not swap:
            return
        del self.swaps[swap.name]
        if resume and swap.phase in (HANDING_OVER, TAKING_OVER):
            self._swap_control(swap, swap.name, "resume", pid=swap.old_pid)
        swap.phase = DONE
        self.log.warning("swap rolled back", actor=swap.name, error=error)
        self._publish_event({"event": "swap_failed", "actor": swap.name, "error": error})
        message = f"swap of {swap.name!r} rolled back, the running version kept: {error}"
        if swap.done is not None:
            swap.done(False, message)
        elif swap.identity is not None:
            self._reply(swap.identity, encode_error(swap.request_id, "failed", message))
        if swap.new.alive:
            self.retiring.append(swap.new)

    def _swap_new_exited(self, swap: Swap) -> None:
        new = swap.new
        self.poller.unregister(new.pidfd)
        code = new.reap()
        why = (
            "the new version could not be loaded (exit 78; see its log)"
            if code == 78
            else f"the new version exited ({'signal ' + str(-code) if code < 0 else code})"
        )
        if swap.phase != DONE:
            self._swap_failed(swap, why)

    def _retired(self, child: Child) -> None:
        self.poller.unregister(child.pidfd)
        code = child.reap()
        self.retiring.remove(child)
        self.log.info("old version exited", actor=child.name, code=code)

    def status(self) -> dict[str, Any]:
        """The reply to ``status``: the supervisor, the broker and every actor."""
        now = time.monotonic()
        return {
            "site": self.site.site.name,
            "config": str(self.site.path),
            "config_etag": self.config_etag,
            "supervisor": {
                "pid": os.getpid(),
                "uptime": round(now - self.started, 3),
                "state": "shutting_down" if self.shutting_down else "running",
            },
            "actors": [self.broker.status(now)]
            + [{**c.status(now), "etag": self.etag_of(c.name)} for c in self.actors.values()],
        }

    # -- events ---------------------------------------------------------------------

    def _event(self, kind: str, child: Child, **fields: Any) -> None:
        # The logger's own "pid" is the supervisor's; the child's goes in as actor_pid.
        self.log.info(
            kind,
            actor=child.name,
            **{("actor_pid" if k == "pid" else k): v for k, v in fields.items()},
        )
        self._publish_event({"event": kind, "actor": child.name, "kind": child.kind, **fields})

    def _publish_event(self, payload: dict[str, Any]) -> None:
        if self.broker.state is ChildState.RUNNING or self.broker.state is ChildState.STOPPING:
            self.link.publish(SYS_EVENT, payload)
