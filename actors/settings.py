"""What one actor process needs to know: the site's records of it, held, not copied (shell-side
record).

:class:`RuntimeConfig` holds the parsed :class:`~actors.site.SiteConfig` and the
actor's name, and adds only what its command line says (a swap's new version,
its class and params, the retained values to ask for, the keys it was handed):
every site key is read where the site's record keeps it (``cfg.actor.late_after``,
``cfg.site.supervisor.heartbeat_interval``), defined once with its default in
:mod:`actors.site.schema`. The only IO: on a secured site, an actor not handed
its keys by its supervisor (one run by hand) reads them from the site's key folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from actors.core.access import ACTOR
from actors.core.engine_types import EngineConfig
from actors.keys import ClientKeys, Identity, KeyFolder
from actors.site import ActorConfig, SiteConfig, import_paths
from actors.site.paths import allowed_paths

_MIB = 1024 * 1024


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything one actor process needs to know."""

    #: The site, as site.toml and the supervisor's additions describe it.
    site: SiteConfig
    name: str
    #: The CURVE keys the actor connects with on a secured site (None: no CURVE).
    keys: ClientKeys | None = None
    #: Non-empty: this process is the new version of a hot swap (``ctl swap``).
    swap: str = ""
    #: Some Input reads a retained topic: ask the supervisor for the values at start.
    retained: bool = False
    #: The command line's class, params and log level over site.toml's (a swap's new
    #: version runs another class or params; empty: site.toml's).
    class_override: str = ""
    params_override: dict[str, Any] = field(default_factory=dict)
    log_level_override: str = ""
    #: Faults the site had injected under each rule limited per site when this process
    #: was started (rule index -> count; the supervisor's ``--faults-used``).
    fault_used: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_site(
        cls, site: SiteConfig, name: str, keys: ClientKeys | None = None
    ) -> RuntimeConfig:
        """The runtime settings of actor *name* of *site* (KeyError if there is none); *keys*
        are those its supervisor handed it on a secured site (None: from the key folder).
        KeyProblem when the site is secured and the actor has no key."""
        site.actors[name]
        if keys is None and site.secured:
            keys = KeyFolder(site.security.keys).client(Identity(ACTOR, name))
        return cls(site=site, name=name, keys=keys)

    @property
    def actor(self) -> ActorConfig:
        """The actor's own table."""
        return self.site.actors[self.name]

    @property
    def class_path(self) -> str:
        """``module:Class`` of the actor (the command line's, else site.toml's)."""
        return self.class_override or self.actor.class_path

    @cached_property
    def params(self) -> dict[str, Any]:
        """The params it runs with: site.toml's, then the command line's over them."""
        return {**self.site.actor_params(self.name), **self.params_override}

    @property
    def log_level(self) -> str:
        """Its local log level: the command line's, its own, else the site's."""
        return self.log_level_override or self.actor.log_level or self.site.telemetry.log_level

    @property
    def otel_log_level(self) -> str:
        """Its OpenTelemetry log level: its own, else the site's."""
        return self.actor.otel_log_level or self.site.telemetry.otel_log_level

    @property
    def run_dir(self) -> Path:
        """The site's run folder."""
        return self.site.site.run_dir

    @property
    def log_dir(self) -> Path:
        """Where its log file goes."""
        return self.run_dir / "logs"

    @cached_property
    def import_paths(self) -> tuple[Path, ...]:
        """The folders its class is imported from."""
        return tuple(import_paths(self.site))

    @cached_property
    def allowed_paths(self) -> tuple[str, ...]:
        """Where its path params may point (globs; see ``actors.site.paths``)."""
        return allowed_paths(self.site)

    @property
    def recorder(self) -> int:
        """Its flight recorder's size: its own, else ``[snapshots] inputs``."""
        own = self.actor.recorder
        return own if own is not None else self.site.snapshots.inputs

    def engine_config(self) -> EngineConfig:
        """The part of these settings the actor's engine runs by."""
        return EngineConfig(
            actor=self.actor,
            params=self.params,
            class_path=self.class_path,
            recorder=self.recorder,
            recorder_bytes=int(self.site.snapshots.recorder_mb * _MIB),
            log_dir=str(self.log_dir),
            run_dir=str(self.run_dir),
        )
