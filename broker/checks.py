"""The access checks of a checked site's broker: each message held against its sender's
rights (shell: the forwarding loop that asks them is :mod:`broker.forwarder`).

On a site with CURVE and access checks, every connection carries its
identity (the ZAP User-Id, see :mod:`actors.zap`) on each message it sends.
:class:`AccessChecks` lets the forwarder deliver a
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
from typing import Any, Final

import msgpack
import zmq

from actors.core.access import SUPERVISOR, SYS_ACCESS, AccessError, AccessTable
from actors.core.wire import MESSAGE_FRAMES, WIRE_VERSION, WireError, decode_envelope
from actors.keys import Identity

#: Verdicts cached per (identity, topic), at most (a sender spraying topics is bounded).
_CACHE: Final = 65536
#: Recent denials kept for the next heartbeat, at most (the rest are counted only).
_RECENT: Final = 50
_ACCESS: Final = SYS_ACCESS.encode()
_ARRAY_OF_SIX: Final = 0x96


def sender_prefix(name: str) -> bytes:
    """The first bytes of every envelope *name* sends: the array header, the wire version
    and the sender's name as msgpack writes it."""
    packed: bytes = msgpack.packb(name)
    return bytes([_ARRAY_OF_SIX, WIRE_VERSION]) + packed


class AccessChecks:
    """The access checks of a checked broker (its forwarder, :mod:`broker.forwarder`, asks
    them about each message and each subscription; see the module docstring)."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.table = AccessTable()
        #: Denied messages and subscriptions per identity (User-Id).
        self.denied: collections.Counter[str] = collections.Counter()
        #: The latest denials (identity, what, topic, reason), taken by the heartbeat.
        self.recent: collections.deque[dict[str, str]] = collections.deque(maxlen=_RECENT)
        #: (identity, topic) allowed -> the first bytes its envelopes must have.
        self._senders: dict[tuple[str, bytes], bytes] = {}

    def allowed(self, user: str, frames: list[zmq.Frame]) -> bool:
        """Whether *user* may send *frames* (a refusal is counted and kept)."""
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

    def subscription(self, user: str, prefix: bytes) -> bool:
        """Whether *user* may subscribe to *prefix* (a refusal is counted and kept)."""
        if self._may_subscribe(user, prefix):
            return True
        self._deny(user or "?", "subscribe", prefix, "not allowed to read this prefix")
        return False

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
