"""A hot swap's phases as a transition table (pure core, no IO).

The supervisor's side of a swap (:mod:`supervisor.swap`) moves only through
:func:`next_phase`, with what happened (:class:`SwapStep`): which answers are
taken in which phase, and where each leads. A step the table does not list
for the phase is ignored: a late or repeated answer over the broker, from a
version that is no longer the one asked (:func:`takes` says so), never moves a
swap backwards. ``DONE`` takes nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Phase(StrEnum):
    """Where a swap is, in order."""

    #: The new version is starting; it will say ``standby``.
    STARTING = "starting"
    #: The running version was asked to hand over its memory.
    HANDING_OVER = "handing_over"
    #: The new version was given the memory and is taking over.
    TAKING_OVER = "taking_over"
    #: Ended: the new version runs, or the old one was kept.
    DONE = "done"


class SwapStep(StrEnum):
    """What happened to a swap."""

    #: The new version loaded and holds its messages (``standby``).
    STANDBY = "standby"
    #: The running version handed over its memory (the reply to ``handover``).
    HANDED_OVER = "handed_over"
    #: The new version took over (``took_over``; it may also say so straight from
    #: ``standby``, when it failed before being asked: the result says which).
    TOOK_OVER = "took_over"
    #: The phase's time ran out.
    TIMED_OUT = "timed_out"
    #: It failed: a refusal, an exit of either version, a failed migration.
    FAILED = "failed"


_P, _S = Phase, SwapStep
#: (phase, step) -> the phase it leads to; a pair not listed is not taken.
TABLE: Final[dict[tuple[Phase, SwapStep], Phase]] = {
    (_P.STARTING, _S.STANDBY): _P.HANDING_OVER,
    (_P.STARTING, _S.TOOK_OVER): _P.DONE,  # a failure it reports before the handover
    (_P.STARTING, _S.TIMED_OUT): _P.DONE,
    (_P.STARTING, _S.FAILED): _P.DONE,
    (_P.HANDING_OVER, _S.HANDED_OVER): _P.TAKING_OVER,
    (_P.HANDING_OVER, _S.TIMED_OUT): _P.DONE,
    (_P.HANDING_OVER, _S.FAILED): _P.DONE,
    (_P.TAKING_OVER, _S.TOOK_OVER): _P.DONE,
    (_P.TAKING_OVER, _S.TIMED_OUT): _P.DONE,
    (_P.TAKING_OVER, _S.FAILED): _P.DONE,
}
#: Who may say each step: the new version (``NAME:swap``) or the running one (``NAME``).
FROM_NEW: Final[dict[SwapStep, bool]] = {
    _S.STANDBY: True,
    _S.TOOK_OVER: True,
    _S.HANDED_OVER: False,
}
#: Phases in which the running version holds its messages: a rollback must resume it.
HOLDING: Final = frozenset({_P.HANDING_OVER, _P.TAKING_OVER})


def takes(phase: Phase, step: SwapStep, from_new: bool | None = None) -> bool:
    """Whether a swap in *phase* takes *step* (said by the new version when *from_new*,
    by the running one when not; None: by the supervisor itself)."""
    if (phase, step) not in TABLE:
        return False
    expected = FROM_NEW.get(step)
    return from_new is None or expected is None or expected == from_new


def next_phase(phase: Phase, step: SwapStep) -> Phase:
    """The phase *step* leads to from *phase* (itself when it is not taken)."""
    return TABLE.get((phase, step), phase)
