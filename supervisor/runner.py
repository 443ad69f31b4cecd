"""The supervisor process: composes its parts and runs the site until shutdown (shell).

The parts, each in its own module, in the manner of OTP's supervisor and
gen_server and circus's arbiter, watchers and controller:

* :mod:`supervisor.loop`: the event loop (one poller, timers; nothing sleeps);
* :mod:`supervisor.spawner`: starts processes, forked by the zygote or plainly;
* :mod:`supervisor.supervision`: exits -> the pure restart policy -> restarts,
  start order, shutdown order, failure records;
* :mod:`supervisor.liveness`: kills hung and greedy actors;
* :mod:`supervisor.control`: the control endpoint, one module per command;
* :mod:`supervisor.membership`: ``add``, ``remove``, ``reload`` and etags;
* :mod:`supervisor.swap`: the hot-swap coordinator;
* :mod:`supervisor.retained`: the retained-value cache;
* :mod:`supervisor.services`: the directory of live servers, on ``$sys.services``;
* :mod:`supervisor.traffic`: sorts what the broker sends to the parts;
* :mod:`supervisor.events`: lifecycle events, logged and on ``$sys.event``;
* :mod:`supervisor.plugins`: what runs beside them (the Prometheus endpoint).

This module only wires them together, holds the site lock and the sockets,
and runs the loop.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import zmq

from actors.core.access import SYS_ACCESS
from actors.core.calls import SERVICE_PREFIX
from actors.core.control_calls import CONTROL_SERVICE
from actors.core.faults import delay_of
from actors.core.requests import RequestTracker
from actors.core.topics import SYS_HEARTBEAT, SYS_REPLY, SYS_RETAINED
from actors.faulty import SYS_FAULT
from actors.keys import ClientKeys
from actors.link import BrokerLink
from actors.logs import setup_logging
from actors.process import (
    Locked,
    SignalWakeup,
    die_with_parent,
    pid_lock,
    remove_ipc_file,
    set_title,
)
from actors.site import SiteConfig
from actors.sockets import SocketFactory
from actors.zap import ZapHandler
from supervisor.children import Child
from supervisor.control import fault
from supervisor.control.server import RETRY, Controller
from supervisor.core.host_report import HOST_PREFIX
from supervisor.core.lifecycle import ChildState
from supervisor.core.site_events import Ready, ShuttingDown, SiteEvent
from supervisor.events import Events
from supervisor.faults import FaultLedger
from supervisor.hosts import SiteHosts
from supervisor.inspect import ActorFacts
from supervisor.liveness import Liveness
from supervisor.loop import EventLoop, Priority
from supervisor.membership import Membership
from supervisor.notify import Notifier
from supervisor.plugins import CannotListen, Plugin, start_plugins
from supervisor.records import FailureRecords
from supervisor.reliable import RESAY, ReaderLists
from supervisor.retained import RetainedCache
from supervisor.security import SiteSecurity
from supervisor.services import ServiceDirectory
from supervisor.spawner import ProcessSpawner
from supervisor.supervision import BROKER, Supervision
from supervisor.swap import SwapCoordinator
from supervisor.traffic import BrokerTraffic
from supervisor.zygote import Zygote, become_subreaper

__all__ = ["BROKER", "SiteLocked", "Supervisor"]


class SiteLocked(RuntimeError):
    """Another supervisor already runs a site with this run directory."""


class Supervisor:
    """Runs one site until shutdown; :meth:`run` returns the exit code."""

    def __init__(
        self,
        site: SiteConfig,
        zygote: Zygote | None = None,
        facts: dict[str, ActorFacts] | None = None,
        elsewhere_reads: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.site = site
        self.logging = setup_logging(
            "supervisor",
            site.telemetry.log_level,
            otel_level=site.telemetry.otel_log_level,
            log_dir=site.site.run_dir / "logs",
        )
        self.log = self.logging.logger
        self.loop = EventLoop(time.monotonic)
        self._began = self.loop.clock()  # fault windows count from here
        # The broker link exists from run() on; events and requests wait for it.
        self.link: BrokerLink | None = None
        self.events = Events(self.log, self._publish, self._broker_up)
        #: Keys, roles and access table on a site whose sockets use CURVE (else None).
        self.security = SiteSecurity(site) if site.secured else None
        self.zap: ZapHandler | None = None
        # Forked by the caller before this process imported any actor module or made a
        # ZeroMQ context (supervisor.zygote); None spawns plainly.
        self.spawner = ProcessSpawner(self.loop, zygote, self.log, keys=self._keys_of)
        self.supervision = Supervision(
            site,
            self.loop,
            self.spawner,
            self.events,
            records=FailureRecords(site.snapshots.dir, site.snapshots.keep),
            reply=self._reply,
        )
        self.retained = RetainedCache(self._publish)
        self.directory = ServiceDirectory(self._send, self.retained.cache.__setitem__)
        self.ledger = FaultLedger(site)
        #: What systemd (if it runs the supervisor) and a readiness probe are told.
        self.notifier = Notifier(site.site.run_dir)
        self.events.listeners.append(self._notify)
        self.events.listeners.append(self.directory.event)
        self.events.listeners.append(self._faults_to_ready)
        self.supervision.spawn_fault = self._spawn_fault
        self.supervision.faults_used = self.ledger.used
        self.requests: RequestTracker[tuple[bytes, int, Child]] = RequestTracker(RETRY)
        self.swaps = SwapCoordinator(self.supervision, self._publish, self.requests.next_id)
        #: The expected readers of every reliable topic, told to their writers.
        self.readers = ReaderLists(
            self._publish,
            lambda: [n for n, c in self.supervision.actors.items() if c.wanted],
            self._broker_up,
        )
        self.events.listeners.append(self.readers.event)
        #: This host among the others of a site on several (None on a site of one).
        self.hosts = (
            SiteHosts(site, self.supervision, self.events, self._publish, self._facts)
            if site.hosts
            else None
        )
        if self.hosts is not None:
            self.hosts.declared = elsewhere_reads or {}
            self.readers.remote = self.hosts.remote_reads
            self.hosts.served = lambda: self.directory.served
            self.directory.remote = self.hosts.remote_serves
            self.hosts.on_serves = self._serves_elsewhere
            self.retained.remote = self.hosts.remote_retained
            self.hosts.on_retained = self._retained_elsewhere
        self.membership = Membership(self.supervision, self.swaps, self.retained)
        self.membership.on_facts = self._facts_changed
        self.membership.take_facts(site, facts or {})
        self.membership.apply(site)
        self.liveness = Liveness(self.supervision, self.spawner)
        self.controller: Controller | None = None
        self.plugins: list[Plugin] = []
        self._lock_fd = -1

    # -- what the parts share ------------------------------------------------------------

    def _publish(self, topic: str, payload: Any) -> None:
        assert self.link is not None
        self.link.publish(topic, payload)

    def _keys_of(self, child: Child) -> ClientKeys | None:
        """The keys *child* is handed at spawn: an actor's own on a secured site."""
        if self.security is None or child.kind != "actor":
            return None
        return self.security.actor_keys(child.name)

    def _facts(self) -> dict[str, ActorFacts]:
        return self.membership.facts

    def _facts_changed(self, site: SiteConfig, facts: dict[str, ActorFacts]) -> None:
        """The actors' declarations changed (*site* is the whole site they belong to, which
        may not be applied yet): a checked broker gets everyone's new rights now, before any
        new actor's process starts; reliable writers their readers."""
        self.readers.take(facts)
        if self.security is None:
            return
        self.security.take_facts(site, facts)
        self._send_access()

    def _send_access(self) -> None:
        if self.security is not None and self.site.checked and self._broker_up():
            self._publish(SYS_ACCESS, self.security.encoded_table())

    def _probe(self) -> None:
        """The broker's readiness probe; on a checked site the access table goes first, so
        that the probe's echo also says the broker has it."""
        assert self.link is not None
        if self.security is not None and self.site.checked:
            self._publish(SYS_ACCESS, self.security.encoded_table())
        self.link.send_probe()

    def _notify(self, event: SiteEvent) -> None:
        """The site is ready once every actor that starts with it runs (systemd's READY=1,
        the ready file); a shutdown says it stops."""
        if isinstance(event, ShuttingDown):
            self.notifier.stopping(event.reason)
            return
        if not isinstance(event, Ready) or self.notifier.ready:
            return
        starting = [c for n, c in self.supervision.actors.items() if self.site.actors[n].autostart]
        if all(c.state is ChildState.RUNNING for c in starting):
            self.notifier.site_ready(len(starting))

    def _retained_elsewhere(self) -> None:
        """Another host's retained topics changed: keep their values here, and have this
        host's readers of them ask for them when they start."""
        self.retained.take(self.membership.facts)
        for name, child in self.supervision.actors.items():
            child.retained = name in self.retained.readers

    def _serves_elsewhere(self) -> None:
        """Another host's servers changed: this host's directory says so."""
        if self._broker_up():
            self.directory.publish()

    def _watchdog(self) -> None:
        """systemd's watchdog ping, from the loop: a stuck loop stops the pings."""
        if self.notifier.watchdog is not None:
            self.notifier.ping()
            self.loop.after(self.notifier.watchdog, self._watchdog)

    def _faults_to_ready(self, event: SiteEvent) -> None:
        """An actor (re)started after ``ctl fault`` changed the rules, or after a rule
        limited per site fired since its spawn: tell it too."""
        if not isinstance(event, Ready) or self.controller is None:
            return
        child = self.supervision.actors.get(event.actor)
        if self.ledger.changed or (child and child.faults_used != self.ledger.used()):
            fault.tell(self.controller, event.actor)

    def _spawn_fault(self, child: Child) -> tuple[str, float] | None:
        """The spawn hop: what happens to this spawn of *child* (its ledger entry sent):
        None, ("crash", 0) or ("delay", seconds)."""
        if not self.ledger.rules:
            return None
        elapsed = self.loop.clock() - self._began
        hit = self.ledger.supervisor_fault("spawn", child.name, "supervisor", elapsed)
        if hit is None:
            return None
        rule, entry = hit
        if self._broker_up():
            self._publish(SYS_FAULT, entry)
        delay = delay_of(rule, self.ledger.seed, "supervisor", child.name, entry["seq"])
        return rule.kind, delay

    def _send(self, topic: bytes, envelope: bytes) -> None:
        if self._broker_up():
            assert self.link is not None
            self.link.pub.send_multipart([topic, envelope])

    def _broker_up(self) -> bool:
        return self.link is not None and self.supervision.broker.alive

    def _reply(self, identity: bytes, body: bytes) -> None:
        assert self.controller is not None
        self.controller.reply(identity, body)

    def status(self) -> dict[str, Any]:
        """The reply to ``status``: the supervisor, the broker and every actor."""
        assert self.controller is not None
        return self.controller.status()

    # -- the site lock -----------------------------------------------------------------------

    def _lock(self) -> None:
        run_dir = self.site.site.run_dir
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._lock_fd = pid_lock(run_dir / "supervisor.pid")
        except Locked as exc:
            raise SiteLocked(
                f"site {self.site.site.name!r} is already running from {run_dir} "
                f"(supervisor pid {exc.holder})"
            ) from None

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            (self.site.site.run_dir / "supervisor.pid").unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- running -------------------------------------------------------------------------------

    def run(self) -> int:
        """Run the site until it is shut down; return 0, or 1 after an escalation."""
        # When a tool (or a test) runs the supervisor, it dies with that tool: SIGTERM, clean stop.
        die_with_parent(signal.SIGTERM)
        become_subreaper()  # what an ended actor started is ours to reap, in either spawn mode
        set_title(self.site.site.name, "supervisor")
        self._lock()
        sup = self.supervision
        sockets = self._sockets()
        wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
        control = sockets.control_server()
        self.link = link = BrokerLink(
            sockets,
            self.site.broker.pub_connect,
            self.site.broker.sub_connect,
            "supervisor",
            # Retained topics too: the broker's readiness probe on this socket then proves
            # the cache subscribed before any actor starts and asks for its values.
            patterns=[
                SYS_HEARTBEAT + "*",
                SYS_REPLY + "*",
                SYS_RETAINED + "*",
                SYS_FAULT,  # the ledger of the faults injected (none without [faults])
                SERVICE_PREFIX + CONTROL_SERVICE,  # actors' control calls
                *(p.text for p in self.retained.patterns),
                *([HOST_PREFIX + "*"] if self.site.hosts else []),  # the other hosts' reports
            ],
            reconnect_max_ms=0,  # the broker is starting right now: look every 10 ms
        )
        self.retained.subscribe = link.subscribe
        sup.probe = self._probe
        self.controller = Controller(
            control,
            sup,
            self.membership,
            self.swaps,
            logging=self.logging,
            publish=self._publish,
            forwarded=self.requests,
            ledger=self.ledger,
            security=self.security,
        )
        self.controller.hosts = self.hosts
        traffic = BrokerTraffic(
            link,
            sup,
            self.retained,
            self.swaps,
            self.controller,
            self.directory,
            self.ledger,
            self.hosts,
        )
        try:
            for key, where in self._control_endpoints():
                try:
                    control.bind(where)
                except zmq.ZMQError as exc:
                    raise CannotListen(key, where, str(exc)) from None
            self.loop.watch(wakeup.fileno(), lambda: self._signalled(wakeup), Priority.SIGNAL)
            self.loop.watch(link.sub, traffic.read, Priority.BROKER)
            self.loop.watch(control, self.controller.read, Priority.CONTROL)
            self.log.info(
                "site starting",
                site=self.site.site.name,
                config=str(self.site.path),
                control=self.site.supervisor.control,
            )
            own = self.security.own_keys() if self.security is not None else None
            self.plugins = start_plugins(self.site, self.log, own)
            sup.spawn(sup.broker)
            self.liveness.start()
            self._resay()
            self._tell_hosts()
            self._watchdog()
            self.loop.run(lambda: sup.stopped)
        finally:
            for plugin in self.plugins:
                plugin.close()
            for child in sup.all():
                if child.alive:  # only after an internal error: never leave a child behind
                    child.signal(signal.SIGKILL)
                    child.reap()
            self.spawner.close()
            link.close(linger_ms=200)
            control.close()
            if self.zap is not None:
                self.zap.stop()
            sockets.close()
            wakeup.close()
            remove_ipc_file(self.site.supervisor.control)
            self.notifier.stopping(sup.shutting_down or "stopped")
            self._unlock()
        self.log.info("site stopped", reason=sup.shutting_down, exit_code=sup.exit_code)
        return sup.exit_code

    def _control_endpoints(self) -> list[tuple[str, str]]:
        """Where the control endpoint binds (the key that says so, and the address): on a
        site of several hosts, also this host's control port, for tools on other hosts."""
        out = [("supervisor.control", self.site.supervisor.control)]
        if self.site.host:
            port = f"hosts.{self.site.host}.control_port"
            out.append((port, self.site.hosts[self.site.host].control_bind))
        return out

    def _resay(self) -> None:
        """Tell every reliable writer its readers again, every RESAY seconds."""
        self.readers.say(again=True)
        self.loop.after(RESAY, self._resay)

    def _tell_hosts(self) -> None:
        """Tell the other hosts what runs here, every heartbeat interval."""
        if self.hosts is not None:
            if self._broker_up():
                self.hosts.say()
                self.readers.say()  # the other hosts' readers, as their reports say now
            self.loop.after(self.site.supervisor.heartbeat_interval, self._tell_hosts)

    def _sockets(self) -> SocketFactory:
        """The supervisor's sockets: on a secured site with its own keys, the site's server
        pair for the control endpoint and a ZAP handler that knows the site's keys."""
        security = self.security
        if security is None:
            return SocketFactory.from_site(self.site)
        made = security.prepare()
        if made:
            self.log.info("keys made", keys=made, folder=str(security.folder.path))
        sockets = SocketFactory.from_site(
            self.site, keys=security.own_keys(), server=security.server()
        )
        self.zap = ZapHandler(sockets.ctx, security.folder, self.log, who="supervisor")
        self.zap.start_and_wait()  # before the control endpoint binds
        return sockets

    def _signalled(self, wakeup: SignalWakeup) -> None:
        for sig in wakeup.drain():
            self.supervision.shutdown(f"received {signal.Signals(sig).name}")
