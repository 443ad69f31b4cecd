"""Control from inside the site: an actor's calls to the supervisor (pure core, no IO).

An actor that site.toml gives ``control`` rights (``[actors.NAME] control``)
starts, stops, restarts and asks the status of other actors through its
context: ``self.enlil.start("driver")``. Each is an ordinary call (see
:mod:`actors.core.calls`) to the service :data:`CONTROL_SERVICE`, which the
supervisor serves: the request ``{"op": ..., "actor": ...}`` goes to
``$svc.supervisor.control`` through the broker (so it is traced, tapped, faulted and,
on a checked site, proven to come from the asking actor), and the reply, the
actor's status once it got there, or a typed error, comes back on
``$rsp.<caller>``. The supervisor holds the request against the asker's
rights, answers ``forbidden`` when they do not allow it, and publishes each
action it takes as a ``control`` event on ``$sys.event`` naming the asker.
"""

from __future__ import annotations

from typing import Any, Final

from actors.core.access import CONTROL_OPS
from actors.core.services import Call

#: The service the supervisor serves for its actors (no actor may declare a service
#: named ``supervisor`` or ``supervisor.*``: see :func:`~actors.core.services.check_service_name`).
CONTROL_SERVICE: Final = "supervisor.control"
#: The call line's name in an actor's statistics (``calls`` of ``ctl status``).
CONTROL_CALL: Final = "$control"
#: Seconds a control call waits for its answer unless told otherwise (a start waits
#: until the actor is ready).
CONTROL_TIMEOUT: Final = 10.0
#: What the actor hears about the actor it asked about (from the supervisor's record).
BRIEF: Final = ("name", "state", "pid", "restarts", "uptime", "last_exit", "after")

_MAX_NAME: Final = 200
#: The call error kind for each of the control protocol's error kinds.
_KINDS: Final = {
    "forbidden": "forbidden",
    "failed": "failed",
    "timeout": "timeout",
    "shutting_down": "unavailable",
    "rate_limited": "rate_limited",
}


def control_call() -> Call:
    """The declaration of an actor's calls to the supervisor (one per actor process)."""
    call = Call(
        CONTROL_SERVICE,
        dict,
        dict,
        doc="Start, stop, restart or ask the status of another actor",
        timeout=CONTROL_TIMEOUT,
    )
    call.name, call.owner = CONTROL_CALL, "enlil"
    return call


def control_request(op: str, actor: str) -> dict[str, str]:
    """The request of *op* on *actor* (ValueError for an op an actor may not ask)."""
    if op not in CONTROL_OPS:
        raise ValueError(f"unknown control op {op!r} (known: {', '.join(CONTROL_OPS)})")
    if not isinstance(actor, str) or not actor:
        raise ValueError(f"control {op}: the actor must be a name, got {actor!r}")
    return {"op": op, "actor": actor}


def decode_control(body: Any) -> tuple[str, str] | None:
    """``(op, actor)`` of a peer's request body, or None when it is not one."""
    if not isinstance(body, dict):
        return None
    op, actor = body.get("op"), body.get("actor")
    if op not in CONTROL_OPS or not isinstance(actor, str) or not 0 < len(actor) <= _MAX_NAME:
        return None
    return op, actor


def control_error(kind: str, message: str) -> dict[str, Any]:
    """The call error map for the control protocol's error *kind* (a wrong request:
    ``rejected``, with the protocol's kind as its ``type``)."""
    return {"kind": _KINDS.get(kind, "rejected"), "message": message, "type": kind}


def brief(status: dict[str, Any]) -> dict[str, Any]:
    """The part of an actor's status record that goes back to the asking actor."""
    return {key: status.get(key) for key in BRIEF}
