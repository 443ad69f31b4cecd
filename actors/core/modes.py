"""Modes of a site: which actors to stop and start, in which order (pure core, no IO).

A mode is a set of actors. Going to a mode stops the managed actors it does
not name, dependants before what they start after, then starts the ones it
names, each after the actors in its ``after`` list. :func:`mode_plan` makes
that plan from what the supervisor says; the actor that carries it out is
:class:`actors.modes.Modes`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

#: States of an actor that count as up (a stop is needed to bring it down).
UP: Final = frozenset({"running", "starting", "backoff", "stopping"})


@dataclass(frozen=True)
class ModePlan:
    """What to do to reach a mode: stop these, then start these, in order."""

    stop: tuple[str, ...]
    start: tuple[str, ...]


def start_order(names: Iterable[str], after: Mapping[str, Collection[str]]) -> list[str]:
    """*names* with each after the names of its ``after`` list (stable otherwise; a cycle,
    which ``check`` refuses anyway, keeps the given order)."""
    wanted = list(dict.fromkeys(names))
    members = set(wanted)
    out: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name in visiting:
            return
        visiting.add(name)
        for dep in after.get(name, ()):
            if dep in members:
                place(dep)
        visiting.discard(name)
        placed.add(name)
        out.append(name)

    for name in wanted:
        place(name)
    return out


def mode_plan(
    mode: Collection[str],
    managed: Collection[str],
    states: Mapping[str, str],
    after: Mapping[str, Collection[str]],
) -> ModePlan:
    """The plan to reach *mode* (its actors) from *states* (each managed actor's state):
    the managed actors not in *mode* that are up stop, dependants first; the actors of
    *mode* that are not running start, dependencies first."""
    order = start_order(sorted(managed), after)
    stop = [n for n in reversed(order) if n not in mode and states.get(n) in UP]
    start = [n for n in start_order(mode, after) if states.get(n) != "running"]
    return ModePlan(tuple(stop), tuple(start))


def mode_problems(modes: Any, initial: Any) -> list[str]:
    """What is wrong with a ``modes`` table and an ``initial`` mode, each ``"KEY: reason"``."""
    if not isinstance(modes, Mapping) or not modes:
        return ["modes: must be a table of at least one mode: {name = [actor, ...]}"]
    problems = []
    for name, actors in modes.items():
        if not isinstance(actors, list) or not all(isinstance(a, str) for a in actors):
            problems.append(f"modes.{name}: must be a list of actor names, got {actors!r}")
    if initial and initial not in modes:
        problems.append(f"initial: {initial!r} is not a mode (modes: {', '.join(modes)})")
    return problems
