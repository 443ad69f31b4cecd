"""Control from inside the site: actors' calls to the ``supervisor.control`` service (shell).

An actor that site.toml gives ``control`` rights asks the supervisor to start,
stop, restart or tell the status of another actor with an ordinary call
(:mod:`actors.core.control_calls`). :class:`ActorControl` takes the requests
that come on ``$svc.supervisor.control``, holds each against the asker's rights
(``forbidden``, logged and an event, when they do not allow it), publishes a
``control`` event naming the asker, and serves it with the same command
handlers as the control endpoint: the request gets an identity of its own
(:data:`ASK_PREFIX`, which no ZeroMQ peer can take), and the controller's reply
to that identity becomes the call's reply on ``$rsp.<asker>``.

The asker is the envelope's sender: on a checked site the broker proves it;
on an open site any process that can reach the broker could claim a name (the
same holds for every message there). A resent request (same asker and
idempotency key) is never served twice: it is answered from the replies kept,
or ignored while the first is in flight. An asker has at most
:data:`MAX_IN_FLIGHT` requests in flight (more are ``rate_limited``).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgpack

from actors.core.calls import REPLY_PREFIX, decode_request, reply_payload
from actors.core.control_calls import brief, control_error, decode_control
from actors.core.requests import ReplyCache
from actors.core.wire import Message
from supervisor.core.protocol import ProtocolError, Request
from supervisor.core.site_events import Control, Forbidden

if TYPE_CHECKING:
    from supervisor.control.server import Controller

#: The identities of actors' requests (ZeroMQ keeps identities that start with a zero
#: byte for its own, which are five bytes long: a client can never send as one of these).
ASK_PREFIX: Final = b"\x00ask:"
#: Requests of one asker in flight, at most.
MAX_IN_FLIGHT: Final = 32
#: Answered requests remembered for resends (by asker and idempotency key), at most.
MAX_KEPT: Final = 1024


@dataclass
class _Ask:
    """One actor's request being served."""

    asker: str
    rid: int
    key: int | str
    op: str
    actor: str


class ActorControl:
    """Serves the actors' control calls with the controller's commands."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self._tokens = itertools.count(1)
        self._asks: dict[bytes, _Ask] = {}
        #: (asker, key) -> the token in flight, or the reply payload once answered.
        self._seen: ReplyCache[bytes | list[Any]] = ReplyCache(MAX_KEPT)
        self.counts = dict.fromkeys(("asked", "forbidden", "malformed", "expired"), 0)

    def asked(self, identity: bytes) -> bool:
        """Whether *identity* is an actor's request (not a control endpoint client)."""
        return identity.startswith(ASK_PREFIX)

    # -- requests ------------------------------------------------------------------------

    def message(self, message: Message) -> None:
        """A request on ``$svc.supervisor.control``."""
        sup = self.controller.supervision
        asker = message.envelope.sender
        request = decode_request(message.envelope.payload)
        if request is None or asker not in sup.actors:
            self.counts["malformed"] += 1  # no caller to answer: a forgery or garbage
            return
        if request.deadline_ns < time.time_ns():
            self.counts["expired"] += 1
            return
        seen = self._seen.get((asker, request.key))
        if isinstance(seen, list):  # answered: a resend whose reply was lost
            self._send(asker, reply_payload(request.id, seen[1], seen[2]))
            return
        if seen is not None:
            return  # in flight: the answer goes out when it comes
        parsed = decode_control(request.body)
        if parsed is None:
            body = control_error("bad_request", "a control request is {op, actor}")
            self._send(asker, reply_payload(request.id, False, body))
            return
        ask = _Ask(asker, request.id, request.key, *parsed)
        try:
            self._serve(ask)
        except ProtocolError as exc:
            self._answer(ask, False, control_error(exc.kind, str(exc)))

    def _serve(self, ask: _Ask) -> None:
        ctl = self.controller
        sup = ctl.supervision
        actor = sup.site.actors.get(ask.asker)
        if actor is None or not actor.control.allows(ask.op, ask.actor):
            self._forbid(ask)
        if ask.actor == ask.asker and ask.op in ("stop", "restart"):
            raise ProtocolError(
                "bad_request", f"actor {ask.asker!r} cannot {ask.op} itself (it would not hear)"
            )
        in_flight = sum(1 for a in self._asks.values() if a.asker == ask.asker)
        if in_flight >= MAX_IN_FLIGHT:
            raise ProtocolError(
                "rate_limited", f"actor {ask.asker!r} has {in_flight} control calls in flight"
            )
        req = Request(id=ask.rid, op=ask.op, name=ask.actor)
        child = ctl.actor(req)  # unknown_actor before anything is done
        self.counts["asked"] += 1
        if ask.op == "status":
            self._answer(ask, True, self._brief(child.status(sup.loop.clock()).encode()))
            return
        sup.events.emit(Control(actor=child.name, kind=child.kind, op=ask.op, by=ask.asker))
        token = ASK_PREFIX + str(next(self._tokens)).encode()
        self._asks[token] = ask
        self._remember((ask.asker, ask.key), token)
        try:
            ctl.handle(token, req)  # answers through reply(token, ...) now or later
        except ProtocolError:
            self._asks.pop(token, None)  # refused at once: not in flight (the caller answers)
            raise

    def _forbid(self, ask: _Ask) -> None:
        sup = self.controller.supervision
        self.counts["forbidden"] += 1
        identity = f"actor:{ask.asker}"
        reason = (
            f"actor {ask.asker!r} may not {ask.op} actor {ask.actor!r}: site.toml does not "
            f"give it that (actors.{ask.asker}.control)"
        )
        sup.events.log.warning("forbidden", identity=identity, op=ask.op, target=ask.actor)
        sup.events.emit(Forbidden(identity=identity, op=ask.op, actor=ask.actor, reason=reason))
        raise ProtocolError("forbidden", reason)

    # -- answers ----------------------------------------------------------------------------

    def answer(self, identity: bytes, body: bytes) -> bool:
        """The controller's reply to *identity*: True when it was an actor's request (then
        it goes to that actor, if it still waits)."""
        if not identity.startswith(ASK_PREFIX):
            return False
        ask = self._asks.pop(identity, None)
        if ask is None:
            return True
        reply = msgpack.unpackb(body, raw=False)
        if reply.get("ok"):
            result = reply.get("result")
            self._answer(ask, True, self._brief(result if isinstance(result, dict) else {}))
        else:
            kind, message = str(reply.get("error")), str(reply.get("message", ""))
            self._answer(ask, False, control_error(kind, message))
        return True

    def _brief(self, status: dict[str, Any]) -> dict[str, Any]:
        actor = self.controller.supervision.site.actors.get(str(status.get("name")))
        return brief({**status, "after": list(actor.after) if actor is not None else []})

    def _answer(self, ask: _Ask, ok: bool, body: Any) -> None:
        payload = reply_payload(ask.rid, ok, body)
        self._remember((ask.asker, ask.key), payload)
        self._send(ask.asker, payload)

    def _remember(self, key: tuple[str, int | str], value: bytes | list[Any]) -> None:
        self._seen.put(key, value)

    def _send(self, asker: str, payload: list[Any]) -> None:
        self.controller.publish(REPLY_PREFIX + asker, payload)
