"""``shutdown``: answered at once (``{"state": "shutting_down"}``), then the site stops."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request, encode_result
from supervisor.core.replies import ShuttingDown

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Reply, then stop every actor in reverse start order and the broker last."""
    ctl.reply(identity, encode_result(req.id, ShuttingDown()))
    ctl.supervision.shutdown("shutdown requested over the control channel")
