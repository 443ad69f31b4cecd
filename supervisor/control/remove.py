"""``remove name [etag]``: stop the actor and drop it; its status once it is gone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.control.state import drop, stored_state
from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Refused while another actor starts after it, or while it has stored durable State
    and the request does not say what becomes of it (``state``: keep or drop)."""
    child = ctl.actor(req)
    if stored_state(ctl, child.name, req.state, "remove"):  # dropped once it has stopped
        ctl.membership.remove(identity, req.id, child, then=lambda: drop(ctl, child.name))
    else:
        ctl.membership.remove(identity, req.id, child)
