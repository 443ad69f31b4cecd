"""``status``: the site, the supervisor, the broker and every actor, at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request, encode_result

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Reply with :meth:`Controller.status`."""
    ctl.reply(identity, encode_result(req.id, ctl.status()))
