"""Rate limits on an actor's Inputs and Outputs: load shed, counted (pure core, no IO).

An Input or Output declared with ``rate_limit=RateLimit(rate, burst, mode)``
(or given one in site.toml, ``[actors.NAME.rate_limits]``) passes at most
*rate* messages a second, *burst* at once. Past that, ``drop`` sheds the
message; ``latest`` keeps the newest value and lets it through when the next
token comes (one step, or one publish, for all that came meanwhile). Shed
messages are counted per variable (``shed`` in ``ctl status``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.core.resilience import PolicyError, RateLimit, TokenBucket, rate_limit_from


def resolve_limits(spec: Any, overrides: Mapping[str, Any]) -> dict[str, RateLimit]:
    """The rate limit of each Input and Output that has one, with site.toml's *overrides*
    (``{name: {rate, burst, mode} | false}``) over the declarations; raises PolicyError
    whose key names the variable (``rate_limits.temperature.rate``)."""
    declared = {**spec.inputs, **spec.outputs}
    limits: dict[str, RateLimit] = {
        name: var.rate_limit
        for name, var in declared.items()
        if getattr(var, "rate_limit", None) is not None
    }
    for name, table in overrides.items():
        if name not in declared:
            raise PolicyError(
                f"rate_limits.{name}", f"{spec.cls_name} declares no Input or Output {name!r}"
            )
        limit = rate_limit_from(f"rate_limits.{name}", limits.get(name), table)
        if limit is None:
            limits.pop(name, None)
        else:
            limits[name] = limit
    return limits


class Limiter:
    """The buckets of one actor's limited Inputs and Outputs, and what they shed."""

    def __init__(self, limits: Mapping[str, RateLimit]) -> None:
        self.limits = dict(limits)
        self._buckets = {name: TokenBucket(lim.rate, lim.burst) for name, lim in limits.items()}
        #: Messages shed (dropped, or replaced by a later one) per variable.
        self.shed: dict[str, int] = dict.fromkeys(limits, 0)
        #: Variables whose latest value waits for a token.
        self.waiting: set[str] = set()

    def admit(self, name: str, now: float) -> float | None:
        """None: *name*'s message passes now. Else seconds until a token; the message is
        shed (``drop``) or kept as the latest (``latest``, the caller arranges the wait
        unless one is already arranged: see :attr:`waiting`)."""
        wait = self._buckets[name].take(now)
        if wait is not None and (self.limits[name].mode == "drop" or name in self.waiting):
            self.shed[name] += 1
        return wait

    def latest(self, name: str) -> bool:
        """Whether *name* keeps the latest value past its limit (else it drops)."""
        return self.limits[name].mode == "latest"
