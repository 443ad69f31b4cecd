"""A supervised child's two tables (supervisor.core.lifecycle), alone: what supervision wants
of a child (its goal) for every goal and every order, and what follows an exit."""

from __future__ import annotations

import pytest

from supervisor.core.lifecycle import (
    GOALS,
    WANTED,
    AfterExit,
    Goal,
    Order,
    after_exit,
    next_goal,
)

G, Do = Goal, Order
#: Every (goal, order) that changes the goal, and the goal after it; every other pair
#: leaves the goal as it is.
EXPECTED: dict[tuple[Goal, Order], Goal] = {
    (G.RUN, Do.STOP): G.STOP,
    (G.RUN, Do.RESTART): G.RESTART,
    (G.RUN, Do.RECOVER): G.RECOVER,
    (G.RUN, Do.REMOVE): G.REMOVE,
    (G.RECOVER, Do.STOP): G.STOP,
    (G.RECOVER, Do.RESTART): G.RESTART,
    (G.RECOVER, Do.READY): G.RUN,  # ready after a failure: "restarted" is said now
    (G.RECOVER, Do.REMOVE): G.REMOVE,
    (G.RESTART, Do.STOP): G.STOP,
    (G.RESTART, Do.EXIT): G.RUN,  # stopped on purpose: it starts again
    (G.RESTART, Do.REMOVE): G.REMOVE,
    (G.STOP, Do.START): G.RUN,
    (G.STOP, Do.REMOVE): G.REMOVE,
}


@pytest.mark.parametrize("goal", list(Goal))
@pytest.mark.parametrize("order", list(Order))
def test_every_goal_and_every_order(goal: Goal, order: Order) -> None:
    changed = EXPECTED.get((goal, order))
    assert next_goal(goal, order) is (goal if changed is None else changed)
    assert ((goal, order) in GOALS) == (changed is not None), "the table lists only changes"


def test_a_child_leaving_the_site_never_comes_back() -> None:
    for order in Order:
        assert next_goal(G.REMOVE, order) is G.REMOVE


def test_a_group_restart_does_not_start_what_an_operator_stopped() -> None:
    """ctl stop, then the group's restart before the stop completed: it stays stopped (ctl
    restart itself orders START first)."""
    assert next_goal(G.STOP, Do.RESTART) is G.STOP
    assert next_goal(next_goal(G.STOP, Do.START), Do.RESTART) is G.RESTART


def test_only_running_goals_are_started() -> None:
    assert {g for g in Goal if g in WANTED} == {G.RUN, G.RECOVER, G.RESTART}


@pytest.mark.parametrize("goal", list(Goal))
def test_what_follows_an_exit(goal: Goal) -> None:
    if goal is G.REMOVE:
        assert after_exit(goal, True) is after_exit(goal, False) is AfterExit.FORGET
    else:
        assert after_exit(goal, True) is AfterExit.START_DUE
        assert after_exit(goal, False) is AfterExit.POLICY
