"""The engine's public types: its config, its counters, the tracer it calls (pure core)."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

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
    """How one actor instance is set up: its name, params, topic remaps and period."""

    name: str
    params: Mapping[str, Any]
    topics: Mapping[str, str]
    period: float | None
    class_path: str = ""
    recorder: int = 100
    #: Bytes of recorded messages kept at most (the recorder's second bound).
    recorder_bytes: int = 64 * 1024 * 1024
    #: Seconds from publish to delivery past which a message counts as ``late``.
    late_after: float = 0.025
    log_dir: str | None = None
    run_dir: str | None = None
    #: Seed of the actor's random source (``self.enlil.random``); None: from the OS.
    seed: int | None = None
    #: Per declared Call, what site.toml changes of its timeout and policy.
    calls: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Per Input or Output, what site.toml changes of its rate limit (or false: none).
    rate_limits: Mapping[str, Any] = field(default_factory=dict)
    #: Whether site.toml gives the actor control rights: it gets a call line to the
    #: supervisor (``self.enlil.start`` and the rest; see :mod:`actors.core.control_calls`).
    control: bool = False


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


#: The names of the counters, in order.
COUNTERS: Final = tuple(Statistics.__slots__)
