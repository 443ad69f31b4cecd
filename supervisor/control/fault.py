"""``fault_add``, ``fault_clear``, ``fault_pause``, ``fault_resume``: the site's fault rules
at run time (``ctl fault ...``); every running actor is told at once, a starting one when
it is ready."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.core.control import Op
from actors.core.control import Request as ActorRequest
from actors.core.faults import FaultError
from actors.core.topics import SYS_CONTROL
from supervisor.core.lifecycle import ChildState
from supervisor.core.protocol import ProtocolError, Request, encode_result
from supervisor.core.replies import FaultRulesChanged

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def tell(ctl: Controller, name: str | None = None) -> int:
    """Send the rules in force to every running actor (or to *name*); how many were told."""
    told = 0
    for child in ctl.supervision.actors.values():
        if (name is None or child.name == name) and child.state is ChildState.RUNNING:
            request = ActorRequest(Op.FAULTS, ctl.forwarded.next_id(), faults=ctl.ledger.state())
            ctl.publish(SYS_CONTROL + child.name, request.encode())
            told += 1
    return told


def add(ctl: Controller, identity: bytes, req: Request) -> None:
    """Add the rule in ``table``."""
    try:
        rule = ctl.ledger.add(req.table or {}, set(ctl.supervision.actors))
    except FaultError as exc:
        raise ProtocolError("bad_request", str(exc)) from None
    ctl.reply(identity, encode_result(req.id, FaultRulesChanged(tell(ctl), rule=rule)))


def clear(ctl: Controller, identity: bytes, req: Request) -> None:
    """Remove every rule."""
    ctl.ledger.clear()
    ctl.reply(identity, encode_result(req.id, FaultRulesChanged(tell(ctl), cleared=True)))


def pause(ctl: Controller, identity: bytes, req: Request) -> None:
    """Inject nothing until ``fault_resume`` (the rules are kept)."""
    ctl.ledger.pause(True)
    ctl.reply(identity, encode_result(req.id, FaultRulesChanged(tell(ctl), paused=True)))


def resume(ctl: Controller, identity: bytes, req: Request) -> None:
    """Inject again."""
    ctl.ledger.pause(False)
    ctl.reply(identity, encode_result(req.id, FaultRulesChanged(tell(ctl), paused=False)))
