"""The actor runtime: runs one actor in this process against the broker (shell).

One loop polls the actor's transport, the signal wakeup fd, the descriptors
the actor watches and the timers (periodic step, heartbeat, parent watch)
together; it never sleeps. Where the process is (priming, a swap's standby,
running, paused, stopping) and what each thing that happens does there is
the phase table's (:mod:`actors.core.phases`, pure): this shell hands it
what it polled and carries out the actions it returns, through its
collaborators (:class:`~actors.priming.Priming`, :class:`~actors.swapping.SwapIn`,
:class:`~actors.answers.ControlDesk`, :class:`~actors.waiting.CallWaits`,
:class:`~actors.fault_runtime.FaultWiring`, :class:`~actors.reports.Reporter`),
each owning its state.

One message's way, in three modules: this loop reads its frames from the
:class:`~actors.transport.Transport` and, while the actor runs, hands them to
:meth:`ActorEngine.receive <actors.core.engine.ActorEngine.receive>`
(:mod:`actors.core.engine`), which checks them and runs ``step()``; what the
step publishes goes out through the transport's ``send`` (:mod:`actors.transport`).

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

from actors.answers import ControlDesk
from actors.core import phase_events as events
from actors.core import phases
from actors.core.control import Exit, TookOver
from actors.core.engine import ActorEngine
from actors.core.params import ParamError
from actors.core.phases import Lifecycle, Phase
from actors.core.resilience import PolicyError
from actors.durability import Durability, DurableError, durable_for, start_durable
from actors.fault_runtime import FaultWiring
from actors.link import BrokerLink, BrokerUnreachable
from actors.loader import LoadError, make_engine
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
from actors.reports import Reporter
from actors.settings import RuntimeConfig
from actors.sockets import SocketFactory
from actors.swapping import ControlTopics, SwapIn, report_swap_failure
from actors.transport import Transport, sync_watches
from actors.undeliverable import Undelivered
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


class ActorProcess:
    """One actor, its engine and its broker link, inside the current process."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.logging = setup_logging(
            config.name, config.log_level, otel_level=config.otel_log_level, log_dir=config.log_dir
        )
        self.log = self.logging.logger.bind(actor=config.name)
        # The retained values are asked for only under a supervisor (set in run()).
        self.core = Lifecycle(swap=bool(config.swap), prime=False)
        self.topics = ControlTopics.of(config.name, bool(config.swap))
        self.reporter = Reporter(
            config,
            self.logging,
            self.log,
            state=self._state,
            counts=self._counts,
            faults=self._faults,
        )
        self.durable: Durability | None = None
        self.metrics: Any = None
        self.log_export: Any = None
        # Made once the engine and the transport exist (run()).
        self.engine: ActorEngine
        self.transport: Transport
        self.desk: ControlDesk
        self.swap: SwapIn
        self.priming: Priming
        self.waits: CallWaits
        self.faults: FaultWiring | None = None
        #: The hook running now (what a failure's log line names).
        self.hook = "on_start"
        self._do: dict[type, Any] = {
            events.AskRetained: lambda a: self.priming.ask(),
            events.Prime: lambda a: self.priming.prime(a.messages),
            events.Announce: lambda a: self.swap.announce(),
            events.TakeOver: self._take_over,
            events.TryFirstStep: self._first_step,
            events.TookOver: lambda a: self.swap.took_over(a.processed),
            events.ReportFailure: self._report_failure,
            events.Start: self._start,
            events.Deliver: lambda a: self.transport.send_all(self.engine.receive(a.frames)),
            events.Redo: self._redo,
            events.Answer: self._answer,
            events.RunStop: self._run_stop,
            events.Note: lambda a: getattr(self.log, a.level)(a.event, **a.fields),
        }

    def _counts(self) -> dict[str, int]:
        """What the collaborators count for the heartbeat (see Reporter)."""
        return {
            # Messages shed while a blocking call waited (more than its bound came meanwhile).
            "deferred_dropped": self.waits.dropped,
            # Messages dropped while held (before running, paused) past the bound.
            "held_dropped": self.core.held_dropped,
            "control_rejected": self.desk.rejected,
            # Durable State that could not be written.
            "durable_failed": self.durable.failed if self.durable is not None else 0,
        }

    def _faults(self) -> Any:
        """The fault injector in force, if any."""
        return self.faults.faults if self.faults is not None else None

    def run(self) -> int:
        """Run until stopped or failed; return the process exit code."""
        parent = die_with_parent(signal.SIGTERM)
        cfg = self.config
        set_title(cfg.site.site.name, cfg.name + (" (new version)" if cfg.swap else ""))
        if not cfg.swap:  # a swap's new version takes the name over once the old is gone
            try:
                self.reporter.name_lock = claim_name(cfg.run_dir, cfg.name) if cfg.run_dir else None
            except AlreadyRunning as exc:
                self.log.error("refused to start", error=str(exc))
                return Exit.ALREADY_RUNNING
        try:
            engine = make_engine(cfg, self.log)
            self.durable = durable_for(
                cfg.name, engine, cfg.site.persistence.path, cfg.site.persistence.interval, self.log
            )
        except (LoadError, ParamError, PolicyError) as exc:
            self.log.error("cannot load actor", error=str(exc))
            if cfg.swap:
                report_swap_failure(cfg, f"cannot load {cfg.class_path}: {exc}")
            return EXIT_CONFIG
        except Exception as exc:
            self.log.exception("actor constructor failed", hook="__init__")
            if cfg.swap:
                report_swap_failure(cfg, f"{cfg.class_path}.__init__ failed: {exc!r}")
            return EXIT_FAILURE
        stack_file = self.reporter.arm_stack_dump()
        wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT))
        sockets = SocketFactory(hwm=cfg.site.broker.hwm, keys=cfg.keys)
        link = BrokerLink(
            sockets,
            cfg.site.broker.pub_connect,
            cfg.site.broker.sub_connect,
            cfg.name,
            patterns=[*engine.subscriptions(), self.topics.control.decode()],
        )
        if cfg.actor.max_rss_mb is not None:  # ZeroMQ's thread and sockets exist: what is left
            limit = hold_memory(cfg.actor.max_rss_mb)
            self.log.debug("memory held", max_rss_mb=cfg.actor.max_rss_mb, rlimit_data=limit)
        try:
            self._collaborators(engine, Transport(link), link)
            self.core.prime = bool(cfg.retained or engine.calls.lines) and parent is not None
            return self._serve(link, wakeup, parent)
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

    def _collaborators(self, engine: ActorEngine, transport: Transport, link: BrokerLink) -> None:
        """Make the parts of the process, each handed what it needs."""
        cfg, log = self.config, self.log
        self.engine, self.transport = engine, transport
        self.reporter.attach(engine, transport)
        self.faults = FaultWiring(
            cfg,
            self.logging,
            log,
            transport=transport,
            engine=engine,
            link=link,
            last_beat=self.reporter.beat,
        )
        self.faults.start()
        self.undelivered = Undelivered(self.reporter.snapshot_folder, engine, log)
        self.desk = ControlDesk(
            engine,
            self.topics,
            logging=self.logging,
            log=log,
            snapshot=lambda reason: self.reporter.write_snapshot(engine, reason),
            set_faults=self.faults.set_faults,
            redeliver=self.undelivered.redeliver,
            store=lambda: None if self.durable is None else self.durable.flush(force=True),
        )
        self.swap = SwapIn(cfg, engine, transport, self.topics, log)
        self.priming = Priming(cfg.name, engine, transport, log)
        self.waits = CallWaits(engine, transport, self._beat_in_wait, self.desk.take_readers)
        engine.rpc.block = engine.reliable.block = self.waits.wait

    def _state(self) -> str:
        """What the heartbeat says the process is doing."""
        phase = self.core.phase
        if phase in phases.SERVING:
            return "running"
        if phase is Phase.STOPPING:
            return "stopping"
        if phase is Phase.DONE:
            return "stopped" if self.core.exit_code is Exit.OK else "failed"
        return "starting"

    def _beat_in_wait(self, now: float) -> float:
        """While a blocking call waits: a heartbeat if due (once running); when next due."""
        if not self.core.serving:
            return float("inf")
        self.reporter.beat_if_due(now)
        return self.reporter.next_beat

    def _telemetry(self) -> Any:
        """The OpenTelemetry settings of this actor (importing the SDK only when used)."""
        from actors.telemetry import TracingConfig  # noqa: PLC0415 - only when used

        return TracingConfig.of_site(self.config.site, self.config.name)

    def _start_telemetry(self) -> None:
        """Traces, metrics and exported logs, made now, in this process (never before a
        fork), importing the SDK only when used."""
        from actors.telemetry import LogExport, Metrics, Tracing  # noqa: PLC0415

        engine = self.engine
        engine.tracing = Tracing(self._telemetry())
        self.metrics = Metrics(
            self._telemetry(), engine, interval=self.config.site.telemetry.metrics_interval
        )
        # The counts of whichever injector is in force (ctl fault may change it).
        self.metrics.faults = lambda: f.statistics() if (f := self._faults()) else {}
        self.log_export = LogExport(self._telemetry())
        self.logging.export_to(self.log_export)

    # -- the phase table's actions -----------------------------------------------------------

    def _handle(self, event: events.Input) -> None:
        """Hand *event* to the phase table; carry out what it says, in order."""
        do = self._do
        for action in self.core.handle(event, time.monotonic()):
            do[type(action)](action)

    def _frames(self, frames: list[bytes]) -> None:
        """A received message, through the phase table."""
        if frames[0] == self.topics.control:
            event, now = self.desk.read(frames)
            self.transport.send_all(now)
            if event is not None:
                self._handle(event)
        else:
            self._handle(events.Message(frames))

    def _redo(self, action: events.Redo) -> None:
        for event in action.inputs:
            self._handle(event)

    def _take_over(self, action: events.TakeOver) -> None:
        try:
            processed = self.swap.take_over(action.request, action.held)
        except Exception as exc:
            self.log.exception("the new version failed to take over")
            self._handle(events.SwapFailed(f"{type(exc).__name__}: {exc}"))
            return
        self._handle(events.TakeoverDone(processed))

    def _first_step(self, action: events.TryFirstStep) -> None:
        try:
            stepped = self.swap.first_step(action.frames)
        except Exception as exc:
            self.log.exception("the new version failed in its first step")
            self._handle(events.SwapFailed(f"{type(exc).__name__}: {exc}"))
            return
        self._handle(events.FirstStep(stepped))

    def _report_failure(self, action: events.ReportFailure) -> None:
        self.swap.report(TookOver(ok=False, error=action.error))

    def _start(self, action: events.Start) -> None:
        """Start (``on_start``, or a swapped-in version's held outputs) and say so."""
        engine, send_all = self.engine, self.transport.send_all
        # A step that sends many messages streams them out instead of holding them all.
        engine.emit = self.transport.send
        self.hook = "on_start"
        taken_over = self.swap.taken_over
        if self.durable is not None:  # DurableError: a failed start, with the reason
            start_durable(self.durable, engine, time.monotonic(), taken_over is not None)
        if taken_over is None:
            send_all(engine.start())
            self._send_held(time.monotonic())
        else:  # a swapped-in version: no on_start; it publishes only from now on
            send_all(taken_over)
            engine.resume()
        self.reporter.beat("ready")
        self.log.info("actor ready", cls=self.config.class_path, inputs=engine.subscriptions())
        self.hook = "step"
        self._handle(events.Started())  # running: what came meanwhile is handled now

    def _send_held(self, now: float) -> None:
        """Store the outbox (with the State of the steps that sent them) and send the
        reliable messages it holds; they wait if it cannot be stored."""
        durable, reliable = self.durable, self.engine.reliable
        if reliable.held and durable is not None and durable.commit(now):
            self.transport.send_all(reliable.take_held())

    def _answer(self, action: events.Answer) -> None:
        self.transport.send_all(self.desk.answer(action.request, action.held))

    def _run_stop(self, action: events.RunStop) -> None:
        self.hook = "on_stop"
        self.transport.send_all(self.engine.stop())
        if self.durable is not None:
            self.durable.flush()  # at every stop: what changed since the last interval
            self._send_held(time.monotonic())
        self.reporter.beat("stopping")
        self.log.info("actor stopped")
        self._handle(events.Stopped())

    # -- the loop: one poll for every phase --------------------------------------------------

    def _serve(self, link: BrokerLink, wakeup: SignalWakeup, parent: int | None) -> int:
        cfg, core = self.config, self.core
        try:
            link.wait_connected(cfg.site.supervisor.ready_timeout)
        except BrokerUnreachable as exc:
            self.log.error("broker unreachable", error=str(exc))
            return EXIT_BROKER
        if wakeup.drain():
            return EXIT_OK
        if cfg.site.telemetry.otlp_endpoint:
            self._start_telemetry()
        try:
            self._handle(events.Connected())
            self._loop(wakeup, parent)
        except DurableError as exc:
            # Not a step's failure: the stored values, which a restart would read again.
            self._handle(events.Failed(Exit.STATE))
            self.log.error("stored durable State cannot be used", error=str(exc))
        except MemoryError:
            # Past max_rss_mb: no snapshot (there is no memory for it); the supervisor
            # records the limit from the exit code.
            self._handle(events.Failed(Exit.MEMORY_LIMIT))
            self.log.error("memory limit reached", hook=self.hook, max_rss_mb=cfg.actor.max_rss_mb)
        except Exception as exc:
            self._handle(events.Failed(EXIT_FAILURE))
            self.log.exception("unanticipated failure", hook=self.hook, error=repr(exc))
            self.reporter.write_snapshot(self.engine, "exception", exc)
        return core.exit_code

    def _loop(self, wakeup: SignalWakeup, parent: int | None) -> None:
        """Poll and hand what comes to the engine or the phase table until the phase is DONE.

        While the actor runs, a message on a data topic goes straight to the engine:
        that is the phase table's rule for RUNNING (``Message -> Deliver``), taken
        inline on the hot path.
        """
        core, engine, transport = self.core, self.engine, self.transport
        reporter, durable, waits = self.reporter, self.durable, self.waits
        send_all, receive = transport.send_all, engine.receive
        wiring = self.faults
        assert wiring is not None
        faults = wiring.faults
        poller = zmq.Poller()
        poller.register(transport.socket, zmq.POLLIN)
        poller.register(wakeup.fileno(), zmq.POLLIN)
        poll = poller.poll
        recv_next = transport.receive
        next_parent = time.monotonic() + _PARENT_CHECK
        deferred = waits.deferred
        watch_version = 0
        watched: dict[int, int] = {}  # fd -> poll flags, as registered
        running = Phase.RUNNING
        while not core.done():
            now = time.monotonic()
            serving = core.serving
            if serving:
                if engine.schedule.watch_version != watch_version:
                    watch_version = engine.schedule.watch_version
                    watched = sync_watches(poller, watched, engine.schedule.watched)
                if deferred:  # came while a call waited: before what is queued now
                    for kept in waits.take():
                        self._frames(kept)
                    deferred = waits.deferred
                    if core.done():
                        break
                wake = min(reporter.next_beat, next_parent, durable.next_at if durable else _NEVER)
                deadline = engine.next_deadline()
                if deadline is not None:
                    wake = min(wake, deadline)
                if faults is not None and (held := faults.next_due()) is not None:
                    wake = min(wake, held)
            else:
                self._handle(events.Tick())
                if core.done():
                    break
                due = core.next_due()
                wake = next_parent if due is None else min(due, next_parent)
            polled = poll(max(0, int((wake - now) * 1000) + 1))
            if faults is not None and serving:
                faults.flush(transport.publish)  # held publishes due, the ledger
                if not polled and faults.due_in():
                    polled = [(None, 0)]  # a held delivery is due: read as if polled
            if polled:
                # The signal handler has run by now (before this bytecode): a flag
                # check is enough, cheaper than sorting out the poll's results.
                if wakeup.received and wakeup.drain():
                    self._handle(events.Stop())
                    break
                if watched and serving:
                    self.hook = "io"
                    for fd, flags in polled:
                        if fd in watched:  # sockets are objects, never equal to an int
                            out = engine.callbacks.io_ready(
                                fd, bool(flags & _READABLE), bool(flags & zmq.POLLOUT)
                            )
                            send_all(out)
                    self.hook = "step"
                control = self.topics.control
                phase = core.phase
                for _ in range(_BATCH):
                    frames = recv_next()
                    if frames is None:
                        break
                    if phase is running and frames[0] != control:
                        out = receive(frames)  # the table's RUNNING rule, inline
                        if out:
                            send_all(out)
                        if deferred:
                            break  # a call waited in that step: what came meanwhile first
                        continue
                    self._frames(frames)
                    if core.phase is not phase or wiring.rewired or deferred:
                        break  # a new phase (or transport) from here on, or what a call deferred
                if wiring.rewired:  # ctl fault: the new transport from now on
                    wiring.rewired = False
                    recv_next, faults = transport.receive, wiring.faults
                if core.done():
                    break
            if core.phase is running:
                send_all(engine.tick())
                now = time.monotonic()
                if durable is not None:
                    durable.due(now)
                    if engine.reliable.held:
                        self._send_held(now)
                if engine.reliable.undeliverable:
                    send_all(self.undelivered.take(time.time()))
            else:
                now = time.monotonic()
            if core.serving and now >= reporter.next_beat:
                if self.metrics is not None:
                    self.metrics.take_steps()
                reporter.beat()
            if now >= next_parent:
                next_parent = now + _PARENT_CHECK
                if not parent_alive(parent):
                    self.log.warning("supervisor is gone; stopping")
                    self._handle(events.Stop())


def run_actor(config: RuntimeConfig) -> int:
    """Run one actor in this process; return its exit code."""
    return ActorProcess(config).run()
