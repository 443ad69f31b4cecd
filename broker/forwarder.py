"""The broker's forwarding in Python, for a checked site or a site on several hosts (shell).

libzmq's proxy (:mod:`broker.proxy`) forwards a plain site's messages in C.
When each message must be held against its sender's rights
(:class:`~broker.checks.AccessChecks`), or when this host's broker is linked to
the other hosts' (:class:`~broker.link.Link`), :class:`Forwarder` runs this loop
in the broker's worker thread instead:

- a message of this host's publishers goes, if allowed, to this host's
  subscribers and to the link's export (the peers' subscriptions filter it);
- a message from another host goes to this host's subscribers only;
- a subscription of this host's subscribers takes effect if allowed and is
  counted into the link's interest (asked of the peers once per prefix).

Every socket is read at most a batch per turn, so neither side starves the other.
"""

from __future__ import annotations

import threading
from typing import Any, Final, cast

import zmq

from actors.sockets import Socket
from broker.checks import AccessChecks
from broker.link import Link

#: Messages (and subscriptions) handled per socket per loop turn, at most.
BATCH: Final = 1000
_NOBLOCK: Final = zmq.NOBLOCK
_SNDMORE: Final = zmq.SNDMORE
_recv: Final = zmq.backend.Socket.recv
_send: Final = zmq.backend.Socket.send


class Forwarder:
    """Forwards between a broker's two sides, with access checks, a link to other hosts,
    or both (see the module docstring)."""

    def __init__(self, checks: AccessChecks | None, link: Link | None) -> None:
        self.checks = checks
        self.link = link
        #: Whether the XPUB side leaves subscriptions to this loop (needed by the checks).
        self.manual = checks is not None
        #: Why the link could not be opened (its port taken), if it could not.
        self.error: Exception | None = None

    def forward(self, xsub: Socket, xpub: Socket, control: Socket, bound: threading.Event) -> None:
        """Set *bound*, then forward until *control* says stop."""
        xsub.send(b"\x01")  # everything, once: subscriptions are checked on the XPUB side
        link = self.link
        if link is not None:
            try:
                link.open()
            except zmq.ZMQError as exc:
                self.error = exc
                link.close()
                bound.set()
                return
        bound.set()
        poller = zmq.Poller()
        for sock in (xsub, xpub, control, *(link.sockets_to_poll() if link else ())):
            poller.register(sock, zmq.POLLIN)
        try:
            while True:
                events = dict(poller.poll(link.timeout() if link is not None else None))
                if control in events:
                    return
                if xsub in events:
                    self._forward(xsub, xpub)
                if xpub in events:
                    self._subscriptions(xpub)
                if link is not None:
                    link.serve(events, xpub)  # and what a host fault held, when it is due
        finally:
            if link is not None:
                link.close()

    def _forward(self, xsub: zmq.Socket[bytes], xpub: zmq.Socket[bytes]) -> None:
        # The compiled receive and send (pyzmq's Python wrappers cost about a microsecond a
        # call), and the frames' own more-flags: the hot loop of a checked site.
        recv, send = _recv, _send
        allowed = self.checks.allowed if self.checks is not None else None
        out = self.link.forward_out if self.link is not None else None
        for _ in range(BATCH):
            try:
                first = recv(xsub, _NOBLOCK, False)
            except zmq.Again:
                return
            frames = [first]
            while frames[-1].more:  # a multipart is queued whole: this ends
                frames.append(recv(xsub, 0, False))
            if allowed is not None:
                try:
                    user = cast(str, first.get("User-Id"))
                except zmq.ZMQError:
                    user = ""  # the broker's own heartbeat, from inproc: no handshake
                if user and not allowed(user, frames):
                    continue
            last = len(frames) - 1
            for i, frame in enumerate(frames):
                send(xpub, frame, _SNDMORE if i < last else 0, False)
            if out is not None:
                out(frames)

    def _subscriptions(self, xpub: zmq.Socket[bytes]) -> None:
        checks, link = self.checks, self.link
        for _ in range(BATCH):
            try:
                frame = xpub.recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            data = frame.bytes
            if not data or data[0] not in (0, 1) or frame.more:
                while frame.more:  # not a subscription: read it whole and drop it
                    frame = xpub.recv(copy=False)
                continue
            if checks is None:  # libzmq applied it; passed up once per prefix
                if link is not None:
                    link.interest(data)
                continue
            prefix = data[1:]
            if data[0] == 0:
                # A cancel applies to the pipe that sent it (a gone pipe's: to none).
                xpub.setsockopt(zmq.UNSUBSCRIBE, prefix)
            else:
                try:
                    user = str(frame.get("User-Id"))
                except zmq.ZMQError:
                    user = ""
                if not checks.subscription(user, prefix):
                    continue
                xpub.setsockopt(zmq.SUBSCRIBE, prefix)
            if link is not None:
                link.interest(data)


def security_stats(checks: AccessChecks | None, zap: Any) -> dict[str, Any]:
    """What the heartbeat says of authentication and access checks (nothing when off)."""
    out: dict[str, Any] = {}
    if zap is not None:
        out["refused"] = zap.refused
    if checks is not None:
        out["denied"] = sum(checks.denied.values())
        out["denied_by"] = dict(checks.denied)
    return out
