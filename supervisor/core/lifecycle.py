"""A child's life as two transition tables (pure core, no IO).

Supervision moves a child (the broker or an actor) only through
:func:`next_state`: each transition is legal from some states and leads to
one state; anything else is a bug in the supervisor and raises
:class:`IllegalTransition` naming the child's state and the transition.

Beside where the child is (:class:`ChildState`), supervision keeps what it
wants of it (:class:`Goal`: run it, leave it stopped, start it again after a
stop on purpose, drop it from the site), changed only through
:func:`next_goal` by an :class:`Order` (an operator's command, the restart
policy's decision, the child's readiness or exit). What follows an exit is
:func:`after_exit`'s, from the goal alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ChildState(StrEnum):
    """Where a child is in its life."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    BACKOFF = "backoff"
    FAILED = "failed"


class Transition(StrEnum):
    """What happens to a child."""

    #: A process was started for it.
    SPAWN = "spawn"
    #: It answered (a heartbeat, or the broker's probe came back).
    READY = "ready"
    #: It was asked to stop (SIGTERM).
    TERMINATE = "terminate"
    #: Its process exited (for whatever reason).
    EXIT = "exit"
    #: The restart policy will start it again after a delay.
    BACK_OFF = "back_off"
    #: The delay is over: it may be started again.
    BACKOFF_OVER = "backoff_over"
    #: The restart policy gave up on it.
    GIVE_UP = "give_up"
    #: An operator (or a shutdown) cleared its backoff or failure: stopped, startable.
    RESET = "reset"
    #: A process taken over from it is on its way out (a swapped-out version).
    RETIRE = "retire"
    #: A hot swap replaced its process with the new version's, which runs.
    SWAP_IN = "swap_in"


_S, _T = ChildState, Transition
#: (state, transition) -> the state it leads to; a pair not listed is illegal.
TABLE: Final[dict[tuple[ChildState, Transition], ChildState]] = {
    (_S.STOPPED, _T.SPAWN): _S.STARTING,
    (_S.STOPPED, _T.BACK_OFF): _S.BACKOFF,
    (_S.STOPPED, _T.GIVE_UP): _S.FAILED,
    (_S.STOPPED, _T.RETIRE): _S.STOPPING,
    (_S.STOPPED, _T.RESET): _S.STOPPED,
    (_S.STARTING, _T.READY): _S.RUNNING,
    (_S.STARTING, _T.TERMINATE): _S.STOPPING,
    (_S.STARTING, _T.EXIT): _S.STOPPED,
    (_S.RUNNING, _T.TERMINATE): _S.STOPPING,
    (_S.RUNNING, _T.EXIT): _S.STOPPED,
    (_S.RUNNING, _T.SWAP_IN): _S.RUNNING,
    (_S.STOPPING, _T.EXIT): _S.STOPPED,
    (_S.BACKOFF, _T.BACKOFF_OVER): _S.STOPPED,
    (_S.BACKOFF, _T.RESET): _S.STOPPED,
    (_S.FAILED, _T.RESET): _S.STOPPED,
}


class IllegalTransition(RuntimeError):
    """A transition that the table does not allow from the child's state."""


def next_state(name: str, state: ChildState, transition: Transition) -> ChildState:
    """The state *transition* leads child *name* to from *state*."""
    try:
        return TABLE[state, transition]
    except KeyError:
        raise IllegalTransition(f"{name}: cannot {transition} while {state}") from None


class Goal(StrEnum):
    """What supervision wants of a child, whatever its state now."""

    #: Keep it running: start it once its after list runs; the restart policy decides
    #: what follows an exit of its own.
    RUN = "run"
    #: Restarted by the policy after a failure: run it, and say ``restarted`` once ready.
    RECOVER = "recover"
    #: Being stopped on purpose to start again (``ctl restart``, its group's restart):
    #: not a failure.
    RESTART = "restart"
    #: Leave it stopped (``ctl stop``, ``autostart = false``, not restarted, given up, a
    #: site shutting down).
    STOP = "stop"
    #: Leaving the site (``ctl remove``, ``ctl reload``): forgotten once its process is gone.
    REMOVE = "remove"


class Order(StrEnum):
    """What changes a child's goal."""

    #: Run it (``ctl start``, ``autostart``).
    START = "start"
    #: Leave it stopped.
    STOP = "stop"
    #: Stop it on purpose and start it again (after ``START``, for ``ctl restart``).
    RESTART = "restart"
    #: The restart policy starts it again after a failure.
    RECOVER = "recover"
    #: Drop it from the site.
    REMOVE = "remove"
    #: It answered: it runs.
    READY = "ready"
    #: Its process exited.
    EXIT = "exit"


_G, _O = Goal, Order
#: (goal, order) -> the goal it leads to; a pair not listed leaves the goal as it is.
#: REMOVE is final: nothing brings a child that leaves the site back.
GOALS: Final[dict[tuple[Goal, Order], Goal]] = {
    (_G.STOP, _O.START): _G.RUN,
    **{(g, _O.STOP): _G.STOP for g in (_G.RUN, _G.RECOVER, _G.RESTART)},
    # A group's restart does not start what an operator stopped (ctl restart starts first).
    **{(g, _O.RESTART): _G.RESTART for g in (_G.RUN, _G.RECOVER)},
    (_G.RUN, _O.RECOVER): _G.RECOVER,
    **{(g, _O.REMOVE): _G.REMOVE for g in Goal if g is not _G.REMOVE},
    (_G.RECOVER, _O.READY): _G.RUN,
    (_G.RESTART, _O.EXIT): _G.RUN,
}
#: The goals under which supervision starts a stopped child.
WANTED: Final = frozenset({Goal.RUN, Goal.RECOVER, Goal.RESTART})


def next_goal(goal: Goal, order: Order) -> Goal:
    """The goal *order* leads to from *goal*."""
    return GOALS.get((goal, order), goal)


class AfterExit(StrEnum):
    """What supervision does once a child's process has exited."""

    #: It leaves the site: forget it.
    FORGET = "forget"
    #: Stopped on purpose: start whatever is due (it too, when its goal says so).
    START_DUE = "start_due"
    #: Exited on its own: the restart policy decides.
    POLICY = "policy"


def after_exit(goal: Goal, commanded: bool) -> AfterExit:
    """What follows the exit of a child whose goal was *goal* (*commanded*: it was asked
    to stop)."""
    if goal is Goal.REMOVE:
        return AfterExit.FORGET
    return AfterExit.START_DUE if commanded else AfterExit.POLICY
