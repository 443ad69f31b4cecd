"""``undeliverable [name]`` lists the messages reliable writers gave up (kept in the
snapshot folder); ``redeliver name`` has the running writer send its kept ones again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.core.control import Op
from actors.core.control import Request as ActorRequest
from actors.undeliverable import listed
from supervisor.core.protocol import ProtocolError, Request, encode_result

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def handle(ctl: Controller, identity: bytes, req: Request) -> None:
    """List the kept undeliverable messages (of one actor, or all), oldest first."""
    sup = ctl.supervision
    if req.name is not None and req.name not in sup.actors:
        raise ProtocolError("unknown_actor", f"no actor {req.name!r}")
    ctl.reply(identity, encode_result(req.id, listed(sup.site.snapshots.dir, req.name)))


def redeliver(ctl: Controller, identity: bytes, req: Request) -> None:
    """Forward to the actor: it sends each kept message again and says which."""
    ctl.refuse_during_shutdown()
    child = ctl.actor(req)
    ctl.forward(identity, req.id, child, lambda rid: ActorRequest(Op.REDELIVER, rid))
