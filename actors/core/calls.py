"""Calls between actors on the wire, and their errors as values with a class (pure core).

A call is an ordinary message through the broker (so it is traced, tapped and
faulted like one): the request goes to ``$svc.<service>``, the reply to
``$rsp.<caller>``. The call's own envelope is the message's payload, a msgpack
array in this order:

=======  =========  ===========================================================
message  slot       meaning
=======  =========  ===========================================================
request  id         correlation id of this attempt (unique per caller process)
request  deadline   absolute deadline, integer nanoseconds since the Unix epoch
request  key        idempotency key: a retry of one call carries the same key
request  to         the server meant (one of a group), or nil for any
request  body       the request value
reply    id         the request's correlation id
reply    ok         true: body is the reply; false: body is an error map
reply    body       the reply value, or ``{kind, message, type, where, retry_after}``
=======  =========  ===========================================================

Every failure of a call is a :class:`CallError` whose class says what
happened (``kind``), whether trying again may help (``retryable``) and, where
known, when (``retry_after``, seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Final

#: Topic prefix of requests: ``$svc.<service>``.
SERVICE_PREFIX: Final = "$svc."
#: Topic prefix of replies: ``$rsp.<caller>``.
REPLY_PREFIX: Final = "$rsp."
#: The supervisor's directory of live servers: ``{"services": {service: [actor, ...]}}``.
SYS_SERVICES: Final = "$sys.services"

_REQUEST_SLOTS: Final = 5
#: Longest idempotency key (text) and server name a request may carry: the server keeps
#: keys in its reply cache, so a peer must not make it keep megabytes of them.
MAX_KEY: Final = 256
_REPLY_SLOTS: Final = 3
_MAX_TEXT: Final = 2000


class CallError(Exception):
    """A call failed. ``kind`` names what happened; ``retryable`` whether another
    attempt may succeed; ``retry_after`` (seconds) when, if the server or policy
    said so."""

    kind: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        type: str | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message or self.kind)
        self.message = message or self.kind
        self.retry_after = retry_after
        self.type = type
        self.where = where

    def encode(self) -> dict[str, Any]:
        """The error map that goes on the wire in a reply."""
        out: dict[str, Any] = {"kind": self.kind, "message": self.message[:_MAX_TEXT]}
        for key in ("type", "where", "retry_after"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class RemoteError(CallError):
    """The server's handler raised: ``type``, ``message`` and ``where`` say what and where."""

    kind = "remote"


class CallTimeout(CallError):
    """No reply before the deadline (of the call or of one attempt)."""

    kind = "timeout"
    retryable = True


class NoResponders(CallError):
    """No live actor serves the service (said at once, not at the deadline)."""

    kind = "no_responders"
    retryable = True


class ServerGone(CallError):
    """The server exited, was stopped or stopped serving while the call was pending."""

    kind = "server_gone"
    retryable = True


class CircuitOpen(CallError):
    """The circuit breaker is open: the call was not sent (``retry_after``: when it half-opens)."""

    kind = "circuit_open"
    retryable = True


class RateLimited(CallError):
    """The rate limit is spent: the call was not sent (``retry_after``: the next token)."""

    kind = "rate_limited"
    retryable = True


class BulkheadFull(CallError):
    """As many calls as the bulkhead allows are already in flight."""

    kind = "bulkhead_full"
    retryable = True


class Rejected(CallError):
    """The request or reply does not have the declared type (not retryable: it would fail
    again)."""

    kind = "rejected"


class Unavailable(CallError):
    """Raised by a handler to say "not now, try again" (with ``retry_after`` if known)."""

    kind = "unavailable"
    retryable = True


class Forbidden(CallError):
    """The caller has no right to ask this (site.toml gives it none for this op and target)."""

    kind = "forbidden"


class Failed(CallError):
    """The server tried and could not (an actor that exited before it was ready)."""

    kind = "failed"


#: Every error class by its kind.
ERRORS: Final[dict[str, type[CallError]]] = {
    cls.kind: cls
    for cls in (
        RemoteError,
        CallTimeout,
        NoResponders,
        ServerGone,
        CircuitOpen,
        RateLimited,
        BulkheadFull,
        Rejected,
        Unavailable,
        Forbidden,
        Failed,
    )
}
#: The kinds, in the order the documentation lists them.
ERROR_KINDS: Final = tuple(ERRORS)


def decode_error(body: Any) -> CallError:
    """The error a reply carries (an unknown or malformed one becomes a RemoteError)."""
    if not isinstance(body, dict):
        return RemoteError(f"malformed error in reply: {body!r:.80}")
    cls = ERRORS.get(body.get("kind"), RemoteError)  # type: ignore[arg-type]
    retry_after = body.get("retry_after")
    if not isinstance(retry_after, int | float) or not math.isfinite(retry_after):
        retry_after = None
    elif retry_after < 0:
        retry_after = 0.0
    text = body.get("message")
    kind_of = body.get("type")
    where = body.get("where")
    return cls(
        str(text)[:_MAX_TEXT] if text is not None else "",
        retry_after=float(retry_after) if retry_after is not None else None,
        type=str(kind_of)[:200] if kind_of is not None else None,
        where=str(where)[:_MAX_TEXT] if where is not None else None,
    )


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A decoded request (its envelope's sender is the caller)."""

    id: int
    deadline_ns: int
    key: int | str
    to: str | None
    body: Any


@dataclass(frozen=True, slots=True)
class CallReply:
    """A decoded reply: ``ok`` and the value, or not ``ok`` and a :class:`CallError`."""

    id: int
    ok: bool
    body: Any

    @property
    def error(self) -> CallError:
        """The error this reply carries (only when not ``ok``)."""
        return decode_error(self.body)


def request_payload(
    rid: int, deadline_ns: int, key: int | str, to: str | None, body: Any
) -> list[Any]:
    """The payload of a request."""
    return [rid, deadline_ns, key, to, body]


def reply_payload(rid: int, ok: bool, body: Any) -> list[Any]:
    """The payload of a reply."""
    return [rid, ok, body]


def decode_request(payload: Any) -> CallRequest | None:
    """A request from a peer's payload, or None when it is not a well-formed one."""
    if type(payload) is not list or len(payload) != _REQUEST_SLOTS:
        return None
    rid, deadline_ns, key, to, body = payload
    if type(rid) is not int or type(deadline_ns) is not int:
        return None
    if type(key) not in (int, str) or (to is not None and type(to) is not str):
        return None
    if (type(key) is str and len(key) > MAX_KEY) or (to is not None and len(to) > MAX_KEY):
        return None
    return CallRequest(rid, deadline_ns, key, to, body)


def decode_reply(payload: Any) -> CallReply | None:
    """A reply from a peer's payload, or None when it is not a well-formed one."""
    if type(payload) is not list or len(payload) != _REPLY_SLOTS:
        return None
    rid, ok, body = payload
    if type(rid) is not int or type(ok) is not bool:
        return None
    return CallReply(rid, ok, body)


def decode_directory(payload: Any) -> dict[str, tuple[str, ...]] | None:
    """The supervisor's directory ``{service: (server, ...)}``, or None when malformed."""
    if not isinstance(payload, dict) or not isinstance(payload.get("services"), dict):
        return None
    out: dict[str, tuple[str, ...]] = {}
    for service, servers in payload["services"].items():
        if type(service) is not str or type(servers) is not list:
            return None
        out[service] = tuple(s for s in servers if type(s) is str)
    return out
