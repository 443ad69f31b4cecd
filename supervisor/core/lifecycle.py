"""A child's life as a transition table (pure core, no IO).

Supervision moves a child (the broker or an actor) only through
:func:`next_state`: each transition is legal from some states and leads to
one state; anything else is a bug in the supervisor and raises
:class:`IllegalTransition` naming the child's state and the transition.
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
