"""The engine's public types: its config, its counters, the tracer it calls (pure core)."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, Protocol

from actors.core.actor_config import ActorConfig

#: The W3C traceparent of the step running now in this thread, if it is traced: log
#: records pick it up (actors.logs), so a step's logs carry its trace and span ids.
CURRENT_TRACE: ContextVar[str | None] = ContextVar("enlil_current_trace", default=None)


class Tracer(Protocol):
    """What the engine needs from tracing (implemented by :mod:`actors.telemetry`)."""

    def sample_root(self) -> bool: ...
    def start(self, name: str, parent: str | None, attributes: dict[str, Any]) -> Any: ...
    def traceparent(self, span: Any) -> str: ...
    def end(self, span: Any, exc: BaseException | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How one actor instance runs: the site's record of it (held, not copied: each of its
    keys is defined once, with its default, in :mod:`actors.site.actor_keys`) and what
    the process resolved from the rest of the site."""

    #: The site's ``[actors.NAME]`` record.
    actor: ActorConfig
    #: The params it runs with (the site's, the status actor's ``watch``, a swap's).
    params: Mapping[str, Any]
    #: ``module:Class`` it runs (a swap's new version may run another).
    class_path: str
    #: Events in its flight recorder (its own ``recorder``, else ``[snapshots] inputs``)
    #: and bytes of recorded messages at most (``[snapshots] recorder_mb``).
    recorder: int
    recorder_bytes: int
    log_dir: str | None = None
    run_dir: str | None = None
    #: Seed of the actor's random source (``self.enlil.random``); None: from the OS.
    seed: int | None = None

    @property
    def name(self) -> str:
        """The actor's name."""
        return self.actor.name


@dataclass(frozen=True, slots=True)
class Statistics:
    """Counters of one actor instance since it started."""

    received: int = 0
    accepted: int = 0
    malformed: int = 0
    unsupported_version: int = 0
    type_rejected: int = 0
    filtered: int = 0
    gaps: int = 0
    duplicates: int = 0
    #: Accepted messages older than ``late_after`` when delivered (by their publish time).
    late: int = 0
    published: int = 0
    steps: int = 0
    #: Reliable Inputs: messages delivered after they had been asked for again (a loss
    #: recovered), and messages a writer said are not coming (shed or undeliverable).
    recovered: int = 0
    lost: int = 0


#: The names of the counters, in order.
COUNTERS: Final = tuple(Statistics.__slots__)
