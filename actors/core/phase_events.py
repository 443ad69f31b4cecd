"""What the phase table of an actor process takes and returns: typed inputs and actions
(pure core, no IO).

An :data:`Input` record says what happened (a message, a request from the
supervisor, time passing, the outcome of an action); an :data:`Action` record
says what the shell (:mod:`actors.runtime`) is to do. :mod:`actors.core.phases`
maps one to the other per phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from actors.core.control import Exit, Request

# -- inputs: what happened -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The broker link is up."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: a phase's timer may be due."""


@dataclass(frozen=True, slots=True)
class Message:
    """A message on a topic the actor reads (or a request or reply of its calls)."""

    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class Control:
    """A request from the supervisor, well formed and meant for this process."""

    request: Request


@dataclass(frozen=True, slots=True)
class RetainedValues:
    """The supervisor's answer to a starting actor: the last message of each retained topic."""

    messages: list[Any]


@dataclass(frozen=True, slots=True)
class TakeoverDone:
    """The takeover ran: the old version's memory adopted, *processed* held messages stepped."""

    processed: int


@dataclass(frozen=True, slots=True)
class FirstStep:
    """A message on probation was delivered; *stepped* when a step ran."""

    stepped: bool


@dataclass(frozen=True, slots=True)
class SwapFailed:
    """The takeover or the first step failed (*error* says how)."""

    error: str


@dataclass(frozen=True, slots=True)
class Started:
    """The actor started (on_start ran, or the swapped-in outputs went out)."""


@dataclass(frozen=True, slots=True)
class Stop:
    """A signal, or the supervisor is gone: stop."""


@dataclass(frozen=True, slots=True)
class Stopped:
    """on_stop ran."""


@dataclass(frozen=True, slots=True)
class Failed:
    """A hook failed (or the stored State cannot be used): leave with *code*."""

    code: Exit


Input = (
    Connected
    | Tick
    | Message
    | Control
    | RetainedValues
    | TakeoverDone
    | FirstStep
    | SwapFailed
    | Started
    | Stop
    | Stopped
    | Failed
)
#: Every kind of input, in the order of the table's columns.
INPUTS: Final = (
    Connected,
    Tick,
    Message,
    Control,
    RetainedValues,
    TakeoverDone,
    FirstStep,
    SwapFailed,
    Started,
    Stop,
    Stopped,
    Failed,
)


# -- actions: what the shell does -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AskRetained:
    """Ask the supervisor for the last values of the retained topics (again)."""


@dataclass(frozen=True, slots=True)
class Prime:
    """Put retained values in their Inputs (no step runs for them)."""

    messages: list[Any]


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the supervisor this new version is in standby (again)."""


@dataclass(frozen=True, slots=True)
class TakeOver:
    """Adopt the old version's memory and sequences; step the *held* messages it had not.
    The outcome comes back as :class:`TakeoverDone` or :class:`SwapFailed`."""

    request: Request
    held: list[list[bytes]]


@dataclass(frozen=True, slots=True)
class TryFirstStep:
    """Deliver a message on probation; :class:`FirstStep` or :class:`SwapFailed` comes back."""

    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class TookOver:
    """Report the takeover (ok) and become the actor: its control topic from now on."""

    processed: int


@dataclass(frozen=True, slots=True)
class ReportFailure:
    """Report the swap failed (*error*); the process then exits."""

    error: str


@dataclass(frozen=True, slots=True)
class Start:
    """Start the actor: on_start, or the outputs a swapped-in version took over."""


@dataclass(frozen=True, slots=True)
class Deliver:
    """Deliver a message to the engine (a step may run); send what it publishes."""

    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class Redo:
    """Handle these held inputs again, in order, as if they came now."""

    inputs: list[Message | Control]


@dataclass(frozen=True, slots=True)
class Answer:
    """Carry out the supervisor's request and answer it (*held*: messages a resume delivers)."""

    request: Request
    held: int = 0


@dataclass(frozen=True, slots=True)
class RunStop:
    """Run on_stop and send what it publishes."""


@dataclass(frozen=True, slots=True)
class Note:
    """Log *event* at *level* with *fields* (what a phase change has to say)."""

    level: str
    event: str
    fields: dict[str, Any] = field(default_factory=dict)


Action = (
    AskRetained
    | Prime
    | Announce
    | TakeOver
    | TryFirstStep
    | TookOver
    | ReportFailure
    | Start
    | Deliver
    | Redo
    | Answer
    | RunStop
    | Note
)
