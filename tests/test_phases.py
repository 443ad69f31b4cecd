"""The actor process's phase table (actors.core.phases), alone on a fake clock: every phase
times every kind of input, then the timers and the held messages of each phase."""

from __future__ import annotations

import pytest

from actors.core import phases
from actors.core.control import Exit, Op, Request
from actors.core.phase_events import (
    INPUTS,
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
from actors.core.phases import TABLE, Lifecycle, Phase

FRAMES = [b"room.temp", b"envelope"]
SNAPSHOT = Control(Request(Op.SNAPSHOT, 1))
SAMPLES: dict[type, Input] = {
    Connected: Connected(),
    Tick: Tick(),
    Message: Message(FRAMES),
    Control: SNAPSHOT,
    RetainedValues: RetainedValues([]),
    TakeoverDone: TakeoverDone(1),
    FirstStep: FirstStep(True),
    SwapFailed: SwapFailed("boom"),
    Started: Started(),
    Stop: Stop(),
    Stopped: Stopped(),
    Failed: Failed(Exit.FAILURE),
}
#: Every (phase, input) that does something: the phase after it and the actions, by type.
#: Every other pair is ignored: no action, the phase stays.
EXPECTED: dict[tuple[Phase, type], tuple[Phase, list[type]]] = {
    (Phase.CONNECTING, Connected): (Phase.STARTING, [Start]),
    (Phase.CONNECTING, Stop): (Phase.DONE, []),
    (Phase.CONNECTING, Failed): (Phase.DONE, []),
    (Phase.PRIMING, Message): (Phase.PRIMING, []),
    (Phase.PRIMING, Control): (Phase.PRIMING, []),
    (Phase.PRIMING, RetainedValues): (Phase.STARTING, [Prime, Start]),
    (Phase.PRIMING, Stop): (Phase.DONE, []),
    (Phase.PRIMING, Failed): (Phase.DONE, []),
    (Phase.STANDBY, Message): (Phase.STANDBY, []),
    (Phase.STANDBY, Control): (Phase.STANDBY, []),  # not a takeover: for the old version
    (Phase.STANDBY, TakeoverDone): (Phase.STARTING, [TookOver, Start]),
    (Phase.STANDBY, SwapFailed): (Phase.DONE, [ReportFailure]),
    (Phase.STANDBY, Stop): (Phase.DONE, []),
    (Phase.STANDBY, Failed): (Phase.DONE, []),
    (Phase.PROBATION, Message): (Phase.PROBATION, [TryFirstStep]),
    (Phase.PROBATION, FirstStep): (Phase.STARTING, [TookOver, Start]),
    (Phase.PROBATION, SwapFailed): (Phase.DONE, [ReportFailure]),
    (Phase.PROBATION, Stop): (Phase.DONE, []),
    (Phase.PROBATION, Failed): (Phase.DONE, []),
    (Phase.STARTING, Message): (Phase.STARTING, []),
    (Phase.STARTING, Control): (Phase.STARTING, []),
    (Phase.STARTING, Started): (Phase.RUNNING, []),
    (Phase.STARTING, Stop): (Phase.DONE, []),
    (Phase.STARTING, Failed): (Phase.DONE, []),
    (Phase.RUNNING, Message): (Phase.RUNNING, [Deliver]),
    (Phase.RUNNING, Control): (Phase.RUNNING, [Answer]),
    (Phase.RUNNING, Stop): (Phase.STOPPING, [RunStop]),
    (Phase.RUNNING, Failed): (Phase.DONE, []),
    (Phase.PAUSED, Message): (Phase.PAUSED, []),
    (Phase.PAUSED, Control): (Phase.PAUSED, [Answer]),
    (Phase.PAUSED, Stop): (Phase.STOPPING, [RunStop]),
    (Phase.PAUSED, Failed): (Phase.DONE, []),
    (Phase.STOPPING, Stopped): (Phase.DONE, []),
    (Phase.STOPPING, Failed): (Phase.DONE, []),
}


def in_phase(phase: Phase, now: float = 0.0) -> Lifecycle:
    """A lifecycle just entered into *phase* at *now*."""
    core = Lifecycle(swap=False, prime=False)
    core.enter(phase, now)
    return core


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("kind", INPUTS, ids=lambda k: k.__name__)
def test_every_phase_and_every_input(phase: Phase, kind: type) -> None:
    """What each kind of input does in each phase (at a time no timer is due)."""
    core = in_phase(phase)
    actions = core.handle(SAMPLES[kind], 0.1)
    after, expected = EXPECTED.get((phase, kind), (phase, []))
    assert (core.phase, [type(a) for a in actions]) == (after, expected)
    timed = kind is Tick and phase in (Phase.PRIMING, Phase.STANDBY, Phase.PROBATION)
    assert (kind in TABLE[phase]) == ((phase, kind) in EXPECTED or timed), (
        "the table lists exactly the inputs that do something (and the phases' timers)"
    )


def test_the_first_phase_follows_from_the_process() -> None:
    """A swap's new version stands by, an actor with retained Inputs primes, others start."""
    for swap, prime, phase, first in [
        (True, True, Phase.STANDBY, Announce),
        (False, True, Phase.PRIMING, AskRetained),
        (False, False, Phase.STARTING, Start),
    ]:
        core = Lifecycle(swap=swap, prime=prime)
        assert [type(a) for a in core.handle(Connected(), 5.0)] == [first]
        assert core.phase is phase


def test_priming_asks_again_then_starts_without_the_values() -> None:
    core = Lifecycle(swap=False, prime=True)
    core.handle(Connected(), 0.0)
    assert core.next_due() == phases.RETAINED_RETRY
    asked = [
        now / 100
        for now in range(0, 200)
        if any(isinstance(a, AskRetained) for a in core.handle(Tick(), now / 100))
    ]
    assert asked == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    actions = core.handle(Tick(), phases.RETAINED_WAIT)
    assert [type(a) for a in actions] == [Note, Start]
    assert actions[0].fields == {"waited": phases.RETAINED_WAIT}
    assert core.phase is Phase.STARTING


def test_what_came_before_running_is_handled_in_order_once_running() -> None:
    core = Lifecycle(swap=False, prime=True)
    core.handle(Connected(), 0.0)
    early = [Message([b"a", b"1"]), SNAPSHOT, Message([b"b", b"2"])]
    for event in early:
        assert core.handle(event, 0.1) == []
    assert [type(a) for a in core.handle(RetainedValues([[b"t", b"e"]]), 0.2)] == [Prime, Start]
    assert core.handle(Started(), 0.3) == [Redo(early)]
    assert core.phase is Phase.RUNNING
    assert [core.handle(e, 0.4) for e in early] == [
        [Deliver([b"a", b"1"])],
        [Answer(SNAPSHOT.request)],
        [Deliver([b"b", b"2"])],
    ]


def test_standby_announces_until_its_limit_then_fails() -> None:
    core = Lifecycle(swap=True, prime=False)
    assert core.handle(Connected(), 0.0) == [Announce()]
    announced = sum(
        isinstance(a, Announce) for t in range(1, 40) for a in core.handle(Tick(), t / 10)
    )
    assert announced == 7  # at 0.5, 1.0 ... 3.5 s
    actions = core.handle(Tick(), phases.STANDBY_LIMIT)
    assert [type(a) for a in actions] == [Note]
    assert core.done() and core.exit_code is Exit.FAILURE


def test_standby_holds_until_the_takeover_and_fails_past_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(phases, "MAX_HELD", 3)
    core = in_phase(Phase.STANDBY)
    for i in range(3):
        assert core.handle(Message([b"t", bytes([i])]), 1.0) == []
    takeover = Control(Request(Op.TAKEOVER, 9, memory={}, sequences={}))
    assert core.handle(takeover, 1.0) == [
        TakeOver(takeover.request, [[b"t", b"\x00"], [b"t", b"\x01"], [b"t", b"\x02"]])
    ]
    assert core.held == []
    core = in_phase(Phase.STANDBY)
    for i in range(3):
        core.handle(Message([b"t", bytes([i])]), 1.0)
    actions = core.handle(Message([b"t", b"x"]), 1.0)
    assert actions == [ReportFailure("more than 3 messages arrived before the takeover")]
    assert core.done() and core.exit_code is Exit.FAILURE


def test_a_takeover_with_nothing_processed_is_on_probation() -> None:
    core = in_phase(Phase.STANDBY)
    assert core.handle(TakeoverDone(0), 10.0) == []
    assert core.phase is Phase.PROBATION and core.next_due() == 10.0 + phases.PROBATION
    assert core.handle(FirstStep(False), 10.5) == []  # a message that ran no step
    assert core.handle(Tick(), 10.9) == []
    assert core.handle(Tick(), 11.0) == [TookOver(0), Start()]
    core = in_phase(Phase.PROBATION, 10.0)
    assert core.handle(FirstStep(True), 10.2) == [TookOver(1), Start()]


def test_a_handover_pauses_and_a_resume_delivers_what_was_held_in_order() -> None:
    core = in_phase(Phase.RUNNING)
    handover = Control(Request(Op.HANDOVER, 1))
    assert core.handle(handover, 0.0) == [Answer(handover.request)]
    assert core.phase is Phase.PAUSED and core.serving
    held = [Message([b"t", bytes([i])]) for i in range(3)]
    for event in held:
        assert core.handle(event, 0.1) == []
    resume = Control(Request(Op.RESUME, 2))
    actions = core.handle(resume, 0.2)
    assert [type(a) for a in actions] == [Note, Answer, Redo]
    assert actions[1:] == [Answer(resume.request, 3), Redo(held)]
    assert core.phase is Phase.RUNNING and core.held == []


def test_a_commit_leaves_without_on_stop() -> None:
    core = in_phase(Phase.PAUSED)
    commit = Control(Request(Op.COMMIT, 3))
    actions = core.handle(commit, 0.0)
    assert [type(a) for a in actions] == [Answer, Note]
    assert core.done() and core.swapped_out and core.exit_code is Exit.OK


def test_paused_holds_a_bounded_number_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(phases, "MAX_HELD", 2)
    core = in_phase(Phase.PAUSED)
    for i in range(5):
        core.handle(Message([b"t", bytes([i])]), 0.0)
    assert len(core.held) == 2 and core.held_dropped == 3


def test_stop_runs_on_stop_only_once_running_and_failures_keep_their_code() -> None:
    core = in_phase(Phase.RUNNING)
    assert core.handle(Stop(), 0.0) == [RunStop()]
    assert core.handle(Stopped(), 0.0) == [] and core.exit_code is Exit.OK and core.done()
    for phase in (Phase.PRIMING, Phase.STANDBY, Phase.STARTING):
        core = in_phase(phase)
        assert core.handle(Stop(), 0.0) == [] and core.done() and core.exit_code is Exit.OK
    for code in (Exit.FAILURE, Exit.STATE, Exit.MEMORY_LIMIT):
        core = in_phase(Phase.RUNNING)
        core.handle(Failed(code), 0.0)
        assert core.done() and core.exit_code is code
