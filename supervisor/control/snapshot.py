"""``snapshot name``: the running actor writes a snapshot now; ``{"path": ...}`` once it has."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.core.control import Op
from actors.core.control import Request as ActorRequest
from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Forward the request to the actor; its reply goes back to the client."""
    child = ctl.actor(req)
    ctl.forward(identity, req.id, child, lambda rid: ActorRequest(Op.SNAPSHOT, rid))
