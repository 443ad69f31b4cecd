"""Pure: a hot swap's phase table, every phase against every step and sender."""

from __future__ import annotations

import pytest

from supervisor.core.swap_phases import FROM_NEW, HOLDING, Phase, SwapStep, next_phase, takes

#: The path of a swap that works, step by step.
HAPPY = [
    (Phase.STARTING, SwapStep.STANDBY, True, Phase.HANDING_OVER),
    (Phase.HANDING_OVER, SwapStep.HANDED_OVER, False, Phase.TAKING_OVER),
    (Phase.TAKING_OVER, SwapStep.TOOK_OVER, True, Phase.DONE),
]


@pytest.mark.parametrize(("phase", "step", "from_new", "then"), HAPPY)
def test_a_swap_that_works_goes_through_every_phase(
    phase: Phase, step: SwapStep, from_new: bool, then: Phase
) -> None:
    assert takes(phase, step, from_new)
    assert not takes(phase, step, not from_new)  # the other version may not say it
    assert next_phase(phase, step) is then


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("step", list(SwapStep))
def test_every_phase_and_step(phase: Phase, step: SwapStep) -> None:
    """A failure or a timeout ends any phase but DONE; an answer is taken only in its
    phase, from its version; nothing moves DONE; nothing goes backwards."""
    order = list(Phase)
    then = next_phase(phase, step)
    assert order.index(then) >= order.index(phase)
    if phase is Phase.DONE:
        assert not takes(phase, step) and then is Phase.DONE
    elif step in (SwapStep.FAILED, SwapStep.TIMED_OUT):
        assert takes(phase, step) and then is Phase.DONE
    else:
        happy = {(p, s) for p, s, _, _ in HAPPY}
        early = (phase, step) == (Phase.STARTING, SwapStep.TOOK_OVER)  # a failure before
        assert takes(phase, step) is ((phase, step) in happy or early)
        if takes(phase, step):
            assert takes(phase, step, FROM_NEW[step]) and not takes(phase, step, not FROM_NEW[step])
        else:
            assert then is phase  # a late or repeated answer is ignored


def test_a_rollback_resumes_the_running_version_only_once_it_holds_its_messages() -> None:
    assert {Phase.HANDING_OVER, Phase.TAKING_OVER} == HOLDING
