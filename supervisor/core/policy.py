"""Restart policy as a function of events (pure core, no IO, no clock).

The supervisor shell reports what happened (:meth:`RestartPolicy.exited`,
:meth:`RestartPolicy.ready`), passing the time; the policy answers what to
do with a :data:`Decision`. It keeps the little history it needs (restart
times per actor, consecutive failures) and draws jitter from the random
generator it was given, so a test can replay any sequence exactly.

* strategy ``one_for_one`` restarts the failed actor; ``one_for_all`` all
  actors; ``rest_for_one`` the failed actor and those started after it;
* restart type ``permanent`` restarts always, ``transient`` only after an
  abnormal exit, ``temporary`` never;
* more than ``max_restarts`` restarts of one actor within ``max_seconds``
  escalates: the site shuts down, or with ``escalate = "give_up"`` that
  actor alone is given up;
* the first restart after a stable run is immediate; consecutive ones back
  off exponentially (``backoff_initial`` doubling up to ``backoff_max``) with
  jitter of up to half the delay;
* a commanded stop is never a failure and never counts.
"""

from __future__ import annotations

import random
import signal
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from actors.core.backoff import RandomSource, exponential, jittered
from actors.core.control import Exit
from actors.site.model import SiteConfig


@dataclass(frozen=True, slots=True)
class ActorExited:
    """An actor process ended. ``code`` is its exit status, ``signal`` the signal that killed it."""

    name: str
    at: float
    code: int | None = None
    signal: int | None = None
    commanded: bool = False
    reason: str = ""

    @property
    def normal(self) -> bool:
        """Exit 0, not killed: what ``transient`` does not restart."""
        return self.code == 0 and self.signal is None

    def describe(self) -> str:
        """Short human text: ``exit code 70``, ``killed by SIGKILL``, ``normal``."""
        if self.reason:
            return self.reason
        if self.signal is not None:
            try:
                return f"killed by {signal.Signals(self.signal).name}"
            except ValueError:
                return f"killed by signal {self.signal}"
        return "normal" if self.code == 0 else f"exit code {self.code}"


@dataclass(frozen=True, slots=True)
class Ignore:
    """Nothing to do (a commanded stop, or a restart type that does not restart here)."""

    why: str


@dataclass(frozen=True, slots=True)
class Restart:
    """Restart *names* (in start order) after *delay* seconds; *attempt* counts in a row."""

    names: tuple[str, ...]
    delay: float
    attempt: int


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Mark *name* failed and leave it stopped; the rest of the site keeps running."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Escalate:
    """Shut the whole site down cleanly, for *reason*."""

    reason: str


Decision = Ignore | Restart | GiveUp | Escalate


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The site's restart settings and each actor's restart type and escalation."""

    strategy: str = "one_for_one"
    max_restarts: int = 5
    max_seconds: float = 30.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    order: Sequence[str] = ()
    restart: Mapping[str, str] = field(default_factory=dict)
    escalate: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_site(cls, site: SiteConfig) -> PolicyConfig:
        """The restart settings of *site*: ``[supervisor]``, and each actor's table."""
        cfg = site.supervisor
        return cls(
            strategy=cfg.strategy,
            max_restarts=cfg.max_restarts,
            max_seconds=cfg.max_seconds,
            backoff_initial=cfg.backoff_initial,
            backoff_max=cfg.backoff_max,
            order=site.start_order(),
            restart={n: a.restart for n, a in site.actors.items()},
            escalate={n: a.escalate for n, a in site.actors.items()},
        )


class RestartPolicy:
    """Decides what follows an actor's exit; see the module docstring for the rules."""

    def __init__(self, config: PolicyConfig, rng: RandomSource | None = None) -> None:
        self.config = config
        self._rng: RandomSource = rng or random.Random()
        self._restarts: dict[str, deque[float]] = {}
        self._in_a_row: dict[str, int] = {}
        self._ready_at: dict[str, float] = {}

    def ready(self, name: str, at: float) -> None:
        """*name* became ready at time *at*."""
        self._ready_at[name] = at

    def exited(self, event: ActorExited, running: Sequence[str] = ()) -> Decision:
        """Decide what follows *event*; *running* lists the actors up at that moment."""
        cfg = self.config
        settled = self._settled(event)
        if settled is not None:
            return settled
        history = self._restarts.setdefault(event.name, deque())
        while history and event.at - history[0] > cfg.max_seconds:
            history.popleft()
        if len(history) >= cfg.max_restarts:
            reason = (
                f"actor {event.name!r} failed {len(history) + 1} times within "
                f"{cfg.max_seconds:g}s (max_restarts = {cfg.max_restarts}); "
                f"last: {event.describe()}"
            )
            if cfg.escalate.get(event.name, "shutdown") == "give_up":
                return GiveUp(event.name, reason)
            return Escalate(reason)
        history.append(event.at)
        ready_at = self._ready_at.get(event.name)
        stable = ready_at is not None and event.at - ready_at >= cfg.max_seconds
        attempt = 1 if stable else self._in_a_row.get(event.name, 0) + 1
        self._in_a_row[event.name] = attempt
        delay = 0.0
        if attempt > 1:
            base = exponential(attempt - 2, cfg.backoff_initial, cfg.backoff_max)
            delay = jittered(base, self._rng)
        return Restart(self._group(event.name, running), delay, attempt)

    def _settled(self, event: ActorExited) -> Ignore | GiveUp | None:
        """What follows *event* whatever the restart history (None: the history decides)."""
        if event.commanded:
            return Ignore("stopped on command")
        kind = self.config.restart.get(event.name, "permanent")
        if kind == "temporary":
            return Ignore("temporary actors are not restarted")
        if kind == "transient" and event.normal:
            return Ignore("transient actor exited normally")
        if event.code == Exit.STATE and event.signal is None:
            # Starting again reads the same stored values: say why once, and leave the
            # rest of the site running.
            return GiveUp(
                event.name,
                f"actor {event.name!r}: its stored durable State cannot be used (see its log); "
                f"fix it with `state import`, or `ctl state {event.name} --reset`",
            )
        return None

    def _group(self, name: str, running: Sequence[str]) -> tuple[str, ...]:
        order = list(self.config.order)
        if self.config.strategy == "one_for_all":
            return tuple(n for n in order if n == name or n in running)
        if self.config.strategy == "rest_for_one" and name in order:
            later = order[order.index(name) + 1 :]
            return (name, *(n for n in later if n in running))
        return (name,)
