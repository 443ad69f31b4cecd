"""The links between the brokers of a site on several hosts (shell).

Each host's broker binds one *export* socket (an XPUB on ``[hosts.NAME] port``,
CURVE, host keys only) and connects one *import* socket (an XSUB) to every
other host's export. The rule that keeps this full mesh free of loops is
NATS's for routes: a message that came from another host is delivered to this
host's subscribers only, never exported again; what this host's publishers
send is exported to every host that asked for it.

Interest travels the other way, as ZeroMQ subscriptions: each prefix this
host's subscribers hold is subscribed once on the import socket (counted, so
that the last unsubscribe cancels it), which ZeroMQ passes to every peer's
export and sends again by itself after a reconnection. A peer's export
filters in C: a topic no other host reads never leaves its host, and traffic
between the actors of one host never touches a link.

Both sockets send ZMTP heartbeats, so a cut link is noticed within
:data:`~actors.sockets.LINK_DEAD_AFTER` seconds even when TCP says nothing: the import's pipe to
that peer closes, and what the peer publishes meanwhile is dropped there
(receivers count it as a gap when the link returns, as for any lost message).
A socket monitor on the import tells each peer's state (``up``/``down``, and
``never`` until its first handshake), which the broker's heartbeat reports.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import Any, Final

import zmq
from zmq.utils.monitor import parse_monitor_message

from actors.keys import ClientKeys, ServerKeys
from actors.sockets import Socket, SocketFactory

#: Messages (and subscriptions) taken from a link per loop turn, at most.
BATCH: Final = 1000
_MONITOR: Final = "inproc://broker.link.monitor"
_UP: Final = zmq.EVENT_HANDSHAKE_SUCCEEDED
_DOWN: Final = zmq.EVENT_DISCONNECTED
_NOBLOCK: Final = zmq.NOBLOCK
_SNDMORE: Final = zmq.SNDMORE
_recv: Final = zmq.backend.Socket.recv
_send: Final = zmq.backend.Socket.send


@dataclass(frozen=True)
class LinkPlan:
    """Where this host's link binds and which peers' exports it imports from."""

    #: This host's name and where its export binds.
    host: str
    bind: str
    #: Peer host -> its export endpoint.
    peers: dict[str, str]
    #: This host's key (its imports connect with it) and the site's server pair (its
    #: export binds with it).
    keys: ClientKeys
    server: ServerKeys


class Link:
    """This broker's export and import sockets, made and used in the forwarder's thread."""

    def __init__(self, plan: LinkPlan, sockets: SocketFactory) -> None:
        self.plan = plan
        self.sockets = sockets
        self.export: Socket | None = None
        self.imports: Socket | None = None
        self.monitor: Socket | None = None
        #: Peer -> "never" (no handshake yet), "up" or "down", and since when (epoch s).
        self.state: dict[str, tuple[str, float]] = dict.fromkeys(plan.peers, ("never", time.time()))
        #: Messages sent to other hosts' brokers, and taken from them.
        self.exported = 0
        self.imported = 0
        #: Prefix -> how many of this host's subscriptions hold it.
        self._interest: collections.Counter[bytes] = collections.Counter()
        self._peer_of = {endpoint: peer for peer, endpoint in plan.peers.items()}

    def open(self) -> None:
        """Bind the export, connect the imports (in the thread that uses them); ZMQError if
        the export's port cannot be bound."""
        self.export = self.sockets.link_export(self.plan.server)
        self.imports = self.sockets.link_import(self.plan.keys)
        self.imports.monitor(_MONITOR, _UP | _DOWN)  # binds a pipe there...
        self.monitor = self.sockets.pair(_MONITOR)  # ...that this end reads
        self.export.bind(self.plan.bind)
        for endpoint in self.plan.peers.values():
            self.imports.connect(endpoint)

    def sockets_to_poll(self) -> tuple[Socket, ...]:
        """What the forwarder polls for the link."""
        assert self.export is not None and self.imports is not None and self.monitor is not None
        return self.export, self.imports, self.monitor

    def serve(self, ready: dict[Any, int], xpub: Socket) -> None:
        """Handle what the link's sockets have (*ready*: the forwarder's poll)."""
        if self.imports in ready:
            self.forward_in(xpub)
        if self.export in ready:
            self.peers_asking()
        if self.monitor in ready:
            self.watch()

    # -- what goes out -----------------------------------------------------------------------

    def forward_out(self, frames: list[zmq.Frame]) -> None:
        """Export a message of this host's publishers (the peers' subscriptions filter it;
        one no host reads costs a lookup)."""
        export = self.export
        assert export is not None
        last = len(frames) - 1
        try:
            for i, frame in enumerate(frames):
                _send(export, frame, (_SNDMORE if i < last else 0) | _NOBLOCK, False)
        except zmq.Again:  # XPUB drops at its high-water mark rather than block: not reached
            return
        self.exported += 1

    def interest(self, subscription: bytes) -> None:
        """A subscription (``\\x01prefix``) or a cancel (``\\x00prefix``) of this host's
        subscribers: the first of a prefix is asked of the peers, the last cancel withdrawn."""
        if not subscription or subscription[0] not in (0, 1):
            return
        prefix = subscription[1:]
        if subscription[0] == 1:
            self._interest[prefix] += 1
            if self._interest[prefix] == 1:
                self._ask(subscription)
        elif self._interest[prefix] > 0:
            self._interest[prefix] -= 1
            if self._interest[prefix] == 0:
                del self._interest[prefix]
                self._ask(subscription)

    def _ask(self, subscription: bytes) -> None:
        assert self.imports is not None
        self.imports.send(subscription)

    # -- what comes in -----------------------------------------------------------------------

    def forward_in(self, xpub: Socket) -> None:
        """Deliver what the peers sent to this host's subscribers (never exported again),
        at most :data:`BATCH` messages."""
        imports = self.imports
        assert imports is not None
        for _ in range(BATCH):
            try:
                first = _recv(imports, _NOBLOCK, False)
            except zmq.Again:
                return
            frames = [first]
            while frames[-1].more:
                frames.append(_recv(imports, 0, False))
            last = len(frames) - 1
            for i, frame in enumerate(frames):
                _send(xpub, frame, _SNDMORE if i < last else 0, False)
            self.imported += 1

    def peers_asking(self) -> None:
        """Read the peers' subscriptions off the export (libzmq has applied them already)."""
        export = self.export
        assert export is not None
        for _ in range(BATCH):
            try:
                frame = export.recv(_NOBLOCK, copy=False)
            except zmq.Again:
                return
            while frame.more:
                frame = export.recv(copy=False)

    def watch(self) -> None:
        """Follow each peer's import connection from the socket monitor."""
        monitor = self.monitor
        assert monitor is not None
        for _ in range(BATCH):
            try:
                event = parse_monitor_message(monitor.recv_multipart(_NOBLOCK))
            except zmq.Again:
                return
            peer = self._peer_of.get(event["endpoint"].decode(errors="replace"))
            if peer is None:
                continue
            state = "up" if event["event"] == _UP else "down"
            if self.state[peer][0] != state:
                self.state[peer] = (state, time.time())

    def report(self) -> dict[str, object]:
        """What the broker's heartbeat says of the link."""
        return {
            "peers": {p: {"state": s, "since": round(t, 3)} for p, (s, t) in self.state.items()},
            "exported": self.exported,
            "imported": self.imported,
            "interest": len(self._interest),
        }

    def close(self) -> None:
        """Close the link's sockets (in the forwarder's thread)."""
        if self.imports is not None:
            self.imports.disable_monitor()
        for sock in (self.export, self.imports, self.monitor):
            if sock is not None:
                sock.close(linger=0)
