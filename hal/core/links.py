"""What every link actor does the same way: reconnect backoff and status counters (pure core).

Used by :mod:`hal.serial` and :mod:`hal.mqtt`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any


def next_delay(previous: float, initial: float, maximum: float) -> float:
    """The next reconnect delay: *initial* first, then doubling, at most *maximum*."""
    return min(previous * 2 if previous else initial, maximum)


def jittered(delay: float, rng: random.Random | None = None) -> float:
    """A wait drawn over the upper half of *delay*: retries spread out, never in a tight loop."""
    return delay * (rng or random).uniform(0.5, 1.0)


def publish_counts(actor: Any, counts: Mapping[str, int], *, changed_only: bool = True) -> None:
    """Assign each counter to the actor's Output of that name (so it is published);
    with *changed_only*, only those whose value changed."""
    for name, value in counts.items():
        if not changed_only or getattr(actor, name) != value:
            setattr(actor, name, value)
