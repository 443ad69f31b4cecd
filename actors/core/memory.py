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
                if name in declared:
                    self.values[name] = value
