"""``rights``: what the asking connection is on this site, so that a tool can say
``forbidden`` before it sends what the broker would drop.

Result: ``{"identity", "role", "checked", "rights"}``: the connection's identity
(``tool:NAME``; "" on a site without CURVE), its control role, whether the broker
checks each message, and its rights from the access table (a map of patterns as
:meth:`~actors.core.access.Rights.encode` writes it; None when the site does not
check, or the identity has none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.keys import Identity
from supervisor.core.protocol import Request, encode_result

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Answer with the asking connection's identity, role and rights."""
    security, site = ctl.security, ctl.supervision.site
    if security is None:
        result = {"identity": "", "role": "admin", "checked": False, "rights": None}
    else:
        user = ctl.user
        who = Identity.parse(user)
        rights = security.table().rights(who.kind, who.name) if who is not None else None
        result = {
            "identity": user,
            "role": security.role(user),
            "checked": site.checked,
            "rights": rights.encode() if rights is not None and site.checked else None,
        }
    ctl.reply(identity, encode_result(req.id, result))
