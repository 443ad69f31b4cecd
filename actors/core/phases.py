"""The phases of an actor process: a state machine over typed inputs (pure core, no IO).

An actor process goes through phases before, while and after it runs (Erlang's
``gen_statem``, h11's connection): :class:`Phase` names them, :data:`TABLE`
says for every phase and every kind of input what happens, and
:class:`Lifecycle` applies it, keeping the phase, its timers and the messages
a phase holds back. It reads no clock and touches no socket: the shell
(:mod:`actors.runtime`) hands it what happened as an :data:`Input` record with
the monotonic time, and carries out the :data:`Action` records it returns, in
order; the results of some actions come back as inputs (a takeover's outcome,
a started actor). Tests drive it alone on a fake clock.

The phases::

    CONNECTING -> PRIMING (retained values asked for) -> STARTING -> RUNNING
               -> STANDBY (a swap's new version) -> PROBATION -> STARTING
    RUNNING <-> PAUSED (handed over; resumed if the swap rolls back)
    RUNNING, PAUSED -> STOPPING (on_stop) -> DONE;  any phase -> DONE (failed, committed)

Entry actions: entering STARTING starts the actor (``on_start``, or the
outputs a swapped-in version took over); entering RUNNING delivers what came
meanwhile, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

from actors.core.control import Exit, Op
from actors.core.phase_events import (
    Action,
    Announce,
    Answer,
    AskRetained,
    Connected,
    Control,
    Deliver,
    Failed,
    FirstStep,
    Input,
    Message,
    Note,
    Prime,
    Redo,
    ReportFailure,
    RetainedValues,
    RunStop,
    Start,
    Started,
    Stop,
    Stopped,
    SwapFailed,
    TakeOver,
    TakeoverDone,
    Tick,
    TookOver,
    TryFirstStep,
)

#: Seconds a starting actor waits for its retained values, and asks again after.
RETAINED_WAIT: Final = 2.0
RETAINED_RETRY: Final = 0.25
#: Seconds a swap's new version waits for its takeover, and announces itself again after.
STANDBY_LIMIT: Final = 120.0
STANDBY_ANNOUNCE: Final = 0.5
#: Seconds a new version that took over with nothing processed waits for a first step.
PROBATION: Final = 1.0
#: Messages a phase holds back at most (before running, before a takeover, while paused).
MAX_HELD: Final = 200_000


class Phase(StrEnum):
    """Where an actor process is (one loop serves them all)."""

    #: Waiting for the broker link.
    CONNECTING = "connecting"
    #: Waiting for the last values of its retained inputs, before on_start.
    PRIMING = "priming"
    #: A swap's new version: subscribed, holding every message, waiting for ``takeover``.
    STANDBY = "standby"
    #: Took over with nothing processed: its first step must succeed (or time pass).
    PROBATION = "probation"
    #: Starting: on_start (or the swapped-in outputs) runs now.
    STARTING = "starting"
    RUNNING = "running"
    #: Handed its state to a new version: holds every message until resumed or committed.
    PAUSED = "paused"
    #: on_stop runs now.
    STOPPING = "stopping"
    DONE = "done"


#: The phases in which the actor runs: its timers, heartbeats and watched descriptors.
SERVING: Final = frozenset({Phase.RUNNING, Phase.PAUSED})


# -- the table ------------------------------------------------------------------------------

#: A rule: what an input does in a phase (the phase changes through :meth:`Lifecycle.enter`).
Rule = Callable[["Lifecycle", Any, float], list[Action]]


class Lifecycle:
    """The phase of one actor process, its timers and the messages it holds back."""

    def __init__(self, *, swap: bool, prime: bool) -> None:
        #: A swap's new version (standby first) and whether to ask for retained values.
        self.swap = swap
        self.prime = prime
        self.phase = Phase.CONNECTING
        #: The exit code once DONE.
        self.exit_code = Exit.OK
        #: Whether the process leaves as the old version of a committed swap (no on_stop).
        self.swapped_out = False
        #: Messages (and requests) held back by the phase: before running, before a
        #: takeover, while paused.
        self.held: list[Message | Control] = []
        #: Messages dropped because more than :data:`MAX_HELD` were held.
        self.held_dropped = 0
        self._deadline = 0.0
        self._again_at = 0.0

    def done(self) -> bool:
        """Whether the process is to leave now (with :attr:`exit_code`)."""
        return self.phase is Phase.DONE

    @property
    def serving(self) -> bool:
        """Whether the actor runs (its timers, heartbeats and descriptors are served)."""
        return self.phase in SERVING

    def next_due(self) -> float | None:
        """When :class:`Tick` has something to do next (None: no timer in this phase)."""
        if self.phase in (Phase.PRIMING, Phase.STANDBY):
            return min(self._again_at, self._deadline)
        if self.phase is Phase.PROBATION:
            return self._deadline
        return None

    def handle(self, event: Input, now: float) -> list[Action]:
        """What *event* does in the current phase: the actions to carry out, in order."""
        rule = TABLE[self.phase].get(type(event))
        return [] if rule is None else rule(self, event, now)

    def enter(self, phase: Phase, now: float) -> list[Action]:  # noqa: PLR0911 - one per phase
        """Change to *phase*; its entry actions."""
        self.phase = phase
        if phase is Phase.PRIMING:
            self._again_at, self._deadline = now + RETAINED_RETRY, now + RETAINED_WAIT
            return [AskRetained()]
        if phase is Phase.STANDBY:
            self._again_at, self._deadline = now + STANDBY_ANNOUNCE, now + STANDBY_LIMIT
            return [Announce()]
        if phase is Phase.PROBATION:
            self._deadline = now + PROBATION
            return []
        if phase is Phase.STARTING:
            return [Start()]
        if phase is Phase.RUNNING:
            early, self.held = self.held, []
            return [Redo(early)] if early else []
        if phase is Phase.STOPPING:
            return [RunStop()]
        return []

    def _hold(self, event: Message | Control) -> bool:
        """Keep a message; False when :data:`MAX_HELD` are kept already (it is counted)."""
        if len(self.held) < MAX_HELD:
            self.held.append(event)
            return True
        self.held_dropped += 1
        return False

    def _done(self, code: Exit) -> list[Action]:
        self.exit_code = code
        return self.enter(Phase.DONE, 0.0)

    # -- rules ------------------------------------------------------------------------------

    def _connected(self, event: Connected, now: float) -> list[Action]:
        if self.swap:
            return self.enter(Phase.STANDBY, now)
        return self.enter(Phase.PRIMING if self.prime else Phase.STARTING, now)

    def _keep(self, event: Message | Control, now: float) -> list[Action]:
        """Hold a message (or a request for the running actor) until running."""
        self._hold(event)
        return []

    def _priming_tick(self, event: Tick, now: float) -> list[Action]:
        if now >= self._deadline:
            note = Note("warning", "no answer about retained values", {"waited": RETAINED_WAIT})
            return [note, *self.enter(Phase.STARTING, now)]
        if now >= self._again_at:  # asked again now and then: a busy supervisor may miss one
            self._again_at = now + RETAINED_RETRY
            return [AskRetained()]
        return []

    def _primed(self, event: RetainedValues, now: float) -> list[Action]:
        return [Prime(event.messages), *self.enter(Phase.STARTING, now)]

    def _standby_tick(self, event: Tick, now: float) -> list[Action]:
        if now >= self._deadline:
            note = Note("error", "no takeover came", {"waited": STANDBY_LIMIT})
            return [note, *self._done(Exit.FAILURE)]
        if now >= self._again_at:
            self._again_at = now + STANDBY_ANNOUNCE
            return [Announce()]
        return []

    def _standby_message(self, event: Message, now: float) -> list[Action]:
        if self._hold(event):
            return []
        return self._swap_failed(
            SwapFailed(f"more than {MAX_HELD} messages arrived before the takeover"), now
        )

    def _standby_control(self, event: Control, now: float) -> list[Action]:
        if event.request.op is not Op.TAKEOVER:
            return []  # the swap's other steps are for the old version
        held, self.held = self.held, []
        return [TakeOver(event.request, [m.frames for m in held if isinstance(m, Message)])]

    def _taken_over(self, event: TakeoverDone, now: float) -> list[Action]:
        if event.processed:
            return [TookOver(event.processed), *self.enter(Phase.STARTING, now)]
        return self.enter(Phase.PROBATION, now)  # nothing held to try: a first step decides

    def _probation_tick(self, event: Tick, now: float) -> list[Action]:
        if now >= self._deadline:  # no message came: nothing to try
            return [TookOver(0), *self.enter(Phase.STARTING, now)]
        return []

    def _probation_message(self, event: Message, now: float) -> list[Action]:
        return [TryFirstStep(event.frames)]

    def _first_step(self, event: FirstStep, now: float) -> list[Action]:
        if event.stepped:
            return [TookOver(1), *self.enter(Phase.STARTING, now)]
        return []

    def _swap_failed(self, event: SwapFailed, now: float) -> list[Action]:
        return [ReportFailure(event.error), *self._done(Exit.FAILURE)]

    def _started(self, event: Started, now: float) -> list[Action]:
        return self.enter(Phase.RUNNING, now)

    def _deliver(self, event: Message, now: float) -> list[Action]:
        return [Deliver(event.frames)]

    def _paused_message(self, event: Message, now: float) -> list[Action]:
        self._hold(event)
        return []

    def _running_control(self, event: Control, now: float) -> list[Action]:
        request = event.request
        if request.op is Op.HANDOVER:  # between two steps by construction
            self.phase = Phase.PAUSED
            return [Answer(request)]
        return self._control(event, now)

    def _control(self, event: Control, now: float) -> list[Action]:
        request = event.request
        if request.op is Op.RESUME:  # the new version failed: the held messages first
            held, self.held = self.held, []
            self.phase = Phase.RUNNING
            if held:
                note = Note("warning", "swap rolled back; resuming", {"held": len(held)})
                return [note, Answer(request, len(held)), Redo(held)]
            return [Answer(request)]
        if request.op is Op.COMMIT:  # the new version runs: leave without on_stop
            self.swapped_out = True
            note = Note("info", "swapped out: the new version runs")
            return [Answer(request), note, *self._done(Exit.OK)]
        return [Answer(request)]

    def _stop_before_running(self, event: Stop, now: float) -> list[Action]:
        return self._done(Exit.OK)  # not started: nothing to stop

    def _stop(self, event: Stop, now: float) -> list[Action]:
        return self.enter(Phase.STOPPING, now)

    def _stopped(self, event: Stopped, now: float) -> list[Action]:
        return self._done(Exit.OK)

    def _failed(self, event: Failed, now: float) -> list[Action]:
        return self._done(event.code)


L = Lifecycle
#: For every phase, what each kind of input does there; a kind not listed is ignored.
TABLE: Final[dict[Phase, dict[type, Rule]]] = {
    Phase.CONNECTING: {
        Connected: L._connected,
        Stop: L._stop_before_running,
        Failed: L._failed,
    },
    Phase.PRIMING: {
        Tick: L._priming_tick,
        Message: L._keep,
        Control: L._keep,
        RetainedValues: L._primed,
        Stop: L._stop_before_running,
        Failed: L._failed,
    },
    Phase.STANDBY: {
        Tick: L._standby_tick,
        Message: L._standby_message,
        Control: L._standby_control,
        TakeoverDone: L._taken_over,
        SwapFailed: L._swap_failed,
        Stop: L._stop_before_running,
        Failed: L._failed,
    },
    Phase.PROBATION: {
        Tick: L._probation_tick,
        Message: L._probation_message,
        FirstStep: L._first_step,
        SwapFailed: L._swap_failed,
        Stop: L._stop_before_running,
        Failed: L._failed,
    },
    Phase.STARTING: {
        Message: L._keep,
        Control: L._keep,
        Started: L._started,
        Stop: L._stop_before_running,
        Failed: L._failed,
    },
    Phase.RUNNING: {
        Message: L._deliver,
        Control: L._running_control,
        Stop: L._stop,
        Failed: L._failed,
    },
    Phase.PAUSED: {
        Message: L._paused_message,
        Control: L._control,
        Stop: L._stop,
        Failed: L._failed,
    },
    Phase.STOPPING: {
        Stopped: L._stopped,
        Failed: L._failed,
    },
    Phase.DONE: {},
}
del L
