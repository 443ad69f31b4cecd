"""``start``, ``stop`` and ``restart`` of one actor, each answered once it got there.

``start`` and ``restart`` answer with the actor's status once its (new)
process is ready; ``stop`` once it has exited (it is not restarted then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.lifecycle import ChildState, Order, Transition
from supervisor.core.protocol import ProtocolError, Request, encode_result

if TYPE_CHECKING:
    from supervisor.control.server import Controller


def stop(ctl: Controller, identity: bytes, req: Request) -> None:
    """Stop the actor for good (until started again)."""
    sup = ctl.supervision
    child = ctl.actor(req)
    child.order(Order.STOP)
    if not child.alive:
        if child.state is ChildState.BACKOFF:
            child.move(Transition.RESET)
        ctl.reply(identity, encode_result(req.id, child.status(sup.loop.clock()).encode()))
        return
    sup.wait_for(child, identity, req.id, ChildState.STOPPED)
    sup.terminate(child)


def start(ctl: Controller, identity: bytes, req: Request) -> None:
    """Start the actor (answered at once when it runs)."""
    _start(ctl, identity, req, restart=False)


def restart(ctl: Controller, identity: bytes, req: Request) -> None:
    """Stop the actor and start it again (not counted as a failure)."""
    _start(ctl, identity, req, restart=True)


def _start(ctl: Controller, identity: bytes, req: Request, *, restart: bool) -> None:
    sup = ctl.supervision
    child = ctl.actor(req)
    blocked = sup.blocked(child)
    if blocked:
        raise ProtocolError(
            "failed", f"actor {child.name!r} starts after {blocked}, which is not running"
        )
    child.order(Order.START)
    sup.wait_for(child, identity, req.id, ChildState.RUNNING, early=ctl.inside.asked(identity))
    if restart and child.alive:
        child.order(Order.RESTART)
        sup.terminate(child)
    elif child.state is ChildState.RUNNING:
        sup.answer(child)
    else:
        if child.state in (ChildState.FAILED, ChildState.BACKOFF):
            child.move(Transition.RESET)
        sup.spawn_due()
