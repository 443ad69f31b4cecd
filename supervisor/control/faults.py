"""``faults``: the site's fault rules, the faults injected so far and the newest entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.protocol import Request, encode_result

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Answer with the ledger the supervisor keeps (empty when the site has no rule)."""
    ctl.reply(identity, encode_result(req.id, ctl.ledger.result()))
