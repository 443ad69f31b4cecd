"""``snapshots [name]``: the snapshot files (of one actor, or all), oldest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.snapshots import list_snapshots
from supervisor.core.protocol import ProtocolError, Request, encode_result

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """List the files of the site's snapshot folder."""
    sup = ctl.supervision
    if req.name is not None and req.name not in sup.actors:
        raise ProtocolError("unknown_actor", f"no actor {req.name!r}")
    ctl.reply(identity, encode_result(req.id, list_snapshots(sup.site.snapshots.dir, req.name)))
