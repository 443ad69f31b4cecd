"""Exponential backoff with jitter: the one resilience rule every retry uses (pure core).

Supervision's restarts (:mod:`supervisor.core.policy`) and the HAL links'
reconnects (:mod:`hal.core.links`) wait the same way: a delay that doubles
from *initial* up to *maximum*, drawn over its upper half so that retries
spread out and never run in a tight loop. The random source is the
caller's (seeded in tests); nothing here reads a clock.
"""

from __future__ import annotations

import random
from typing import Protocol


class RandomSource(Protocol):
    """Where jitter comes from: ``random.Random`` or a seeded or fixed stand-in."""

    def random(self) -> float:
        """A float in [0, 1)."""


def exponential(step: int, initial: float, maximum: float) -> float:
    """The delay of retry number *step* (0 first): *initial* doubled *step* times, capped."""
    return float(min(maximum, initial * 2**step))


def next_delay(previous: float, initial: float, maximum: float) -> float:
    """The delay after *previous* (0: none yet): *initial* first, then doubling, capped."""
    return min(previous * 2 if previous else initial, maximum)


def jittered(delay: float, rng: RandomSource | None = None) -> float:
    """A wait drawn over the upper half of *delay*: ``delay * (1 - U/2)``, U in [0, 1)."""
    return delay * (1.0 - 0.5 * (rng or random).random())
