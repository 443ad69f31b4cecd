"""The broker: XSUB/XPUB forwarding through libzmq's own proxy (shell).

Forwarding runs in ``zmq.proxy_steerable`` on a worker thread, in C, without
the GIL and without decoding anything: the broker is transparent and as fast
as a bare ``zmq.proxy``. On a secured site both sides are CURVE servers and
a ZAP handler (:mod:`actors.zap`) lets in only the site's keys; with access
checks on, or on a site of several hosts, the worker is
:class:`~broker.forwarder.Forwarder` instead, which holds each message against its
sender's rights and links this host's broker to the other hosts'. The main thread owns
the control pipe, the socket monitors (which count connections and failed
handshakes, i.e. garbage sent at the broker's ports), the heartbeat on
``$sys.heartbeat.broker`` and the signal handling. Malformed *messages* are
forwarded untouched and counted by the receivers, which decode them.
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import zmq
from zmq.utils.monitor import parse_monitor_message

from actors.core.access import HOST
from actors.core.control import Exit
from actors.core.faults import FaultRule
from actors.core.wire import encode_envelope
from actors.keys import Identity, KeyFolder, KeyProblem
from actors.logs import setup_logging
from actors.process import (
    SignalWakeup,
    die_with_parent,
    parent_alive,
    remove_ipc_file,
    set_title,
)
from actors.site import SiteConfig
from actors.sockets import Socket, SocketFactory
from actors.zap import ZapHandler
from broker.checks import AccessChecks
from broker.forwarder import Forwarder, security_stats
from broker.host_faults import HostFaults
from broker.link import Link, LinkPlan
from broker.sides import Endpoints, Forwarding, Worker

NAME: Final = "broker"
HEARTBEAT_TOPIC: Final = b"$sys.heartbeat.broker"
_INPROC: Final = "inproc://broker.xsub"
_CONTROL: Final = "inproc://broker.control"
_MONITOR: Final = "inproc://broker.monitor.{}"
_EVENTS: Final = {
    zmq.EVENT_ACCEPTED: "accepted",
    zmq.EVENT_HANDSHAKE_SUCCEEDED: "handshake_succeeded",
    zmq.EVENT_DISCONNECTED: "disconnected",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_failed",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_failed",
}
_PARENT_CHECK: Final = 0.5
#: Failed handshakes logged one by one, at most (garbage at the port is counted anyway).
_LOGGED_HANDSHAKES: Final = 10


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker binds and how it reports."""

    pub: str
    sub: str
    hwm: int = 10000
    heartbeat_interval: float = 1.0
    log_level: str = "info"
    log_dir: Path | None = None
    site: str = "site"
    #: The site's key folder when its sockets use CURVE (None: no CURVE).
    keys: Path | None = None
    #: Whether each message is checked against its sender's rights (needs *keys*).
    checked: bool = False
    #: On a site of several hosts: this host, where its link's export binds, and each
    #: peer host's export (none: a site of one host).
    host: str = ""
    link_bind: str = ""
    peers: tuple[tuple[str, str], ...] = ()
    #: The site's fault seed and its rules at the host hop (applied to what this host's
    #: broker takes from the others).
    fault_seed: int = 0
    host_faults: tuple[FaultRule, ...] = ()
    #: Each actor of the site and the host that runs it.
    placement: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_site(cls, site: SiteConfig, log_level: str | None = None) -> BrokerSettings:
        """The broker process settings of *site*."""
        return cls(
            pub=site.broker.pub,
            sub=site.broker.sub,
            hwm=site.broker.hwm,
            heartbeat_interval=site.supervisor.heartbeat_interval,
            log_level=log_level or site.telemetry.log_level,
            log_dir=site.site.run_dir / "logs",
            site=site.site.name,
            keys=site.security.keys if site.secured else None,
            checked=site.checked,
            host=site.host,
            link_bind=site.hosts[site.host].link_bind if site.host else "",
            peers=tuple((name, h.link) for name, h in site.peers.items()),
            fault_seed=site.faults.seed,
            host_faults=tuple(r for r in site.faults.rules if r.hop == "host"),
            placement=tuple((n, a.host) for n, a in site.everyone.items()),
        )


class _Proxying:
    """The forwarding of a plain broker: libzmq's proxy, in C, without the GIL."""

    manual = False

    def forward(self, xsub: Socket, xpub: Socket, control: Socket, bound: threading.Event) -> None:
        """Set *bound*, then forward everything until *control* says stop."""
        # Everything, from each publisher's first connection: a publisher never drops a
        # message because a new subscriber's subscription has not reached it yet (ZeroMQ's
        # slow joiner: a tool publishing right after an actor became ready lost it under
        # load). The subscribers' side still filters; what nobody reads ends here.
        xsub.send(b"\x01")
        bound.set()
        zmq.proxy_steerable(xsub, xpub, None, control)


def run_broker(config: BrokerSettings) -> int:
    """Run the broker until SIGTERM/SIGINT (or the supervisor's death); return exit code."""
    parent = die_with_parent(signal.SIGTERM)
    set_title(config.site, NAME)
    log = setup_logging(NAME, config.log_level, log_dir=config.log_dir).logger
    try:
        sockets, zap = _secured_sockets(config, log)
        link = _link(config, sockets)
    except (KeyProblem, RuntimeError) as exc:
        log.error("broker cannot secure its sockets", error=str(exc))
        return Exit.CONFIG
    wakeup = SignalWakeup((signal.SIGTERM, signal.SIGINT))
    ends = Endpoints(config.pub, config.sub, _INPROC, _CONTROL, _MONITOR, sum(_EVENTS))
    checks = AccessChecks(log) if config.checked else None
    python = Forwarder(checks, link) if checks is not None or link is not None else None
    forwarding: Forwarding = python if python is not None else _Proxying()
    forwarder = Worker(sockets, ends, "broker-forwarder", forwarding)
    forwarder.start()
    error = forwarder.error or (python.error if python is not None else None)
    if not forwarder.bound.wait(10.0) or error is not None:
        where = {"link": config.link_bind} if link is not None else {}
        log.error("broker cannot bind", pub=config.pub, sub=config.sub, **where, error=str(error))
        if zap is not None:
            zap.stop()
        sockets.close()
        wakeup.close()
        return Exit.CANNOT_BIND
    control = sockets.pair(_CONTROL)
    monitors = [sockets.pair(_MONITOR.format(side)) for side in ("xsub", "xpub")]
    pub = sockets.inproc_publisher(_INPROC)
    counts = dict.fromkeys(set(_EVENTS.values()), 0)
    poller = zmq.Poller()
    for mon in monitors:
        poller.register(mon, zmq.POLLIN)
    poller.register(wakeup.fileno(), zmq.POLLIN)
    started = time.monotonic()
    seq = 0
    log.info("broker ready", pub=config.pub, sub=config.sub)
    next_beat = time.monotonic()
    next_parent = time.monotonic() + _PARENT_CHECK
    try:
        while True:
            wait = min(next_beat, next_parent) - time.monotonic()
            events = dict(poller.poll(max(0, int(wait * 1000)) + 1))
            if wakeup.fileno() in events and wakeup.drain():
                break
            for mon in monitors:
                if mon in events:
                    while mon.poll(0):
                        event = parse_monitor_message(mon.recv_multipart())
                        name = _EVENTS.get(zmq.Event(event["event"]))
                        if name:
                            counts[name] += 1
                        if name == "handshake_failed" and counts[name] <= _LOGGED_HANDSHAKES:
                            log.warning(
                                "rejected a peer that does not speak ZMTP",
                                endpoint=event["endpoint"].decode(errors="replace"),
                                count=counts[name],
                            )
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + config.heartbeat_interval
                seq += 1
                # A peer accepted but never through a ZMTP handshake sent garbage (or is
                # still mid-handshake, for a few milliseconds).
                rejected = counts["accepted"] - counts["handshake_succeeded"]
                payload = {
                    "state": "running",
                    "pid": os.getpid(),
                    "uptime": round(now - started, 3),
                    "stats": {**counts, "rejected": rejected, **security_stats(checks, zap)},
                }
                if checks is not None and checks.recent:
                    payload["denials"] = _drain(checks.recent)
                if link is not None:
                    payload["link"] = link.report()
                pub.send_multipart(
                    [HEARTBEAT_TOPIC, encode_envelope(NAME, seq, time.time_ns(), payload)]
                )
            if now >= next_parent:
                next_parent = now + _PARENT_CHECK
                if not parent_alive(parent):
                    log.warning("supervisor is gone; stopping")
                    break
    finally:
        # The socket files first: whatever goes wrong below, none is left behind (unlinking
        # a bound path only takes its name away; the broker is going anyway).
        remove_ipc_file(config.pub)
        remove_ipc_file(config.sub)
        control.send(b"TERMINATE")
        forwarder.join(5.0)
        for sock in (control, pub, *monitors):
            sock.close(linger=0)
        if zap is not None:
            zap.stop()
        sockets.close()
        wakeup.close()
    log.info("broker stopped", **counts)
    return 0


def _secured_sockets(config: BrokerSettings, log: Any) -> tuple[SocketFactory, ZapHandler | None]:
    """The broker's socket factory, with the site's server keys and a running ZAP handler
    when the site uses CURVE. KeyProblem when the key folder has no server pair."""
    if config.keys is None:
        return SocketFactory(hwm=config.hwm), None
    folder = KeyFolder(config.keys)
    sockets = SocketFactory(hwm=config.hwm, server=folder.server())
    zap = ZapHandler(sockets.ctx, folder, log, who=NAME)
    zap.start_and_wait()
    return sockets, zap


def _link(config: BrokerSettings, sockets: SocketFactory) -> Link | None:
    """This host's link to the other hosts' brokers (None on a site of one host); KeyProblem
    when the key folder has no key for this host (``keys init`` or ``keys add --host``)."""
    if not config.host or config.keys is None or sockets.server is None:
        return None
    keys = KeyFolder(config.keys).client(Identity(HOST, config.host))
    plan = LinkPlan(
        config.host,
        config.link_bind,
        dict(config.peers),
        keys,
        sockets.server,
        dict(config.placement),
    )
    faults = HostFaults(config.host, config.fault_seed, config.host_faults)
    return Link(plan, sockets, faults if faults.rules else None)


def _drain(recent: collections.deque[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    while recent:
        out.append(recent.popleft())
    return out
