"""Rate limits in the engine: Inputs and Outputs that shed load (pure core, no IO).

:class:`RateLimits` is the engine's collaborator that applies
:mod:`actors.core.limits`: an Input past its limit drops the message or keeps
the value and steps when the next token comes; an Output past its limit drops
the publish or publishes the latest value when the next token comes. The
waits are the engine's timers, so they run on the actor's clock (the
harness's fake clock in tests). It is handed what it acts on (the actor's
values, the set of Outputs to publish, the step, the send); it never sees the
engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors.core.declarations import ActorSpec
from actors.core.limits import Limiter, resolve_limits
from actors.core.schedule import Schedule


class RateLimits:
    """The rate-limited Inputs and Outputs of one actor instance."""

    def __init__(  # noqa: PLR0913 - the parts it is handed, each by name
        self,
        spec: ActorSpec,
        overrides: Mapping[str, Any],
        *,
        schedule: Schedule,
        monotonic: Callable[[], float],
        values: dict[str, Any],
        dirty: set[str],
        step: Callable[[], None],
        ready: Callable[[], bool],
        send: Callable[[str, Any, str | None], None],
    ) -> None:
        limits = resolve_limits(spec, overrides)
        #: The buckets, or None when nothing is limited.
        self.limiter = Limiter(limits) if limits else None
        #: The limited Inputs and Outputs, or None (the engine's hot path tests only that).
        self.inputs = {n for n in limits if n in spec.inputs} or None
        self.outputs = {n for n in limits if n in spec.outputs} or None
        self._schedule = schedule
        self._monotonic = monotonic
        self._values = values
        self._dirty = dirty
        self._step = step
        self._ready = ready
        self._send = send
        self._pending_sends: dict[str, tuple[Any, str | None]] = {}

    def admit_input(self, name: str, value: Any) -> bool:
        """Whether the message for Input *name* goes on (False: shed, or kept for later)."""
        limiter = self.limiter
        assert limiter is not None
        wait = limiter.admit(name, self._monotonic())
        if wait is None:
            return True
        if limiter.latest(name):
            self._values[name] = value
            if name not in limiter.waiting:
                limiter.waiting.add(name)
                self._schedule.call_later(
                    wait, _named(f"rate_limit {name}", self._release_input, name)
                )
        return False

    def _release_input(self, name: str) -> None:
        assert self.limiter is not None
        self.limiter.waiting.discard(name)
        if self._ready():
            self._step()

    def admit_output(self, name: str) -> bool:
        """Whether Output *name* publishes now (False: shed, or published when a token comes)."""
        limiter = self.limiter
        assert limiter is not None
        wait = limiter.admit(name, self._monotonic())
        if wait is None:
            return True
        if limiter.latest(name) and name not in limiter.waiting:
            limiter.waiting.add(name)
            self._schedule.call_later(
                wait, _named(f"rate_limit {name}", self._release_output, name)
            )
        return False

    def _release_output(self, name: str) -> None:
        assert self.limiter is not None
        self.limiter.waiting.discard(name)
        if name in self._pending_sends:
            value, topic = self._pending_sends.pop(name)
            self._send(name, value, topic)
        else:
            self._dirty.add(name)  # published with the callback's outputs

    def admit_send(self, name: str, value: Any, topic: str | None) -> bool:
        """Whether ``send`` of Output *name* publishes now (False: shed, or kept as the
        latest for the token the limit waits for)."""
        assert self.limiter is not None
        if self.admit_output(name):
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
