"""The site config model: ``site.toml`` as frozen records (pure core, no IO).

Every package reads the site through these records: the actor runtime, the
broker and the supervisor each derive their own settings from a
:class:`SiteConfig` (``RuntimeConfig.from_site``, ``BrokerSettings.from_site``)
instead of copying its fields. Parsing is in :mod:`actors.site.parse`, reading
the file in :mod:`actors.site.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from actors.core.access import Rights
from actors.core.actor_config import ActorConfig
from actors.core.faults import FaultRule
from actors.site.schema import CURVE_MODES, LOG_LEVELS, default
from actors.site.site_keys import FAULTS_KEYS, PERSISTENCE_KEYS, SECURITY_KEYS, WEB_KEYS

# Read from here too: the site layer's constants and its record of one actor.
__all__ = ["CURVE_MODES", "LOG_LEVELS", "ActorConfig"]

#: The built-in status actor, whose ``watch`` param defaults to the actors marked ``status``.
STATUS_CLASS: Final = "actors.builtin:Status"
#: Longest path a Unix domain socket may have on Linux (sun_path less the NUL).
MAX_IPC_PATH: Final = 107


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config: where it is and why it is wrong."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.key}: {self.reason}" if self.key else f"{self.file}: {self.reason}"
        )


class ConfigError(ValueError):
    """The config is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class SiteInfo:
    """``[site]``: the site's name, its run directory and extra import paths."""

    name: str
    run_dir: Path
    python_path: tuple[Path, ...]


@dataclass(frozen=True)
class BrokerConfig:
    """``[broker]``: where the broker binds. Publishers use ``pub``, subscribers ``sub``."""

    pub: str
    sub: str
    hwm: int

    @property
    def pub_connect(self) -> str:
        """The address a publisher connects to."""
        return connect_address(self.pub)

    @property
    def sub_connect(self) -> str:
        """The address a subscriber connects to."""
        return connect_address(self.sub)


@dataclass(frozen=True)
class SupervisorConfig:
    """``[supervisor]``: restart policy, timeouts and the control endpoint."""

    strategy: str
    max_restarts: int
    max_seconds: float
    control: str
    backoff_initial: float
    backoff_max: float
    stop_timeout: float
    ready_timeout: float
    heartbeat_interval: float
    hang_timeout: float
    spawn: str
    #: Requests a second one control connection may send (``rate_limited`` beyond), and
    #: how many at once.
    control_rate: float
    control_burst: int
    #: Seconds another host's clock may be off this one's before a ``clock_skew`` event.
    clock_skew: float

    @property
    def control_connect(self) -> str:
        """The address a control client connects to."""
        return connect_address(self.control)


@dataclass(frozen=True)
class TelemetryConfig:
    """``[telemetry]``: log levels and where OpenTelemetry data would be exported."""

    log_level: str
    otel_log_level: str
    otlp_endpoint: str
    protocol: str
    sampling: float
    resource: dict[str, str]
    metrics_interval: float
    prometheus: str


@dataclass(frozen=True)
class SnapshotConfig:
    """``[snapshots]``: where failure snapshots go, how many to keep, how much to record."""

    dir: Path
    keep: int
    inputs: int
    #: MiB of recorded messages an actor's flight recorder keeps at most.
    recorder_mb: float


@dataclass(frozen=True)
class FaultsConfig:
    """``[faults]``: the seed and the rules of fault injection (none by default)."""

    seed: int = default(FAULTS_KEYS, "seed")
    rules: tuple[FaultRule, ...] = ()


@dataclass(frozen=True)
class WebConfig:
    """``[web]``: the live web view (off unless ``listen`` is set)."""

    #: host:port the view listens on ("": no view).
    listen: str = default(WEB_KEYS, "listen")
    #: The token that reads and acts ("": a new one at each start, printed with the URL
    #: and written to ``token_file``).
    token: str = default(WEB_KEYS, "token")
    #: host:port of the Foxglove WebSocket endpoint the view serves too ("": none).
    foxglove: str = default(WEB_KEYS, "foxglove")
    #: A token that only reads (the view, the Foxglove endpoint; "": none).
    read_token: str = default(WEB_KEYS, "read_token")
    #: Where the supervisor writes the token, owner-only (``<run_dir>/web.token`` by default).
    token_file: Path = Path("web.token")
    #: Origins let in besides the view's own, e.g. ``https://app.foxglove.dev``.
    origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersistenceConfig:
    """``[persistence]``: where durable State is kept, and how often it is written."""

    #: The state database (SQLite, WAL); ``<run_dir>/state.db`` by default.
    path: Path = Path("state.db")
    #: Seconds between two writes of an actor's changed durable values, at most.
    interval: float = default(PERSISTENCE_KEYS, "interval")


@dataclass(frozen=True)
class SecurityConfig:
    """``[security]``: CURVE keys, roles of tools and access rules (see README)."""

    curve: str = default(SECURITY_KEYS, "curve")
    #: The key folder (absolute; ``keys`` beside site.toml by default).
    keys: Path = Path("keys")
    #: Per-message access checks in the broker (on a secured site).
    checks: bool = default(SECURITY_KEYS, "checks")
    #: Role of a tool key that ``roles`` does not name.
    default_role: str = default(SECURITY_KEYS, "default_role")
    #: ``[security.roles]``: tool name -> role (``operator`` and ``web``, the web view's,
    #: are ``admin`` unless named).
    roles: dict[str, str] = field(default_factory=dict)
    #: ``[security.access.NAME]``: what an actor or a tool may do beyond its own rights.
    access: dict[str, Rights] = field(default_factory=dict)
    #: Where params that name files may point (globs) besides the defaults (the site's
    #: folder, its run folder, serial devices).
    paths: tuple[str, ...] = ()
    #: The tool key this process's tools connect with (``--key``; not from site.toml).
    tool: str = "operator"

    def role_of(self, tool: str) -> str:
        """The role of tool key *tool*."""
        return self.roles.get(tool, "admin" if tool in ("operator", "web") else self.default_role)


@dataclass(frozen=True)
class HostConfig:
    """``[hosts.NAME]``: one machine of a site on several, and where the others reach it."""

    name: str
    #: The IP address or DNS name the other hosts reach it at.
    address: str
    #: Its broker's link port (the other hosts' brokers take its actors' messages there).
    port: int
    #: Its supervisor's control port, for tools and the other hosts.
    control_port: int
    #: The interface address its ports are bound on ("*": every one).
    bind: str

    @property
    def link(self) -> str:
        """Where the other hosts' brokers connect to take its messages."""
        return f"tcp://{self.address}:{self.port}"

    @property
    def link_bind(self) -> str:
        """Where its broker binds the link port."""
        return f"tcp://{self.bind}:{self.port}"

    @property
    def control(self) -> str:
        """Where tools and the other hosts reach its supervisor."""
        return f"tcp://{self.address}:{self.control_port}"

    @property
    def control_bind(self) -> str:
        """Where its supervisor binds the control port."""
        return f"tcp://{self.bind}:{self.control_port}"


@dataclass(frozen=True)
class SiteConfig:
    """A whole validated site: ``path`` is the site.toml it came from, if any."""

    path: Path
    site: SiteInfo
    broker: BrokerConfig
    supervisor: SupervisorConfig
    telemetry: TelemetryConfig
    snapshots: SnapshotConfig
    actors: dict[str, ActorConfig]
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    persistence: PersistenceConfig = field(default_factory=PersistenceConfig)
    #: ``[hosts.NAME]``: the site's machines, the main one first (none: a site of one host).
    hosts: dict[str, HostConfig] = field(default_factory=dict)
    #: The host this view of the site is of ("" on a site of one host): ``actors`` are the
    #: ones it runs, ``elsewhere`` the other hosts'.
    host: str = ""
    elsewhere: dict[str, ActorConfig] = field(default_factory=dict)

    @property
    def secured(self) -> bool:
        """Whether the site's sockets use CURVE (and connections need a known key)."""
        if self.hosts:
            return True  # what crosses hosts is always CURVE (the parser refuses "off")
        if self.security.curve == "auto":
            endpoints = (self.broker.pub, self.broker.sub, self.supervisor.control)
            return any(e.startswith("tcp://") for e in endpoints)
        return self.security.curve == "on"

    @property
    def checked(self) -> bool:
        """Whether the broker checks each message against its sender's rights."""
        return self.secured and self.security.checks

    @property
    def everyone(self) -> dict[str, ActorConfig]:
        """Every actor of the site, whichever host runs it."""
        return {**self.actors, **self.elsewhere}

    @property
    def peers(self) -> dict[str, HostConfig]:
        """The other hosts of the site (none on a site of one host)."""
        return {n: h for n, h in self.hosts.items() if n != self.host}

    def host_of(self, actor: str) -> str:
        """The host that runs *actor* ("" on a site of one host; KeyError if none does)."""
        return self.everyone[actor].host

    @property
    def folder(self) -> Path:
        """The folder of site.toml: relative paths and class modules resolve from here."""
        return self.path.parent

    def start_order(self) -> list[str]:
        """Actor names so that each comes after everything in its ``after`` list."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dep in self.actors[name].after:
                visit(dep)
            order.append(name)

        for name in self.actors:
            visit(name)
        return order

    def actor_params(self, name: str) -> dict[str, Any]:
        """The params actor *name* runs with (KeyError if there is none).

        The built-in status actor's ``watch`` defaults to the actors marked
        ``status = true`` (all of them if none is).
        """
        actor = self.everyone[name]
        params = dict(actor.params)
        if actor.class_path == STATUS_CLASS and "watch" not in params:
            params["watch"] = [n for n, a in self.everyone.items() if a.status]
        return params


def connect_address(bind: str) -> str:
    """Turn a bind endpoint into one a client can connect to (``*`` -> loopback)."""
    if bind.startswith("tcp://*:"):
        return "tcp://127.0.0.1:" + bind.removeprefix("tcp://*:")
    if bind.startswith("tcp://0.0.0.0:"):
        return "tcp://127.0.0.1:" + bind.removeprefix("tcp://0.0.0.0:")
    return bind
