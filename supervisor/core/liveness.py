"""Liveness rules: hung actors and resource limits, as functions of samples (pure core).

The supervisor shell samples each running actor (heartbeat age, RSS, CPU)
and feeds the samples to a :class:`LivenessWatch`; the watch answers with a
:class:`Violation` when the actor must be killed and restarted, or None.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from actors.site.model import SiteConfig


@dataclass(frozen=True, slots=True)
class Limits:
    """One actor's limits; None disables a limit."""

    hang_timeout: float
    max_rss_mb: float | None = None
    max_cpu_percent: float | None = None
    cpu_window: float = 10.0

    @classmethod
    def from_site(cls, site: SiteConfig, name: str) -> Limits:
        """The limits of actor *name* of *site* (its table, else ``[supervisor]``)."""
        actor = site.actors[name]
        return cls(
            hang_timeout=actor.hang_timeout or site.supervisor.hang_timeout,
            max_rss_mb=actor.max_rss_mb,
            max_cpu_percent=actor.max_cpu_percent,
            cpu_window=actor.cpu_window,
        )


@dataclass(frozen=True, slots=True)
class Violation:
    """Why an actor is to be killed: ``kind`` is ``hung`` or ``limit``."""

    kind: str
    reason: str


class LivenessWatch:
    """Judges one actor incarnation from its samples."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._cpu: collections.deque[tuple[float, float]] = collections.deque()

    def heartbeat(self, now: float, last_heartbeat: float) -> Violation | None:
        """A violation if no heartbeat came for longer than the hang timeout."""
        silent = now - last_heartbeat
        if silent > self.limits.hang_timeout:
            return Violation(
                "hung",
                f"hung: no heartbeat for {silent:.1f}s "
                f"(hang_timeout = {self.limits.hang_timeout:g}s)",
            )
        return None

    def resources(self, now: float, rss_bytes: int, cpu_percent: float) -> Violation | None:
        """A violation if RSS is over its limit, or CPU has been over its limit for a window."""
        lim = self.limits
        if lim.max_rss_mb is not None and rss_bytes > lim.max_rss_mb * 1024 * 1024:
            return Violation(
                "limit",
                f"limit: rss {rss_bytes / 1048576:.0f} MiB > max_rss_mb = {lim.max_rss_mb:g}",
            )
        if lim.max_cpu_percent is None:
            return None
        self._cpu.append((now, cpu_percent))
        while len(self._cpu) > 1 and now - self._cpu[1][0] >= lim.cpu_window:
            self._cpu.popleft()
        covered = now - self._cpu[0][0] >= lim.cpu_window
        if covered and all(c > lim.max_cpu_percent for _, c in self._cpu):
            mean = sum(c for _, c in self._cpu) / len(self._cpu)
            return Violation(
                "limit",
                f"limit: cpu {mean:.0f}% for {lim.cpu_window:g}s > "
                f"max_cpu_percent = {lim.max_cpu_percent:g}",
            )
        return None
