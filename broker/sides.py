"""The broker's two sides, bound and closed in one place, for either worker (shell).

:class:`Worker` is the thread that owns the XSUB (publishers') and XPUB
(subscribers') sockets and the control pipe: it creates and binds them, with
their monitors, signals ``bound`` (or ``error``), hands them to its
:class:`Forwarding` until told to stop, and closes them. The plain broker
forwards with libzmq's proxy (:mod:`broker.proxy`), a checked one with a Python
loop (:mod:`broker.checks`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import zmq

from actors.sockets import Socket, SocketFactory


@dataclass(frozen=True)
class Endpoints:
    """Where the broker's worker binds, and what its socket monitors report."""

    pub: str
    sub: str
    #: The broker's own publisher (its heartbeat) connects here.
    inproc: str
    #: The control pipe the main thread stops the worker through.
    control: str
    #: The monitors' endpoints (``{}``: the side), and the events they report (none at
    #: bind: a monitor's pipe blocks until the main thread reads it).
    monitor: str
    events: int


class Forwarding(Protocol):
    """How a broker forwards between its two sides (the worker owns the sockets)."""

    #: Whether the XPUB side leaves subscriptions to :meth:`forward` (``XPUB_MANUAL``).
    manual: bool

    def forward(self, xsub: Socket, xpub: Socket, control: Socket, bound: threading.Event) -> None:
        """Set *bound*, then forward until *control* says stop."""
        ...


class Worker(threading.Thread):
    """Creates, binds and closes the broker's two sides; its *forwarding* forwards between
    them."""

    def __init__(
        self, sockets: SocketFactory, endpoints: Endpoints, name: str, forwarding: Forwarding
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.sockets = sockets
        self.endpoints = endpoints
        self.forwarding = forwarding
        self.bound = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        ends = self.endpoints
        xsub = self.sockets.forwarder(zmq.XSUB)
        xpub = self.sockets.forwarder(zmq.XPUB)
        if self.forwarding.manual:
            xpub.setsockopt(zmq.XPUB_MANUAL, 1)
        control = self.sockets.pair(ends.control, bind=True)
        try:
            xsub.monitor(ends.monitor.format("xsub"), ends.events)
            xpub.monitor(ends.monitor.format("xpub"), ends.events)
            xsub.bind(ends.pub)
            xsub.bind(ends.inproc)
            xpub.bind(ends.sub)
        except zmq.ZMQError as exc:
            self.error = exc
            self.bound.set()
            for sock in (xsub, xpub, control):
                sock.close(linger=0)
            return
        try:
            self.forwarding.forward(xsub, xpub, control, self.bound)
        except zmq.ContextTerminated:
            pass
        finally:
            xsub.disable_monitor()
            xpub.disable_monitor()
            for sock in (xsub, xpub, control):
                sock.close(linger=0)
