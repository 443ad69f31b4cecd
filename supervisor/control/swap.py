"""``swap name [class] [params] [etag]``: hot-swap the actor to the code on disk.

Answered with ``{"pid", "old_pid", "etag", "processed", ...}`` once the new
version runs, or with an error once the swap has rolled back (see
:mod:`supervisor.swap`). On a checked site the new version's classes are
inspected first, and its declarations become its rights (``$sys.access``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Start the swap; the coordinator answers. On a checked site the new version's
    declarations are read first: what it publishes and reads are its rights from the start."""
    child = ctl.actor(req)

    def start() -> None:
        ctl.swaps.start(identity, req.id, child, req.cls, req.params)

    if ctl.security is not None and ctl.supervision.site.checked:
        ctl.membership.inspect_swap(identity, req, child.name, start)
    else:
        start()
