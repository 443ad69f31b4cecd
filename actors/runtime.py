"""The actor runtime: runs one actor in this process against the broker (shell).

One loop polls the actor's transport, the signal wakeup fd, the descriptors
the actor watches and the timers (periodic step, heartbeat, parent watch)
together; it never sleeps. Before the actor runs, the same loop serves the
phases that come first (:class:`~actors.swapping.Phase`): priming the inputs
of retained topics, or a swap's standby and probation. What it receives goes
to the :class:`~actors.core.engine.ActorEngine`; what the engine returns goes
out through the :class:`~actors.transport.Transport`.

Exit codes: 0 after a requested stop, :data:`EXIT_FAILURE` (70) after an
unanticipated exception in a hook, :data:`EXIT_CONFIG` (78) when the actor
cannot be loaded or configured, 65 (``Exit.STATE``) when its stored durable
State cannot be used, :data:`EXIT_BROKER` (69) when the broker does
not answer, 75 (``Exit.ALREADY_RUNNING``) when another process already runs
as this actor of this site.
"""

from __future__ import annotations

import faulthandler
import signal
import time
from pathlib import Path
from typing import Any, Final

import zmq

from actors.answers import ControlAnswers
from actors.core.control import (
    SWAP_SUFFIX,
    Exit,
    Reply,
)
from actors.core.engine import ActorEngine
from actors.core.engine_types import EngineConfig
from actors.core.params import ParamError
from actors.core.requests import ReplyCache
from actors.core.resilience import PolicyError
from actors.core.topics import SYS_CONTROL, SYS_HEARTBEAT, SYS_REPLY
from actors.durability import Durability, DurableError, durable_for, start_durable
from actors.fault_runtime import InjectsFaults
from actors.link import BrokerLink, BrokerUnreachable
from actors.loader import LoadError, load_class
from actors.logs import setup_logging
from actors.priming import Priming
from actors.process import (
    AlreadyRunning,
    SignalWakeup,
    claim_name,
    die_with_parent,
    hold_memory,
    parent_alive,
    set_title,
)
from actors.reports import Reports
from actors.settings import RuntimeConfig
from actors.site.paths import path_param_problems
from actors.sockets import SocketFactory
from actors.swapping import Phase, SwapIn
from actors.transport import Transport, sync_watches
from actors.waiting import CallWaits

EXIT_OK: Final = Exit.OK
EXIT_BROKER: Final = Exit.BROKER
EXIT_FAILURE: Final = Exit.FAILURE
EXIT_CONFIG: Final = Exit.CONFIG
_PARENT_CHECK: Final = 0.5
_BATCH: Final = 1000
# An error or hang-up on a watched descriptor is for its reader to find out.
_READABLE: Final = zmq.POLLIN | zmq.POLLERR
_NEVER: Final = float("inf")


class ActorProcess(SwapIn, Priming, Reports, ControlAnswers, CallWaits, InjectsFaults):
    """One actor, its engine and its broker link, inside the current process."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.logging = setup_logging(
            config.name, config.log_level, otel_level=config.otel_log_level, log_dir=config.log_dir
        )
        self.log = self.logging.logger.bind(actor=config.name)
        self.started = time.monotonic()
        self.state = "starting"
        self.cls: type | None = None
        self._replies: ReplyCache[Reply] = ReplyCache(16)
        #: Snapshots that could not be written (a full disk, an unwritable folder).
        self.snapshots_failed = 0
        #: The lock that makes this process the one actor of its name (see claim_name).
        self._name_lock: int | None = None
        self.metrics: Any = None
        self._metric_names: list[str] = []
        self.log_export: Any = None
        folder = config.snapshot_dir / config.name if config.snapshot_dir else None
        self.snapshot_folder = folder
        # A swap's new version has topics of its own until it takes over.
        suffix = SWAP_SUFFIX if config.swap else ""
        self.control_topic = (SYS_CONTROL + config.name + suffix).encode()
        self.reply_topic = (SYS_REPLY + config.name + suffix).encode()
        #: After a handover (the old version of a swap): messages held back, not processed.
        self.paused = False
        self.held: list[list[bytes]] = []
        self.held_dropped = 0
        self.durable: Durability | None = None
        self.control_rejected = 0
        #: The new version took over: leave without on_stop.
        self.swapped_out = False
        #: Where the process is: priming or in standby before running (see Phase).
        self.phase = Phase.STARTING
        self.hook = "on_start"
        #: Messages that arrived before running, delivered once it runs.
        self._early: list[list[bytes]] = []
        self._phase_deadline = 0.0
        self._retained_request: list[str] = []
        self._ask_at = 0.0
        self.deferred: list[list[bytes]] = []
        self.deferred_dropped = 0
        self._engine: ActorEngine | None = None
        self._next_beat = 0.0
        self._init_faults(config)

    def run(self) -> int:
        """Run until stopped or failed; return the process exit code."""
        parent = die_with_parent(signal.SIGTERM)
        cfg = self.config
        set_title(cfg.site, cfg.name + (" (new version)" if cfg.swap else ""))
        if not cfg.swap:  # a swap's new version takes the name over once the old is gone
            try:
                self._name_lock = claim_name(cfg.run_dir, cfg.name) if cfg.run_dir else None
            except AlreadyRunning as exc:
                self.log.error("refused to start", error=str(exc))
                return Exit.ALREADY_RUNNING
        try:
            self.cls = cls = load_class(cfg.class_path, cfg.import_paths)
            # A param given at run time is checked here too, in the actor's own process.
            spec, where = cls._enlil_spec.params, cfg.allowed_paths
            if problems := path_param_problems(spec, cfg.params, cfg.run_dir, where):
                raise ParamError(f"actor {cfg.name!r}: " + "; ".join(problems))
            engine = ActorEngine(
                cls,
                EngineConfig(
                    name=cfg.name,
                    params=cfg.params,
                    topics=cfg.topics,
                    period=cfg.period,
                    class_path=cfg.class_path,
                    recorder=cfg.recorder,
                    recorder_bytes=cfg.recorder_bytes,
                    late_after=cfg.late_after,
                    log_dir=str(cfg.log_dir) if cfg.log_dir else None,
                    run_dir=str(cfg.run_dir) if cfg.run_dir else None,
                    calls=cfg.calls,
                    rate_limits=cfg.rate_limits,
                    control=cfg.control,
                ),
                wall_ns=time.time_ns,
                monotonic=time.monotonic,
                log=self.log,
            )
            self.durable = durable_for(cfg.name, engine, cfg.state_db, cfg.state_interval, self.log)
        except (LoadError, ParamError, PolicyError) as exc:
            self.log.error("cannot load actor", error=str(exc))
            if cfg.swap:
                self._report_swap_failure(f"cannot load {cfg.class_path}: {exc}")
            return EXIT_CONFIG
        except Exception as exc:
            self.log.exception("actor constructor failed", hook="__init__")
            if cfg.swap:
                self._report_swap_failure(f"{cfg.class_path}.__init__ failed: {exc!r}")
            return EXIT_FAILURE
        self._metric_names = [
            v.name
            for v in [*cls._enlil_spec.states.values(), *cls._enlil_spec.outputs.values()]
            if getattr(v, "metric", False)
        ]
        stack_file = self._arm_stack_dump()
        wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT))
        sockets = SocketFactory(hwm=cfg.hwm, keys=cfg.keys)
        link = BrokerLink(
            sockets,
            cfg.pub_endpoint,
            cfg.sub_endpoint,
            cfg.name,
            patterns=[*engine.subscriptions(), self.control_topic.decode()],
        )
        if cfg.max_rss_mb is not None:  # ZeroMQ's thread and sockets exist: what is left
            limit = hold_memory(cfg.max_rss_mb)
            self.log.debug("memory held", max_rss_mb=cfg.max_rss_mb, rlimit_data=limit)
        try:
            self.transport = Transport(link)
            self._link = link
            if cfg.fault_rules:
                self._inject_faults(cfg, engine, link)
            engine.rpc.block = self._wait_call
            self._engine = engine
            return self._serve(engine, link, wakeup, parent)
        finally:
            if engine.tracing is not None:
                engine.tracing.shutdown()  # type: ignore[attr-defined]
            if self.metrics is not None:
                self.metrics.shutdown()
            if self.log_export is not None:
                self.logging.export_to(None)
                self.log_export.shutdown()
            link.close(linger_ms=1000)
            sockets.close()
            wakeup.close()
            if stack_file is not None:
                faulthandler.unregister(signal.SIGUSR1)
                stack_file.close()
                Path(stack_file.name).unlink(missing_ok=True)

    def _telemetry(self) -> Any:
        """The OpenTelemetry settings of this actor (importing the SDK only when used)."""
        from actors.telemetry import TracingConfig  # noqa: PLC0415 - only when used

        cfg = self.config
        return TracingConfig(
            endpoint=cfg.otlp_endpoint,
            site=cfg.site,
            actor=cfg.name,
            ratio=cfg.sampling,
            resource=cfg.resource,
            protocol=cfg.protocol,
        )

    def _start_tracing(self) -> Any:
        """The OpenTelemetry side, made now, in this process (never before a fork)."""
        from actors.telemetry import Tracing  # noqa: PLC0415 - only when used

        return Tracing(self._telemetry())

    def _start_log_export(self) -> None:
        """Records at or above the OpenTelemetry level go out over OTLP too."""
        from actors.telemetry import LogExport  # noqa: PLC0415 - only when used

        self.log_export = LogExport(self._telemetry())
        self.logging.export_to(self.log_export)

    def _start_metrics(self, engine: ActorEngine) -> Any:
        """The actor's metrics, made now, in this process."""
        from actors.telemetry import Metrics  # noqa: PLC0415 - only when used

        self.metrics = Metrics(self._telemetry(), engine, interval=self.config.metrics_interval)
        return self.metrics

    # -- the loop: one poll for every phase --------------------------------------------------

    def _serve(
        self, engine: ActorEngine, link: BrokerLink, wakeup: SignalWakeup, parent: int | None
    ) -> int:
        cfg = self.config
        try:
            link.wait_connected(cfg.connect_timeout)
        except BrokerUnreachable as exc:
            self.log.error("broker unreachable", error=str(exc))
            return EXIT_BROKER
        if wakeup.drain():
            return EXIT_OK
        if cfg.swap:
            self._begin_standby()
        elif (cfg.retained or engine.calls.lines) and parent is not None:
            self._begin_priming(engine)  # a caller wants the directory of servers too
        heartbeat_topic = (SYS_HEARTBEAT + cfg.name).encode()
        transport = self.transport
        send_all = transport.send_all
        metrics = None
        if cfg.otlp_endpoint:
            engine.tracing = self._start_tracing()
            metrics = self._start_metrics(engine)
            # The counts of whichever injector is in force (ctl fault may change it).
            metrics.faults = lambda: self.faults.statistics() if self.faults else {}
            self._start_log_export()
        poller = zmq.Poller()
        poller.register(transport.socket, zmq.POLLIN)
        poller.register(wakeup.fileno(), zmq.POLLIN)
        poll = poller.poll
        faults = self.faults
        receive = engine.receive
        recv_next = transport.receive
        next_parent = time.monotonic() + _PARENT_CHECK
        deferred = self.deferred
        control_topic = self.control_topic
        watch_version = 0
        watched: dict[int, int] = {}  # fd -> poll flags, as registered
        durable = self.durable
        self.hook = "on_start"
        try:
            while True:
                now = time.monotonic()
                if self.phase is Phase.STARTING:
                    self._enter_running(engine, heartbeat_topic)
                    control_topic = self.control_topic  # final once running (a local: hot path)
                    self._next_beat = now + cfg.heartbeat_interval
                running = self.phase is Phase.RUNNING
                if running:
                    if engine.watch_version != watch_version:
                        watch_version = engine.watch_version
                        watched = sync_watches(poller, watched, engine.watched)
                    if deferred:  # came while a call waited: before what is queued now
                        self._run_deferred(engine)
                        if self.swapped_out:
                            self.log.info("swapped out: the new version runs")
                            return EXIT_OK
                    wake = min(self._next_beat, next_parent, durable.next_at if durable else _NEVER)
                    deadline = engine.next_deadline()
                    if deadline is not None:
                        wake = min(wake, deadline)
                    if faults is not None and (held := faults.next_due()) is not None:
                        wake = min(wake, held)
                else:
                    due = self._phase_due(now)
                    if isinstance(due, Exit):
                        return due
                    if self.phase is Phase.STARTING:
                        continue
                    wake = min(due, next_parent)
                events = poll(max(0, int((wake - now) * 1000) + 1))
                if faults is not None and running:
                    faults.flush(transport.publish)  # held publishes due, the ledger
                    if not events and faults.due_in():
                        events = [(None, 0)]  # a held delivery is due: read as if polled
                if events:
                    # The signal handler has run by now (before this bytecode): a flag
                    # check is enough, cheaper than sorting out the poll's results.
                    if wakeup.received and wakeup.drain():
                        if not running:
                            return EXIT_OK  # not started: nothing to stop
                        break
                    if watched:
                        self.hook = "io"
                        for fd, flags in events:
                            if fd in watched:  # sockets are objects, never equal to an int
                                out = engine.io_ready(
                                    fd, bool(flags & _READABLE), bool(flags & zmq.POLLOUT)
                                )
                                send_all(out)
                        self.hook = "step"
                    for _ in range(_BATCH):
                        frames = recv_next()
                        if frames is None:
                            break
                        if not running:
                            code = self._phase_message(engine, frames)
                            if code is not None:
                                return code
                            if self.phase is Phase.STARTING:
                                break  # on_start first, then the rest of the queue
                            continue
                        if frames[0] == control_topic:
                            send_all(self._control(engine, frames))
                            if self.swapped_out:
                                break
                            if self.rewired:  # ctl fault: the new transport from now on
                                self.rewired = False
                                recv_next, faults = transport.receive, self.faults
                                break
                            continue
                        if self.paused:
                            self.hold(frames)
                            continue
                        out = receive(frames)
                        if out:
                            send_all(out)
                        if deferred:
                            break  # a call waited in that step: what came meanwhile first
                if self.swapped_out:
                    self.log.info("swapped out: the new version runs")
                    return EXIT_OK
                if running and not self.paused:
                    send_all(engine.tick())
                now = time.monotonic()
                if running and durable is not None and not self.paused:
                    durable.due(now)
                if running and now >= self._next_beat:
                    self._next_beat = now + cfg.heartbeat_interval
                    if metrics is not None:
                        metrics.take_steps()
                    send_all([engine.publish(heartbeat_topic, self._heartbeat(engine))])
                if now >= next_parent:
                    next_parent = now + _PARENT_CHECK
                    if not parent_alive(parent):
                        self.log.warning("supervisor is gone; stopping")
                        if not running:
                            return EXIT_OK
                        break
            self.hook = "on_stop"
            self.state = "stopping"
            send_all(engine.stop())
            if durable is not None:
                durable.flush()  # at every stop: what changed since the last interval
            send_all([engine.publish(heartbeat_topic, self._heartbeat(engine))])
        except DurableError as exc:
            # Not a step's failure: the stored values, which a restart would read again.
            self.state = "failed"
            self.log.error("stored durable State cannot be used", error=str(exc))
            return Exit.STATE
        except MemoryError:
            # Past max_rss_mb: no snapshot (there is no memory for it); the supervisor
            # records the limit from the exit code.
            self.state = "failed"
            self.log.error("memory limit reached", hook=self.hook, max_rss_mb=cfg.max_rss_mb)
            return Exit.MEMORY_LIMIT
        except Exception as exc:
            self.state = "failed"
            self.log.exception("unanticipated failure", hook=self.hook, error=repr(exc))
            self.write_snapshot(engine, "exception", exc)
            return EXIT_FAILURE
        self.log.info("actor stopped")
        return EXIT_OK

    def _phase_due(self, now: float) -> float | Exit:
        """Run the timers of the phase before running; when next due, or an exit code."""
        if self.phase is Phase.PRIMING:
            return self._priming_due(now)
        return self._standby_due(now)

    def _phase_message(self, engine: ActorEngine, frames: list[bytes]) -> Exit | None:
        """A message that arrived before running; an exit code ends the process."""
        if self.phase is Phase.PRIMING:
            self._priming_message(engine, frames)
            return None
        return self._standby_message(engine, frames)

    def _enter_running(self, engine: ActorEngine, heartbeat_topic: bytes) -> None:
        """Start (``on_start``, or a swapped-in version's held outputs) and say so."""
        send_all = self.transport.send_all
        # A step that sends many messages streams them out instead of holding them all.
        engine.emit = self.transport.send
        self.hook = "on_start"
        if self.durable is not None:  # DurableError: a failed start, with the reason
            start_durable(self.durable, engine, time.monotonic(), self.taken_over is not None)
        if self.taken_over is None:
            send_all(engine.start())
        else:  # a swapped-in version: no on_start; it publishes only from now on
            send_all(self.taken_over)
            engine.resume()
        self.phase = Phase.RUNNING
        self.state = "running"
        send_all([engine.publish(heartbeat_topic, self._heartbeat(engine, "ready"))])
        self.log.info("actor ready", cls=self.config.class_path, inputs=engine.subscriptions())
        self.hook = "step"
        early, self._early = self._early, []
        for queued in early:  # what arrived while waiting for the retained values
            if queued[0] == self.control_topic:
                send_all(self._control(engine, queued))
            else:
                send_all(engine.receive(queued))


def run_actor(config: RuntimeConfig) -> int:
    """Run one actor in this process; return its exit code."""
    return ActorProcess(config).run()
