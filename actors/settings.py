"""What one actor process needs to know, derived from the site (shell-side record).

The only IO: on a secured site, an actor not handed its keys by its supervisor
(one run by hand) reads them from the site's key folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.core.access import ACTOR
from actors.core.engine_types import EngineConfig
from actors.keys import ClientKeys, Identity, KeyFolder
from actors.site import SiteConfig, import_paths
from actors.site.paths import allowed_paths


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything one actor process needs to know."""

    name: str
    class_path: str
    pub_endpoint: str
    sub_endpoint: str
    import_paths: tuple[Path, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    period: float | None = None
    heartbeat_interval: float = 1.0
    connect_timeout: float = 10.0
    log_level: str = "info"
    hwm: int = 10000
    log_dir: Path | None = None
    run_dir: Path | None = None
    site: str = "site"
    otlp_endpoint: str = ""
    sampling: float = 1.0
    resource: dict[str, str] = field(default_factory=dict)
    metrics_interval: float = 5.0
    protocol: str = "http"
    otel_log_level: str = "warning"
    snapshot_dir: Path | None = None
    snapshot_keep: int = 20
    recorder: int = 100
    recorder_bytes: int = 64 * 1024 * 1024
    #: Seconds from publish to delivery past which a message counts as late.
    late_after: float = 0.025
    #: Resident memory the process may grow to (MiB; None: no limit), held by the kernel.
    max_rss_mb: float | None = None
    #: Non-empty: this process is the new version of a hot swap (``ctl swap``).
    swap: str = ""
    #: Some Input reads a retained topic: ask the supervisor for the values at start.
    retained: bool = False
    #: Timeout and policy of each Call, from site.toml, over the code's.
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Rate limits of Inputs and Outputs, from site.toml, over the code's.
    rate_limits: dict[str, Any] = field(default_factory=dict)
    #: site.toml gives it control rights (``self.enlil.start`` and the rest).
    control: bool = False
    #: The seed and rules of fault injection (``[faults]``; none by default).
    fault_seed: int = 0
    fault_rules: tuple[Any, ...] = ()
    #: Faults the site had injected under each rule limited per site when this process
    #: was started (rule index -> count; the supervisor's ``--faults-used``).
    fault_used: dict[int, int] = field(default_factory=dict)
    #: The CURVE keys the actor connects with on a secured site (None: no CURVE).
    keys: ClientKeys | None = None
    #: Where its path params may point (globs; see ``actors.site.paths``).
    allowed_paths: tuple[str, ...] = ()
    #: The state database of durable State, and the seconds between writes.
    state_db: Path | None = None
    state_interval: float = 1.0

    @classmethod
    def from_site(
        cls, site: SiteConfig, name: str, keys: ClientKeys | None = None
    ) -> RuntimeConfig:
        """The runtime settings of actor *name* of *site* (KeyError if there is none); *keys*
        are those its supervisor handed it on a secured site (None: from the key folder).
        KeyProblem when the site is secured and the actor has no key."""
        if keys is None and site.secured:
            keys = KeyFolder(site.security.keys).client(Identity(ACTOR, name))
        actor = site.actors[name]
        telemetry = site.telemetry
        return cls(
            name=name,
            class_path=actor.class_path,
            pub_endpoint=site.broker.pub_connect,
            sub_endpoint=site.broker.sub_connect,
            import_paths=tuple(import_paths(site)),
            params=site.actor_params(name),
            topics=actor.topics,
            period=actor.period,
            heartbeat_interval=site.supervisor.heartbeat_interval,
            connect_timeout=site.supervisor.ready_timeout,
            log_level=actor.log_level or telemetry.log_level,
            otel_log_level=actor.otel_log_level or telemetry.otel_log_level,
            log_dir=site.site.run_dir / "logs",
            run_dir=site.site.run_dir,
            hwm=site.broker.hwm,
            site=site.site.name,
            otlp_endpoint=telemetry.otlp_endpoint,
            sampling=telemetry.sampling,
            resource=telemetry.resource,
            metrics_interval=telemetry.metrics_interval,
            protocol=telemetry.protocol,
            snapshot_dir=site.snapshots.dir,
            snapshot_keep=site.snapshots.keep,
            recorder=actor.recorder if actor.recorder is not None else site.snapshots.inputs,
            recorder_bytes=int(site.snapshots.recorder_mb * 1024 * 1024),
            late_after=actor.late_after,
            max_rss_mb=actor.max_rss_mb,
            calls=actor.calls,
            rate_limits=actor.rate_limits,
            control=bool(actor.control),
            fault_seed=site.faults.seed,
            fault_rules=site.faults.rules,
            keys=keys,
            allowed_paths=allowed_paths(site),
            state_db=site.persistence.path,
            state_interval=site.persistence.interval,
        )

    def engine_config(self) -> EngineConfig:
        """The part of these settings the actor's engine runs by."""
        return EngineConfig(
            name=self.name,
            params=self.params,
            topics=self.topics,
            period=self.period,
            class_path=self.class_path,
            recorder=self.recorder,
            recorder_bytes=self.recorder_bytes,
            late_after=self.late_after,
            log_dir=str(self.log_dir) if self.log_dir else None,
            run_dir=str(self.run_dir) if self.run_dir else None,
            calls=self.calls,
            rate_limits=self.rate_limits,
            control=self.control,
        )
