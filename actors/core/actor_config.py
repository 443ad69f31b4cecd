"""The record of one actor instance's settings, ``[actors.NAME]`` (pure core, no IO).

The site layer parses it from site.toml (:mod:`actors.site.parse`, with each
key's definition and default in :mod:`actors.site.actor_keys`); the engine runs
by it (:class:`~actors.core.engine_types.EngineConfig` holds it, not copies of
its fields). It lives in the core so that the engine can hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.core.access import ControlRights


@dataclass(frozen=True)
class ActorConfig:
    """``[actors.NAME]``: one actor instance of the site.

    Each field but ``name`` is a key defined once, with its default, in
    :mod:`actors.site.actor_keys`; the parser (or, for a test, the Harness) fills
    every field from there, so none has a default here.
    """

    name: str
    class_path: str
    period: float | None
    restart: str
    escalate: str
    #: ``host``: the host that runs it ("" on a site of one host).
    host: str
    after: tuple[str, ...]
    params: dict[str, Any]
    topics: dict[str, str]
    log_level: str | None
    otel_log_level: str | None
    recorder: int | None
    hang_timeout: float | None
    max_rss_mb: float | None
    max_cpu_percent: float | None
    cpu_window: float
    #: Seconds a message may take from its publish to its delivery before it counts as
    #: ``late`` (in the actor's statistics).
    late_after: float
    status: bool
    #: ``[actors.NAME.calls.CALL]``: timeout and policy of each Call, over the code's.
    calls: dict[str, dict[str, Any]]
    #: ``[actors.NAME.rate_limits]``: rate limits of Inputs and Outputs, over the code's.
    rate_limits: dict[str, Any]
    #: ``control``: the actors it may start, stop, restart or ask the status of.
    control: ControlRights
    #: ``autostart``: started with the site (else only by ``ctl start`` or another actor).
    autostart: bool
