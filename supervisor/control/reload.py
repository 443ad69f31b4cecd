"""``reload [etag]``: apply what changed in site.toml (added, removed, swapped, unchanged)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Re-read site.toml; the report comes once every change is done."""
    ctl.membership.reload(identity, req)
