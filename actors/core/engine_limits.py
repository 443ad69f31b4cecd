"""Rate limits in the engine: Inputs and Outputs that shed load (pure core, no IO).

The part of :class:`~actors.core.engine.ActorEngine` that applies
:mod:`actors.core.limits`: an Input past its limit drops the message or keeps
the value and steps when the next token comes; an Output past its limit drops
the publish or publishes the latest value when the next token comes. The
waits are the engine's timers, so they run on the actor's clock (the
harness's fake clock in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors.core.actor import Actor
from actors.core.declarations import ActorSpec
from actors.core.limits import Limiter, resolve_limits
from actors.core.schedule import Schedule


class EngineLimits:
    """Rate-limited Inputs and Outputs of one actor instance (a mixin of the engine)."""

    spec: ActorSpec
    actor: Actor
    schedule: Schedule
    _monotonic: Callable[[], float]
    _dirty: set[str]
    _step: Callable[[], None]
    ready_to_step: Callable[[], bool]
    send: Callable[..., None]

    def _setup_limits(self, overrides: Mapping[str, Any]) -> None:
        limits = resolve_limits(self.spec, overrides)
        #: The buckets, or None when nothing is limited (the hot path tests only that).
        self.limiter = Limiter(limits) if limits else None
        self._input_limits = {n for n in limits if n in self.spec.inputs} or None
        self._output_limits = {n for n in limits if n in self.spec.outputs} or None
        self._pending_sends: dict[str, tuple[Any, str | None]] = {}

    def _admit_input(self, name: str, value: Any) -> bool:
        """Whether the message for Input *name* goes on (False: shed, or kept for later)."""
        limiter = self.limiter
        assert limiter is not None
        wait = limiter.admit(name, self._monotonic())
        if wait is None:
            return True
        if limiter.latest(name):
            self.actor.__dict__[name] = value
            if name not in limiter.waiting:
                limiter.waiting.add(name)
                self.schedule.call_later(
                    wait, _named(f"rate_limit {name}", self._release_input, name)
                )
        return False

    def _release_input(self, name: str) -> None:
        assert self.limiter is not None
        self.limiter.waiting.discard(name)
        if self.ready_to_step():
            self._step()

    def _admit_output(self, name: str) -> bool:
        """Whether Output *name* publishes now (False: shed, or published when a token comes)."""
        limiter = self.limiter
        assert limiter is not None
        wait = limiter.admit(name, self._monotonic())
        if wait is None:
            return True
        if limiter.latest(name) and name not in limiter.waiting:
            limiter.waiting.add(name)
            self.schedule.call_later(wait, _named(f"rate_limit {name}", self._release_output, name))
        return False

    def _release_output(self, name: str) -> None:
        assert self.limiter is not None
        self.limiter.waiting.discard(name)
        if name in self._pending_sends:
            value, topic = self._pending_sends.pop(name)
            self.send(name, value, topic)
        else:
            self._dirty.add(name)  # published with the callback's outputs

    def _limited_send(self, name: str, value: Any, topic: str | None) -> bool:
        """Whether ``send`` of Output *name* publishes now (False: shed, or kept as the
        latest for the token the limit waits for)."""
        assert self.limiter is not None
        if self._admit_output(name):
            return True
        if self.limiter.latest(name):
            self._pending_sends[name] = (value, topic)
        return False

    def shed(self) -> dict[str, int]:
        """Messages shed by each rate-limited Input and Output."""
        return dict(self.limiter.shed) if self.limiter is not None else {}


def _named(name: str, method: Callable[[str], None], arg: str) -> Callable[[], None]:
    """``method(arg)`` as a callback with a stable name (what the flight recorder shows)."""

    def run() -> None:
        method(arg)

    run.__qualname__ = name
    return run
