"""``rights [name]``: what the asking connection (or the identity *name*, such as
``actor:tally`` or ``tool:panel``) is on this site, so that a tool can say
``forbidden`` before it sends what the broker would drop, and an operator can see
what an actor may do.

Result: ``{"identity", "role", "checked", "rights"}``: the identity (``tool:NAME``;
"" on a site without CURVE), its control role (None for an actor), whether the
broker checks each message, and its rights from the access table as the broker
has it now (a map of patterns as :meth:`~actors.core.access.Rights.encode` writes
it; None when the site does not check, or the identity has none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.keys import Identity
from supervisor.core.protocol import ProtocolError, Request, encode_result
from supervisor.core.replies import Rights

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """Answer with the identity's role and rights (the asking connection's by default)."""
    security, site = ctl.security, ctl.supervision.site
    if security is None:
        result = Rights(identity="", role="admin", checked=False, rights=None)
    else:
        user = req.name if req.name is not None else ctl.user
        who = Identity.parse(user)
        if who is None:
            text = f"{user!r} is not an identity (actor:NAME, tool:NAME)"
            raise ProtocolError("bad_request", text)
        rights = security.table().rights(who.kind, who.name)
        result = Rights(
            identity=user,
            role=security.role(user),
            checked=site.checked,
            rights=rights.encode() if rights is not None and site.checked else None,
        )
    ctl.reply(identity, encode_result(req.id, result))
