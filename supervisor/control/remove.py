"""``remove name [etag]``: stop the actor and drop it; its status once it is gone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Refused while another actor starts after it."""
    ctl.membership.remove(identity, req.id, ctl.actor(req))
