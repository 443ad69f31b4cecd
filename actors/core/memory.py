"""An actor's memory: its State, Input and Output values, as one record (pure core).

The flight recorder keeps captures of it, a hot swap hands it over, a
snapshot stores it and a replay restores it. A capture keeps immutable
values by reference and msgpack-encodes the mutable ones
(:func:`~actors.core.snapshot.freeze`), so that it cannot change afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.core.declarations import ActorSpec
from actors.core.snapshot import ABSENT, IMMUTABLE, Packed, freeze, thaw
from actors.core.types import coerce, is_typed


class Memory:
    """Captures, thaws and restores the declared variables of one actor instance."""

    def __init__(self, spec: ActorSpec) -> None:
        self.spec = spec
        self.slots = [
            *(("state", n) for n in spec.states),
            *(("inputs", n) for n in spec.inputs),
            *(("outputs", n) for n in spec.outputs),
        ]
        self.names = [name for _, name in self.slots]
        #: The actor instance's attribute dict (set by the engine once the actor exists).
        self.values: dict[str, Any] = {}

    def capture(self) -> tuple[Any, ...]:
        """A cheap copy of the memory for the flight recorder (see :func:`freeze`)."""
        get = self.values.get
        return tuple(
            [v if type(v := get(name, ABSENT)) in IMMUTABLE else freeze(v) for name in self.names]
        )

    @staticmethod
    def weigh(capture: tuple[Any, ...]) -> int:
        """Bytes a capture copied: what its next checkpoint will cost (see the recorder)."""
        return sum([len(v) for v in capture if type(v) is Packed])

    def thaw(self, capture: tuple[Any, ...]) -> dict[str, Any]:
        """A capture as ``{state, inputs, outputs}`` (variables without a value left out)."""
        memory: dict[str, dict[str, Any]] = {"state": {}, "inputs": {}, "outputs": {}}
        for (kind, name), value in zip(self.slots, capture, strict=True):
            if value is not ABSENT:
                memory[kind][name] = thaw(value)
        return memory

    def now(self) -> dict[str, Any]:
        """What restores the actor: State values, and the Inputs/Outputs that have values."""
        return self.thaw(self.capture())

    def restore(self, memory: Mapping[str, Any]) -> None:
        """Put State, Input and Output values back as :meth:`now` gave them."""
        spec = self.spec
        for kind, declared in (
            ("state", spec.states),
            ("inputs", spec.inputs),
            ("outputs", spec.outputs),
        ):
            for name, value in (memory.get(kind) or {}).items():
                var = declared.get(name)
                if var is not None:
                    # A record comes back from msgpack as its map of fields: made a record
                    # again (a value that does not fit stays as it was, for the user to see).
                    self.values[name] = _as_declared(value, var.type)


class StateMismatch(ValueError):
    """A swap would lose or misread State: names or types changed without a version bump."""


def handed_state_changes(
    spec: ActorSpec, state: Mapping[str, Any], migrated: bool
) -> tuple[str, ...]:
    """The State names of a handover the new class does not declare (dropped).

    Without a migration (the same ``version``), any such name, or a value the
    new declaration's type refuses, raises StateMismatch: a renamed or retyped
    State would be silently lost or misread.
    """
    dropped = tuple(sorted(n for n in state if n not in spec.states))
    retyped = []
    for name, value in state.items():
        var = spec.states.get(name)
        if var is None:
            continue
        try:
            coerce(value, var.type)
        except TypeError as exc:
            retyped.append(f"{name} ({exc})")
    if migrated:
        if retyped:
            raise StateMismatch(f"migrate_state returned values of the wrong type: {retyped}")
        return dropped
    if dropped or retyped:
        parts = []
        if dropped:
            parts.append(f"it drops {', '.join(dropped)} (not declared: renamed?)")
        if retyped:
            parts.append(f"it changes the type of {', '.join(retyped)}")
        raise StateMismatch(
            f"the new version's State differs with the same version: {'; '.join(parts)}; "
            "raise the class's version and write migrate_state"
        )
    return dropped


def _as_declared(value: Any, tp: Any) -> Any:
    if not is_typed(tp):
        return value
    try:
        return coerce(value, tp)
    except TypeError:
        return value
