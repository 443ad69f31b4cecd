"""The broker of a checked site: forwarding in Python, each message held against its
sender's rights (shell).

On a site with CURVE and access checks, every connection carries its
identity (the ZAP User-Id, see :mod:`actors.zap`) on each message it sends.
:class:`CheckingForwarder` replaces libzmq's proxy with a loop that delivers a
message only if its identity may publish on its topic
(:class:`~actors.core.access.Rights`) and its envelope names that identity as
the sender; a subscription takes effect only if the identity may read what it
covers (the XPUB socket is in manual mode: a refused subscription is never
made). Everything refused is dropped, counted per identity and kept in a short
list of recent denials that the broker's heartbeat carries to the supervisor,
which reports each as a ``denied`` event.

The access table comes from the supervisor, on ``$sys.access`` (honoured only
from the supervisor's identity): the actors' rights from their declarations
and the tools' from their roles. The publishers' side subscribes to everything
once, so that what a subscriber is refused never disturbs another's
subscription upstream.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Final, cast

import msgpack
import zmq

from actors.core.access import SUPERVISOR, SYS_ACCESS, AccessError, AccessTable
from actors.core.wire import MESSAGE_FRAMES, WIRE_VERSION, WireError, decode_envelope
from actors.keys import Identity
from actors.sockets import Socket

#: Messages (and subscriptions) handled per socket per loop turn, at most.
BATCH: Final = 1000
#: Verdicts cached per (identity, topic), at most (a sender spraying topics is bounded).
_CACHE: Final = 65536
#: Recent denials kept for the next heartbeat, at most (the rest are counted only).
_RECENT: Final = 50
_ACCESS: Final = SYS_ACCESS.encode()
_ARRAY_OF_SIX: Final = 0x96
_NOBLOCK: Final = zmq.NOBLOCK
_SNDMORE: Final = zmq.SNDMORE
_recv: Final = zmq.backend.Socket.recv
_send: Final = zmq.backend.Socket.send


def sender_prefix(name: str) -> bytes:
    """The first bytes of every envelope *name* sends: the array header, the wire version
    and the sender's name as msgpack writes it."""
    packed: bytes = msgpack.packb(name)
    return bytes([_ARRAY_OF_SIX, WIRE_VERSION]) + packed


class CheckingForwarder:
    """The forwarding of a checked broker (its worker thread runs it): forwards what is
    allowed (see the module docstring)."""

    manual = True

    def __init__(self, log: Any) -> None:
        self.log = log
        self.table = AccessTable()
        #: Denied messages and subscriptions per identity (User-Id).
        self.denied: collections.Counter[str] = collections.Counter()
        #: The latest denials (identity, what, topic, reason), taken by the heartbeat.
        self.recent: collections.deque[dict[str, str]] = collections.deque(maxlen=_RECENT)
        #: (identity, topic) allowed -> the first bytes its envelopes must have.
        self._senders: dict[tuple[str, bytes], bytes] = {}

    def forward(self, xsub: Socket, xpub: Socket, control: Socket, bound: threading.Event) -> None:
        """Set *bound*, then forward what is allowed until *control* says stop."""
        xsub.send(b"\x01")  # everything, once: subscriptions are checked on the XPUB side
        bound.set()
        poller = zmq.Poller()
        for sock in (xsub, xpub, control):
            poller.register(sock, zmq.POLLIN)
        while True:
            events = dict(poller.poll())
            if control in events:
                return
            if xsub in events:
                self._forward(xsub, xpub)
            if xpub in events:
                self._subscriptions(xpub)

    # -- messages -------------------------------------------------------------------------

    def _forward(self, xsub: zmq.Socket[bytes], xpub: zmq.Socket[bytes]) -> None:
        # The compiled receive and send (pyzmq's Python wrappers cost about a microsecond a
        # call), and the frames' own more-flags: the hot loop of a checked site.
        recv, send, allowed = _recv, _send, self._allowed
        for _ in range(BATCH):
            try:
                first = recv(xsub, _NOBLOCK, False)
            except zmq.Again:
                return
            frames = [first]
            while frames[-1].more:  # a multipart is queued whole: this ends
                frames.append(recv(xsub, 0, False))
            try:
                user = cast(str, first.get("User-Id"))
            except zmq.ZMQError:
                user = ""  # the broker's own heartbeat, from inproc: no handshake
            if user and not allowed(user, frames):
                continue
            last = len(frames) - 1
            for i, frame in enumerate(frames):
                send(xpub, frame, _SNDMORE if i < last else 0, False)

    def _allowed(self, user: str, frames: list[zmq.Frame]) -> bool:
        topic = frames[0].bytes
        if len(frames) != MESSAGE_FRAMES:
            return self._deny(user, "publish", topic, f"{len(frames)} frames, not 2")
        prefix = self._senders.get((user, topic))
        if prefix is None:
            if user == SUPERVISOR:
                if topic == _ACCESS:
                    self._apply(frames[1].bytes)
                    return False
                return True
            verdict = self._judge(user, topic)
            if verdict:
                return self._deny(user, "publish", topic, verdict)
            prefix = self._senders[user, topic]
        if frames[1].buffer[: len(prefix)] != prefix:
            return self._deny(user, "publish", topic, "the envelope names another sender")
        return True

    def _judge(self, user: str, topic: bytes) -> str:
        """Why *user* may not publish on *topic* ("" when it may: then cached, with the
        envelope prefix its messages must carry). A refusal is not cached: each costs a
        judgement, as it should."""
        identity = Identity.parse(user)
        rights = self.table.rights(identity.kind, identity.name) if identity else None
        try:
            text = topic.decode()
        except UnicodeDecodeError:
            text = ""
        if rights is None:
            verdict = "no rights on this site"
        elif not text or not rights.may_publish(text):
            verdict = "not allowed to publish this topic"
        else:
            verdict = ""
        if not verdict:  # allowed: remembered with the sender its envelopes must name
            if len(self._senders) >= _CACHE:
                self._senders.clear()
            self._senders[user, topic] = sender_prefix(identity.name if identity else "")
        return verdict

    def _deny(self, user: str, what: str, topic: bytes, reason: str) -> bool:
        self.denied[user] += 1
        self.recent.append(
            {
                "identity": user,
                "what": what,
                "topic": topic[:255].decode(errors="replace"),
                "reason": reason,
            }
        )
        return False

    def _apply(self, envelope: bytes) -> None:
        try:
            table = AccessTable.decode(decode_envelope(envelope).payload)
        except (WireError, AccessError) as exc:
            self.log.error("access table refused", error=str(exc))
            return
        if table.version != self.table.version:
            self.log.info("access table applied", version=table.version, actors=len(table.actors))
        self.table = table
        self._senders.clear()

    # -- subscriptions ------------------------------------------------------------------------

    def _subscriptions(self, xpub: zmq.Socket[bytes]) -> None:
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
            prefix = data[1:]
            if data[0] == 0:
                # A cancel applies to the pipe that sent it (a gone pipe's: to none).
                xpub.setsockopt(zmq.UNSUBSCRIBE, prefix)
                continue
            try:
                user = str(frame.get("User-Id"))
            except zmq.ZMQError:
                user = ""
            if self._may_subscribe(user, prefix):
                xpub.setsockopt(zmq.SUBSCRIBE, prefix)
            else:
                self._deny(user or "?", "subscribe", prefix, "not allowed to read this prefix")

    def _may_subscribe(self, user: str, prefix: bytes) -> bool:
        if user == SUPERVISOR:
            return True
        identity = Identity.parse(user)
        rights = self.table.rights(identity.kind, identity.name) if identity else None
        try:
            text = prefix.decode()
        except UnicodeDecodeError:
            return False
        return rights is not None and rights.may_subscribe(text)
