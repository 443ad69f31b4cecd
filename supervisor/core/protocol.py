"""The control protocol: requests and replies as msgpack maps (pure core, no IO).

A client sends ``{"id": 7, "op": "stop", "name": "thermostat"}`` and gets
either ``{"id": 7, "ok": true, "result": ...}`` or ``{"id": 7, "ok": false,
"error": "unknown_actor", "message": "..."}``. Every request gets one reply.

=========  ===========  ====================================================
op         arguments    result
=========  ===========  ====================================================
status     (none)       the site: supervisor, broker and every actor
start      name         the actor's status once it is ready
stop       name         the actor's status once it has exited
restart    name         the actor's status once its new process is ready
shutdown   (none)       ``{"state": "shutting_down"}`` at once
snapshot   name         ``{"path": ...}`` once the live actor has written one
snapshots  [name]       the snapshot files (of one actor, or all), oldest first
loglevel   name, level  ``{"local": ..., "otel": ...}``: the levels now in force;
           and/or otel  name may be ``supervisor``
swap       name, [class ``{"pid", "old_pid", "version", "etag", ...}`` once the new
           params etag] version runs (rolled back, with an error, if it failed)
add        name, class  the new actor's status once it is ready
           [params etc]
remove     name [etag]  the actor's status once it has exited and is gone
reload     [etag]       ``{"added", "removed", "swapped", "restarted", "unchanged"}``
faults     (none)       ``{"seed", "rules", "paused", "injected", "entries", "malformed"}``:
                        the fault rules, the faults injected per rule and actor, the newest
fault_add  table        ``{"rule", "told"}``: a fault rule added (keys as in site.toml)
fault_clear (none)      ``{"rules": [], "told"}``: every fault rule removed
fault_pause (none)      ``{"paused": true, "told"}``: the rules kept, nothing injected
fault_resume (none)     ``{"paused": false, "told"}``: injecting again
state      name         ``{"actor", "values", "version", "epoch", "written"}``: the actor's
                        durable State as stored (``values`` null: none stored)
state_reset name        ``{"actor", "reset"}``: its stored durable State forgotten (the
                        actor must be stopped: it would write its values again)
rights     [name]       ``{"identity", "role", "checked", "rights"}``: the asking
                        connection's (or identity *name*'s: ``actor:NAME``) role and
                        broker rights (a tool asks before it publishes what the broker
                        would drop)
undeliverable [name]    the messages reliable writers gave up, kept in the snapshot
                        folder: ``actor``, ``topic``, ``seq``, ``readers``, ``sends``,
                        ``time``, ``file``, oldest first
redeliver  name         ``{"redelivered", "failed"}``: the running writer sent its kept
                        messages again as new ones (``seq`` -> ``new_seq``)
=========  ===========  ====================================================

``add`` and ``remove`` of an actor that has stored durable State need
``state``: ``"keep"`` (the next actor of that name starts from it) or
``"drop"``; without it they are refused (``failed``), saying so.

``etag``: each actor's config version (in ``status``; ``etag`` of the site
for ``reload``). A request that names an etag that is no longer current is
refused (``stale``), so that two operators cannot overwrite each other.

Error kinds: ``bad_request``, ``unknown_op``, ``unknown_actor``,
``shutting_down``, ``failed``, ``timeout``, ``stale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgpack

OPS: Final[dict[str, tuple[str, ...]]] = {
    "status": (),
    "start": ("name",),
    "stop": ("name",),
    "restart": ("name",),
    "shutdown": (),
    "snapshot": ("name",),
    "snapshots": (),
    "loglevel": ("name",),
    "swap": ("name",),
    "add": ("name",),
    "remove": ("name",),
    "reload": (),
    "faults": (),
    "fault_add": (),
    "fault_clear": (),
    "fault_pause": (),
    "fault_resume": (),
    "state": ("name",),
    "state_reset": ("name",),
    "rights": (),
    "undeliverable": (),
    "redeliver": ("name",),
}
#: ``add``/``remove``'s ``state``: what becomes of the actor's stored durable State.
STATE_CHOICES: Final = ("keep", "drop")
MAX_REQUEST_BYTES: Final = 64 * 1024
#: Every error kind a reply may carry (``bad_reply`` is the client's own: a reply it
#: could not read).
ERROR_KINDS: Final = (
    "bad_request",
    "unknown_op",
    "unknown_actor",
    "shutting_down",
    "failed",
    "timeout",
    "stale",
    "forbidden",
    "rate_limited",
)


class ProtocolError(ValueError):
    """A request cannot be served; ``kind`` is the error kind sent back."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded control request."""

    id: int
    op: str
    name: str | None = None
    level: str | None = None
    otel: str | None = None
    cls: str | None = None
    params: dict[str, Any] | None = None
    etag: str | None = None
    table: dict[str, Any] | None = None
    state: str | None = None


def decode_request(body: bytes) -> Request:
    """Decode a request body, or raise ProtocolError saying what is wrong."""
    if len(body) > MAX_REQUEST_BYTES:
        raise ProtocolError(
            "bad_request",
            f"request of {len(body):,} bytes is too large (a request may have "
            f"{MAX_REQUEST_BYTES:,} bytes at most)",
        )
    try:
        obj = msgpack.unpackb(body, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ProtocolError("bad_request", f"request is not valid msgpack: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_request", "request is not a msgpack map")
    req_id = obj.get("id", 0)
    if type(req_id) is not int:
        raise ProtocolError("bad_request", "request 'id' is not an integer")
    op = obj.get("op")
    if not isinstance(op, str):
        raise ProtocolError("bad_request", "request has no 'op' string")
    if op not in OPS:
        raise ProtocolError("unknown_op", f"unknown op {op!r} (known: {', '.join(OPS)})")
    name = obj.get("name")
    if "name" in OPS[op] and not isinstance(name, str):
        raise ProtocolError("bad_request", f"op {op!r} needs a 'name' string")
    if name is not None and not isinstance(name, str):
        raise ProtocolError("bad_request", "'name' must be a string")
    level, otel = obj.get("level"), obj.get("otel")
    for key, value in (("level", level), ("otel", otel)):
        if value is not None and not isinstance(value, str):
            raise ProtocolError("bad_request", f"'{key}' must be a string")
    if op == "loglevel" and level is None and otel is None:
        raise ProtocolError("bad_request", "op 'loglevel' needs 'level' and/or 'otel'")
    cls, params = obj.get("class"), obj.get("params")
    etag, table = obj.get("etag"), obj.get("table")
    for key, value, kind in (
        ("class", cls, str),
        ("etag", etag, str),
        ("params", params, dict),
        ("table", table, dict),
    ):
        if value is not None and not isinstance(value, kind):
            raise ProtocolError("bad_request", f"'{key}' must be a {kind.__name__}")
    if op == "fault_add" and not table:
        raise ProtocolError("bad_request", "op 'fault_add' needs the rule as 'table'")
    if op == "add" and cls is None and not (table and "class" in table):
        raise ProtocolError("bad_request", "op 'add' needs a 'class'")
    state = obj.get("state")
    if state is not None and state not in STATE_CHOICES:
        raise ProtocolError("bad_request", f"'state' must be one of {', '.join(STATE_CHOICES)}")
    return Request(
        id=req_id,
        op=op,
        name=name,
        level=level,
        otel=otel,
        cls=cls,
        params=params,
        etag=etag,
        table=table,
        state=state,
    )


def request_id(body: bytes) -> int:
    """Best-effort id of a request that failed to decode, so the error can name it."""
    try:
        obj = msgpack.unpackb(body, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        return 0
    if isinstance(obj, dict) and type(obj.get("id")) is int:
        return int(obj["id"])
    return 0


def encode_request(req_id: int, op: str, **args: Any) -> bytes:
    """Encode a request (client side)."""
    packed: bytes = msgpack.packb({"id": req_id, "op": op, **args}, use_bin_type=True)
    return packed


def encode_result(req_id: int, result: Any) -> bytes:
    """Encode a successful reply; a typed *result* (a record of :mod:`supervisor.core.replies`
    or :mod:`supervisor.core.status`) becomes its map here, at the edge."""
    if hasattr(result, "encode") and not isinstance(result, str | bytes):
        result = result.encode()
    packed: bytes = msgpack.packb({"id": req_id, "ok": True, "result": result}, use_bin_type=True)
    return packed


def encode_error(req_id: int, kind: str, message: str, retry_after: float | None = None) -> bytes:
    """Encode an error reply (*retry_after*: seconds until trying again may succeed)."""
    body: dict[str, Any] = {"id": req_id, "ok": False, "error": kind, "message": message}
    if retry_after is not None:
        body["retry_after"] = round(retry_after, 3)
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return packed


@dataclass(frozen=True, slots=True)
class Reply:
    """A decoded reply (client side)."""

    id: int
    ok: bool
    result: Any = None
    error: str = ""
    message: str = ""
    retry_after: float | None = None


def decode_reply(body: bytes) -> Reply:
    """Decode a reply body, or raise ProtocolError."""
    try:
        obj = msgpack.unpackb(body, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ProtocolError("bad_reply", f"reply is not valid msgpack: {exc}") from None
    if not isinstance(obj, dict) or type(obj.get("id")) is not int or "ok" not in obj:
        raise ProtocolError("bad_reply", "reply is not a map with 'id' and 'ok'")
    return Reply(
        id=obj["id"],
        ok=bool(obj["ok"]),
        result=obj.get("result"),
        error=str(obj.get("error", "")),
        message=str(obj.get("message", "")),
        retry_after=wait if isinstance(wait := obj.get("retry_after"), int | float) else None,
    )
