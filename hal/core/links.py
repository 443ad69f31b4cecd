"""What every link actor does the same way: status counters (pure core).

Reconnect delays use the one backoff rule of :mod:`actors.core.backoff`.

Used by :mod:`hal.serial` and :mod:`hal.mqtt`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def publish_counts(actor: Any, counts: Mapping[str, int], *, changed_only: bool = True) -> None:
    """Assign each counter to the actor's Output of that name (so it is published);
    with *changed_only*, only those whose value changed."""
    for name, value in counts.items():
        if not changed_only or getattr(actor, name) != value:
            setattr(actor, name, value)
