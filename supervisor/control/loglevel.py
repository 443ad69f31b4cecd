"""``loglevel name [level] [otel]``: the levels now in force (name may be ``supervisor``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.core.control import Op
from actors.core.control import Request as ActorRequest
from supervisor.core.protocol import ProtocolError, Request, encode_result

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Change the supervisor's levels here, or forward the request to the actor."""
    if req.name == "supervisor":
        try:
            levels = ctl.logging.set_levels(req.level, req.otel)
        except ValueError as exc:
            raise ProtocolError("bad_request", str(exc)) from None
        ctl.reply(identity, encode_result(req.id, levels))
        return
    ctl.refuse_during_shutdown()
    child = ctl.actor(req)
    ctl.forward(
        identity,
        req.id,
        child,
        lambda rid: ActorRequest(Op.LOGLEVEL, rid, level=req.level, otel=req.otel),
    )
