"""``swap name [class] [params] [etag]``: hot-swap the actor to the code on disk.

Answered with ``{"pid", "old_pid", "etag", "processed", ...}`` once the new
version runs, or with an error once the swap has rolled back (see
:mod:`supervisor.swap`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Start the swap; the coordinator answers."""
    ctl.swaps.start(identity, req.id, ctl.actor(req), req.cls, req.params)
