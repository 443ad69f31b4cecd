"""The links between the brokers of a site on several hosts (shell).

Each host's broker binds one *export* socket (an XPUB on ``[hosts.NAME] port``, CURVE,
host keys only) and connects an *import* socket (an XSUB) to each other host's export
(one per peer: what comes in is known to come from it). The rule that keeps this full
mesh free of loops is NATS's for routes: a message that came from another host is
delivered to this host's subscribers only, never exported again; what this host's
publishers send is exported to every host that asked for it.

Interest travels the other way, as ZeroMQ subscriptions: each prefix this host's
subscribers hold is subscribed once on the imports (counted, so that the last
unsubscribe cancels it), which ZeroMQ passes to every peer's export and sends again by
itself after a reconnection. A peer's export filters in C: a topic no other host reads
never leaves its host, and traffic between the actors of one host never touches a
link.

Both ends send ZMTP heartbeats, so a cut link is noticed within
:data:`~actors.sockets.LINK_DEAD_AFTER` seconds even when TCP says nothing: the pipe
to that peer closes, and what the peer publishes meanwhile is dropped there (receivers
count it as a gap when the link returns, as for any lost message). A host trusts
another host's broker, which checked its own publishers against the site's access
table, with one exception: a message from a peer that names an actor of another host
as its sender is refused and counted (``forged``), so a host cannot pose as another's
actors. A socket monitor on each import tells each peer's state (``up``/``down``, and
``never`` until its first handshake), which the broker's heartbeat reports with the
faults of the host hop (:mod:`broker.host_faults`) that this broker applied.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any, Final

import zmq
from zmq.utils.monitor import parse_monitor_message

from actors.core.calls import SYS_SERVICES
from actors.core.wire import envelope_sender
from actors.keys import ClientKeys, ServerKeys
from actors.sockets import Socket, SocketFactory
from broker.host_faults import HostFaults

#: Messages (and subscriptions) taken from a link per loop turn, at most.
BATCH: Final = 1000
#: Topics each host has its own of, which never cross: the directory of servers (each
#: host's supervisor lists the whole site's, from the other hosts' reports).
HOST_LOCAL: Final = frozenset({SYS_SERVICES.encode()})
_MONITOR: Final = "inproc://broker.link.monitor.{}"
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
    #: Each actor of the site and its host: a peer's message naming an actor of another
    #: host as its sender is refused (a host cannot pose as another's actors).
    placement: dict[str, str] = field(default_factory=dict)


class Link:
    """This broker's export and import sockets, made and used in the forwarder's thread."""

    def __init__(
        self, plan: LinkPlan, sockets: SocketFactory, faults: HostFaults | None = None
    ) -> None:
        self.plan = plan
        self.sockets = sockets
        #: The host faults this broker applies to what it takes (None: no host rule).
        self.faults = faults
        self.export: Socket | None = None
        #: One import per peer host (so that what comes in is known to come from it).
        self.imports: dict[str, Socket] = {}
        self.monitors: dict[str, Socket] = {}
        #: Peer -> "never" (no handshake yet), "up" or "down", and since when (epoch s).
        self.state: dict[str, tuple[str, float]] = dict.fromkeys(plan.peers, ("never", time.time()))
        #: Messages sent to other hosts' brokers, and taken from them.
        self.exported = 0
        self.imported = 0
        #: Prefix -> how many of this host's subscriptions hold it.
        self._interest: collections.Counter[bytes] = collections.Counter()
        self._polled: dict[Any, tuple[str, str]] = {}
        #: Messages of each peer refused for naming another host's actor as their sender.
        self.forged: collections.Counter[str] = collections.Counter()
        self._posing: dict[str, frozenset[str]] = {
            peer: frozenset(a for a, h in plan.placement.items() if h != peer)
            for peer in plan.peers
        }

    def open(self) -> None:
        """Bind the export, connect the imports (in the thread that uses them); ZMQError if
        the export's port cannot be bound."""
        self.export = self.sockets.link_export(self.plan.server)
        self._polled[self.export] = ("export", "")
        for peer in self.plan.peers:
            sock = self.imports[peer] = self.sockets.link_import(self.plan.keys)
            sock.monitor(_MONITOR.format(peer), _UP | _DOWN)  # binds a pipe there...
            self.monitors[peer] = self.sockets.pair(_MONITOR.format(peer))  # ...read here
            self._polled[sock] = ("import", peer)
            self._polled[self.monitors[peer]] = ("monitor", peer)
        self.export.bind(self.plan.bind)
        for peer, endpoint in self.plan.peers.items():
            self.imports[peer].connect(endpoint)

    def sockets_to_poll(self) -> tuple[Socket, ...]:
        """What the forwarder polls for the link."""
        return tuple(self._polled)

    def serve(self, ready: dict[Any, int], xpub: Socket) -> None:
        """Handle what the link's sockets have (*ready*: the forwarder's poll), and the
        messages a delay fault held whose time has come."""
        for sock in ready:
            what, peer = self._polled.get(sock, ("", ""))
            if what == "import":
                self.forward_in(peer, xpub)
            elif what == "export":
                self.peers_asking()
            elif what == "monitor":
                self.watch(peer)
        if self.faults is not None:
            self.faults.release(xpub)

    def timeout(self) -> int | None:
        """Milliseconds the forwarder may wait for its sockets (None: no held message)."""
        return self.faults.timeout() if self.faults is not None else None

    # -- what goes out -----------------------------------------------------------------------

    def forward_out(self, frames: list[zmq.Frame]) -> None:
        """Export a message of this host's publishers (the peers' subscriptions filter it;
        one no host reads costs a lookup); a host's own (:data:`HOST_LOCAL`) stays here."""
        export = self.export
        assert export is not None
        if frames[0].bytes in HOST_LOCAL:
            return
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
        for sock in self.imports.values():
            sock.send(subscription)

    # -- what comes in -----------------------------------------------------------------------

    def forward_in(self, peer: str, xpub: Socket) -> None:
        """Deliver what host *peer* sent to this host's subscribers (never exported again),
        at most :data:`BATCH` messages, through the host faults if any rule applies."""
        imports, faults, posing = self.imports[peer], self.faults, self._posing[peer]
        for _ in range(BATCH):
            try:
                first = _recv(imports, _NOBLOCK, False)
            except zmq.Again:
                return
            frames = [first]
            while frames[-1].more:
                frames.append(_recv(imports, 0, False))
            self.imported += 1
            if len(frames) > 1 and envelope_sender(frames[1].buffer) in posing:
                self.forged[peer] += 1
                continue
            if faults is not None and not faults.take(peer, frames, xpub, self.forward_out):
                continue  # dropped or held
            last = len(frames) - 1
            for i, frame in enumerate(frames):
                _send(xpub, frame, _SNDMORE if i < last else 0, False)

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

    def watch(self, peer: str) -> None:
        """Follow host *peer*'s import connection from its socket monitor."""
        monitor = self.monitors[peer]
        for _ in range(BATCH):
            try:
                event = parse_monitor_message(monitor.recv_multipart(_NOBLOCK))
            except zmq.Again:
                return
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
            "forged": dict(self.forged),
            **({"faults": self.faults.injected} if self.faults is not None else {}),
        }

    def close(self) -> None:
        """Close the link's sockets (in the forwarder's thread)."""
        for sock in self.imports.values():
            sock.disable_monitor()
        if self.export is not None:
            self.export.close(linger=0)
        for sock in (*self.imports.values(), *self.monitors.values()):
            sock.close(linger=0)
