"""``add name class [params | table]``: a new actor, answered with its status once ready."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.control.state import drop, stored_state
from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Add the actor to the site (checked like site.toml) and start it; refused while an
    actor of that name has stored durable State and the request does not say what becomes
    of it (``state``: keep it, to start from it, or drop it)."""
    new = req.name and req.name not in ctl.supervision.actors
    if new and stored_state(ctl, str(req.name), req.state, "add"):
        drop(ctl, str(req.name))
    ctl.membership.add(identity, req)
