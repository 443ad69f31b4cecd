"""The one place ZeroMQ sockets are made, each kind with its options (shell).

High-water marks, linger, the largest frame accepted and the reconnect
intervals are set here and nowhere else, so that what every socket of a
kind needs (CURVE keys on a secured site) is added once. Sockets are made in the thread
and process that use them, never inherited across a fork.
"""

from __future__ import annotations

from typing import Final

import zmq

from actors.core.wire import MAX_FRAME_BYTES
from actors.keys import ClientKeys, ServerKeys
from actors.site import SiteConfig
from actors.zap import DOMAIN, LINK_DOMAIN

#: Seconds between ZMTP heartbeats on a link between hosts, and without one before the
#: link counts as cut.
LINK_HEARTBEAT: Final = 0.5
LINK_DEAD_AFTER: Final = 1.5
#: The largest control request or reply accepted (bytes).
MAX_CONTROL_BYTES: Final = 1 << 20
Context = zmq.Context[zmq.Socket[bytes]]
Socket = zmq.Socket[bytes]


class AuthenticationFailed(Exception):
    """The site refused this process's CURVE key at the handshake (unknown or revoked):
    waiting longer would not help. The message names the endpoint and the key."""

    #: The exit code of a command line tool that meets it (sysexits' EX_NOPERM).
    EXIT: Final = 77


#: The handshake events an :class:`AuthWatch` reads.
_HANDSHAKES: Final = zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED
#: Monitor events read per look, at most (a reconnecting socket makes one per attempt).
_EVENTS_PER_LOOK: Final = 100


class AuthWatch:
    """Watches the CURVE handshakes of client sockets, so that a refused key is told as
    "authentication failed" at once instead of a timeout (libzmq reports the ZAP
    handler's refusal to the client as a monitor event). Made in the thread that owns the
    sockets; :meth:`close` before they close."""

    def __init__(self, keys: ClientKeys | None, *socks: Socket) -> None:
        self.keys = keys
        self.socks = socks if keys is not None else ()
        self.monitors = [s.get_monitor_socket(_HANDSHAKES) for s in self.socks]
        self.refused_with: int | None = None

    def refused(self) -> int | None:
        """The ZAP status code (400, 300, 500) of the latest handshake the site refused,
        unless one succeeded since; None when none was refused."""
        from zmq.utils.monitor import recv_monitor_message  # noqa: PLC0415 - only with keys

        for monitor in self.monitors:
            for _ in range(_EVENTS_PER_LOOK):
                if not monitor.poll(0):
                    break
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
                if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    self.refused_with = int(event["value"])
                elif event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self.refused_with = None
        return self.refused_with

    def failure(
        self, endpoint: str, kind: type[AuthenticationFailed] = AuthenticationFailed
    ) -> AuthenticationFailed:
        """The error (of *kind*) that says the key was refused at *endpoint*."""
        who = self.keys.identity if self.keys is not None else "?"
        return kind(
            f"authentication failed: the site at {endpoint} refused the key {who} "
            f"(ZAP status {self.refused_with}: a key it does not know, or one revoked; "
            "`keys list` on the site's host shows the keys it knows)"
        )

    def close(self) -> None:
        """Stop watching (the sockets stay open)."""
        for sock, monitor in zip(self.socks, self.monitors, strict=True):
            sock.disable_monitor()
            monitor.close(linger=0)
        self.monitors = []
        self.socks = ()


class SocketFactory:
    """Makes the sockets of one process (or thread) from one context."""

    def __init__(
        self,
        ctx: Context | None = None,
        *,
        hwm: int = 10000,
        keys: ClientKeys | None = None,
        server: ServerKeys | None = None,
    ) -> None:
        self._own = ctx is None
        self.ctx: Context = ctx if ctx is not None else zmq.Context()
        self.hwm = hwm
        #: The CURVE keys client sockets connect with (None: no CURVE).
        self.keys = keys
        #: The site's server pair, for the sockets that bind (None: no CURVE).
        self.server = server

    @classmethod
    def from_site(
        cls,
        site: SiteConfig,
        ctx: Context | None = None,
        *,
        keys: ClientKeys | None = None,
        server: ServerKeys | None = None,
    ) -> SocketFactory:
        """A factory with *site*'s settings (its broker's high-water mark) and keys."""
        return cls(ctx, hwm=site.broker.hwm, keys=keys, server=server)

    def _secure_client(self, sock: Socket) -> Socket:
        if self.keys is not None:
            sock.setsockopt(zmq.CURVE_SERVERKEY, self.keys.server)
            sock.setsockopt(zmq.CURVE_PUBLICKEY, self.keys.public)
            sock.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)
        return sock

    def _secure_server(self, sock: Socket) -> Socket:
        if self.server is not None:
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, self.server.secret)
            sock.setsockopt(zmq.ZAP_DOMAIN, DOMAIN)
        return sock

    def _reconnecting(self, kind: int, reconnect_max_ms: int) -> Socket:
        sock = self._secure_client(self.ctx.socket(kind))
        # Retry a broker not (or no longer) there after 10 ms, backing off up to
        # reconnect_max_ms (0: no backoff): readiness waits on the first connection.
        sock.setsockopt(zmq.RECONNECT_IVL, 10)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, reconnect_max_ms)
        return sock

    def publisher(self, endpoint: str, reconnect_max_ms: int = 100) -> Socket:
        """A PUB socket connected to the broker's publisher side."""
        sock = self._reconnecting(zmq.PUB, reconnect_max_ms)
        sock.setsockopt(zmq.SNDHWM, self.hwm)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.connect(endpoint)
        return sock

    def subscriber(self, endpoint: str, reconnect_max_ms: int = 100) -> Socket:
        """A SUB socket connected to the broker's subscriber side (no subscription yet)."""
        sock = self._reconnecting(zmq.SUB, reconnect_max_ms)
        sock.setsockopt(zmq.RCVHWM, self.hwm)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES + 4096)
        sock.connect(endpoint)
        return sock

    def forwarder(self, kind: int) -> Socket:
        """The broker's XSUB (publishers' side) or XPUB (subscribers' side); the caller binds."""
        sock = self._secure_server(self.ctx.socket(kind))
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, self.hwm)
        sock.setsockopt(zmq.RCVHWM, self.hwm)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES + 4096)
        return sock

    def link_export(self, server: ServerKeys) -> Socket:
        """A host's export to the other hosts' brokers (XPUB; CURVE, host keys only, ZMTP
        heartbeats); the caller binds it."""
        sock = self.ctx.socket(zmq.XPUB)
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, server.secret)
        sock.setsockopt(zmq.ZAP_DOMAIN, LINK_DOMAIN)
        return self._link(sock)

    def link_import(self, keys: ClientKeys) -> Socket:
        """A host's import from the other hosts' exports (XSUB; CURVE with the host's key,
        ZMTP heartbeats, reconnecting every 0.1 s up to 1 s); the caller connects it."""
        sock = self.ctx.socket(zmq.XSUB)
        sock.setsockopt(zmq.CURVE_SERVERKEY, keys.server)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        return self._link(sock)

    def _link(self, sock: Socket) -> Socket:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, self.hwm)
        sock.setsockopt(zmq.RCVHWM, self.hwm)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES + 4096)
        # A cut link is noticed in LINK_DEAD_AFTER seconds even when TCP says nothing.
        sock.setsockopt(zmq.HEARTBEAT_IVL, int(LINK_HEARTBEAT * 1000))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(LINK_DEAD_AFTER * 1000))
        sock.setsockopt(zmq.HEARTBEAT_TTL, int(LINK_DEAD_AFTER * 1000))
        return sock

    def pair(self, endpoint: str, *, bind: bool = False) -> Socket:
        """One end of an in-process pipe (a worker thread's control, a socket monitor)."""
        sock = self.ctx.socket(zmq.PAIR)
        if bind:
            sock.bind(endpoint)
        else:
            sock.connect(endpoint)
        return sock

    def inproc_publisher(self, endpoint: str) -> Socket:
        """A PUB connected to an in-process endpoint (the broker's own heartbeat)."""
        sock = self.ctx.socket(zmq.PUB)
        sock.connect(endpoint)
        return sock

    def control_server(self) -> Socket:
        """The supervisor's ROUTER for control requests (the caller binds it)."""
        sock = self._secure_server(self.ctx.socket(zmq.ROUTER))
        sock.setsockopt(zmq.LINGER, 500)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_CONTROL_BYTES)
        return sock

    def control_client(self, endpoint: str) -> Socket:
        """A DEALER connected to a supervisor's control endpoint."""
        sock = self._secure_client(self.ctx.socket(zmq.DEALER))
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        return sock

    def close(self) -> None:
        """End the context if this factory made it (its sockets must be closed by then)."""
        if self._own:
            self.ctx.term()
