"""``add name class [params | table]``: a new actor, answered with its status once ready."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Add the actor to the site (checked like site.toml) and start it."""
    ctl.membership.add(identity, req)
