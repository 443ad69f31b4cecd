"""``site.toml`` data parsed and validated into a :class:`SiteConfig` (pure core, no IO).

:func:`parse_site` takes the already-read TOML data and the file's path and
returns a :class:`SiteConfig`, or raises :class:`ConfigError` listing every
problem found, each naming the file, the key and the reason. Reading the file
is in :mod:`actors.site.load`; importing the actor classes it names is the
supervisor's check (:mod:`supervisor.site`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from pathlib import Path
from typing import Any, Final

from actors.core.access import ControlRights
from actors.core.topics import TopicError, check_topic
from actors.site.actor_keys import ACTOR_KEYS, SUPERVISOR_KEYS
from actors.site.hosts import parse_hosts, place, this_host
from actors.site.model import (
    MAX_IPC_PATH,
    ActorConfig,
    BrokerConfig,
    ConfigError,
    ConfigProblem,
    PersistenceConfig,
    SiteConfig,
    SiteInfo,
    SnapshotConfig,
    SupervisorConfig,
    TelemetryConfig,
)
from actors.site.schema import REQUIRED, Key
from actors.site.sections import (
    MAX_PORT,
    check_after,
    check_control,
    control_rights,
    host_ok,
    parse_faults_section,
    parse_security,
    parse_web,
    port_ok,
)
from actors.site.site_keys import (
    BROKER_KEYS,
    PERSISTENCE_KEYS,
    SITE_KEYS,
    SNAPSHOT_KEYS,
    TABLES,
    TELEMETRY_KEYS,
)


def _schema(keys: tuple[Key, ...]) -> dict[str, tuple[Any, Any]]:
    """key -> (expected python types, default), as :meth:`_Collector.table` checks them."""
    return {k.name: (k.types, k.default) for k in keys}


#: ``[actors.NAME]``'s keys (each defined once in :mod:`actors.site.actor_keys`).
_ACTOR_KEYS: Final[dict[str, tuple[Any, Any]]] = _schema(ACTOR_KEYS)
_TABLES: Final = {*(t for t in TABLES if "." not in t), "actors", "hosts"}


def site_keys() -> dict[str, tuple[str, ...]]:
    """Every key a site.toml may have, by table (``actors.NAME`` for each actor's, and
    ``faults.rules`` for each rule's): what the reference documents."""
    from actors.core.faults import RULE_KEYS  # noqa: PLC0415 - the core's, not the parser's

    keys = {table: tuple(k.name for k in defined) for table, defined in TABLES.items()}
    return {**keys, "faults.rules": tuple(RULE_KEYS)}


def actor_keys() -> dict[str, tuple[tuple[type, ...], Any]]:
    """The keys of an ``[actors.NAME]`` table: their types and defaults (``...``: required)."""
    return {key: (_tuple(types), default) for key, (types, default) in _ACTOR_KEYS.items()}


#: The sane range of every number (``actors.*`` for each actor's), with its unit, as
#: its key defines it: a value outside disarms or breaks the site (nan turns checks off,
#: inf never returns, 1e-9 s spins the supervisor, a HWM past 2**31 overflows ZeroMQ).
_RANGES: Final[dict[str, tuple[float, float, str]]] = {
    f"{table.removesuffix('.NAME')}.{k.name}": k.bounds
    for table, keys in TABLES.items()
    for k in keys
    if k.ranged
}


#: ``[actors.NAME]`` keys whose ActorConfig field the parser makes itself (the others go
#: in as :func:`_typed` gives them, under their own name).
_MADE: Final = frozenset({"class", "after", "calls", "control"})


def actor_record(name: str, **values: Any) -> ActorConfig:
    """The record of actor *name* from *values* (``[actors.NAME]`` keys as site.toml gives
    them, ``class`` as ``class_path``); a key left out takes its default. The parser makes
    every actor's record with it, after checking the values; a test's Harness makes one
    without a site."""
    fields = {}
    for key in ACTOR_KEYS:
        field = "class_path" if key.name == "class" else key.name
        value = values.pop(field, None if key.default is REQUIRED else key.default)
        fields[field] = _typed(key, value)
    if values:
        raise TypeError(f"no [actors.NAME] key {', '.join(map(repr, values))}")
    control = fields["control"]
    if not isinstance(control, ControlRights):
        fields["control"], _ = ControlRights.parse(control)
    fields["after"] = tuple(fields["after"])
    return ActorConfig(name=name, **fields)


def _typed(key: Key, value: Any) -> Any:
    """A checked value of *key* as its ActorConfig field holds it: a number taken as a
    float where the key takes floats, a table copied."""
    if value is None or isinstance(value, bool):
        return value
    if float in key.types and isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _checked(col: _Collector, data: Any, table: str, keys: tuple[Key, ...]) -> dict[str, Any]:
    """One table checked against its keys' types, choices and ranges; its values, with
    defaults filled in (a bad value: its default, and the problem noted)."""
    values = col.table(data, table, _schema(keys))
    for key in keys:
        value = values[key.name]
        if key.choices and value is not None:
            col.choice(f"{table}.{key.name}", value, key.choices)
        if key.ranged:
            col.number(f"{table}.{key.name}", value)
    return values


class _Collector:
    """Gathers problems so that one run of ``check`` reports all of them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ConfigProblem] = []

    def add(self, key: str, reason: str) -> None:
        self.problems.append(ConfigProblem(self.file, key, reason))

    def table(self, data: Any, where: str, schema: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
        """Check one table against *schema*; return its values with defaults filled in."""
        if not isinstance(data, dict):
            self.add(where, f"must be a table, got {type(data).__name__}")
            data = {}
        out: dict[str, Any] = {}
        for key in data:
            if key not in schema:
                hint = difflib.get_close_matches(key, list(schema), n=1)
                also = f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(schema)})"
                self.add(f"{where}.{key}", "unknown key" + also)
        for key, (types, default) in schema.items():
            if key not in data:
                if default is ...:
                    self.add(f"{where}.{key}", "is required")
                out[key] = None if default is ... else default
                continue
            value = data[key]
            if not isinstance(value, types) or (
                isinstance(value, bool) and bool not in _tuple(types)
            ):
                want = " or ".join(t.__name__ for t in _tuple(types))
                self.add(
                    f"{where}.{key}", f"expected {want}, got {type(value).__name__} {value!r:.40}"
                )
                out[key] = None if default is ... else default
                continue
            out[key] = value
        return out

    def choice(self, key: str, value: str, choices: tuple[str, ...]) -> None:
        if value not in choices:
            self.add(key, f"{value!r} is not one of {', '.join(choices)}")

    def number(self, key: str, value: float | None, kind: str = "") -> None:
        """Check *value* against the range of *kind* (default: *key*) in :data:`_RANGES`."""
        if value is None:
            return
        lo, hi, unit = _RANGES[kind or key]
        unit = f" {unit}" if unit else ""
        if not math.isfinite(value):
            self.add(key, f"must be a finite number, got {value}")
        elif value < lo:
            least = "greater than 0" if value <= 0 < lo else f"at least {lo:g}{unit}"
            self.add(key, f"must be {least}, got {value:g}")
        elif value > hi:
            self.add(key, f"must be at most {hi:g}{unit}, got {value:g}")


def _tuple(types: Any) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _endpoint(col: _Collector, key: str, value: str, default: Path) -> str:
    if not value:
        value = f"ipc://{default}"
    if value.startswith("ipc://"):
        path = value.removeprefix("ipc://")
        if len(path.encode()) > MAX_IPC_PATH:
            col.add(
                key,
                f"socket path {path!r} is longer than {MAX_IPC_PATH} bytes; "
                "use a shorter run_dir or a tcp:// endpoint",
            )
        if not path:
            col.add(key, f"{value!r} names no socket path")
    elif value.startswith("tcp://"):
        host, _, port = value.removeprefix("tcp://").rpartition(":")
        if host != "*" and not host_ok(host):
            col.add(key, f"{value!r}: {host!r} is not a host name, an IP address or '*'")
        if not port_ok(port):
            col.add(key, f"{value!r}: the port must be a number from 1 to {MAX_PORT}")
    elif not value.startswith("inproc://") or value == "inproc://":
        col.add(key, f"{value!r} is not an ipc://, tcp:// or inproc:// endpoint")
    return value


def parse_site(data: dict[str, Any], path: Path, host: str = "") -> SiteConfig:
    """Validate parsed TOML *data* from *path* into a :class:`SiteConfig` (the view of
    *host*, on a site of several: the main host's if ""); ConfigError lists every
    problem."""
    site, problems = parse_site_leniently(data, path, host)
    if problems:
        raise ConfigError(problems)
    return site


def parse_site_leniently(
    data: dict[str, Any], path: Path, host: str = ""
) -> tuple[SiteConfig, list[ConfigProblem]]:
    """The site *data* describes (as *host* sees it), as far as it is sound, and every
    problem found.

    Bad values fall back to their defaults and actors with a problem of their
    own are left out, so that ``check`` can go on to the classes of the others
    and report everything at once.
    """
    col = _Collector(str(path))
    for key in data:
        if key not in _TABLES:
            hint = difflib.get_close_matches(key, list(_TABLES), n=1)
            col.add(key, "unknown table" + (f" (did you mean [{hint[0]}]?)" if hint else ""))
    folder = path.parent
    site = _checked(col, data.get("site", {}), "site", SITE_KEYS)
    run_dir = Path(site["run_dir"]) if site["run_dir"] else Path("run")
    run_dir = (folder / run_dir).resolve() if not run_dir.is_absolute() else run_dir
    hosts = parse_hosts(col, data.get("hosts"))
    this = this_host(col, hosts, host)
    if this:  # each host's sockets, pid file, state and snapshots in a folder of its own
        run_dir = run_dir / this
    python_path = []
    for i, entry in enumerate(site["python_path"]):
        if not isinstance(entry, str):
            col.add(f"site.python_path[{i}]", "expected a folder path string")
            continue
        python_path.append((folder / entry).resolve())
    site_info = SiteInfo(
        name=site["name"] or "site", run_dir=run_dir, python_path=tuple(python_path)
    )

    b = _checked(col, data.get("broker", {}), "broker", BROKER_KEYS)
    broker = BrokerConfig(
        pub=_endpoint(col, "broker.pub", b["pub"], run_dir / "pub.sock"),
        sub=_endpoint(col, "broker.sub", b["sub"], run_dir / "sub.sock"),
        hwm=b["hwm"],
    )
    if broker.pub == broker.sub:
        col.add("broker.sub", "must differ from broker.pub")

    s = _checked(col, data.get("supervisor", {}), "supervisor", SUPERVISOR_KEYS)
    if s["backoff_max"] < s["backoff_initial"]:
        col.add("supervisor.backoff_max", "must not be shorter than supervisor.backoff_initial")
    supervisor = SupervisorConfig(
        control=_endpoint(col, "supervisor.control", s["control"], run_dir / "control.sock"),
        **{k.name: _typed(k, s[k.name]) for k in SUPERVISOR_KEYS if k.name != "control"},
    )
    if supervisor.hang_timeout <= supervisor.heartbeat_interval:
        col.add("supervisor.hang_timeout", "must be longer than supervisor.heartbeat_interval")

    sn = _checked(col, data.get("snapshots", {}), "snapshots", SNAPSHOT_KEYS)
    snap_dir = Path(sn["dir"]) if sn["dir"] else run_dir / "snapshots"
    snapshots = SnapshotConfig(
        dir=snap_dir if snap_dir.is_absolute() else (folder / snap_dir).resolve(),
        keep=sn["keep"],
        inputs=sn["inputs"],
        recorder_mb=float(sn["recorder_mb"]),
    )

    t = _checked(col, data.get("telemetry", {}), "telemetry", TELEMETRY_KEYS)
    endpoint = t["otlp_endpoint"]
    if endpoint and not endpoint.startswith(("http://", "https://")):
        col.add("telemetry.otlp_endpoint", f"{endpoint!r} is not an http:// or https:// URL")
    for key, value in t["resource"].items():
        if not isinstance(value, str):
            col.add(f"telemetry.resource.{key}", f"expected str, got {type(value).__name__}")
    telemetry = TelemetryConfig(
        log_level=t["log_level"],
        otel_log_level=t["otel_log_level"],
        otlp_endpoint=endpoint,
        protocol=t["protocol"],
        sampling=float(t["sampling"]),
        resource={str(k): str(v) for k, v in t["resource"].items()},
        metrics_interval=float(t["metrics_interval"]),
        prometheus=t["prometheus"],
    )
    prom = t["prometheus"]
    host, _, port = prom.rpartition(":")
    if prom and not ((not host or host_ok(host)) and port_ok(port)):
        col.add(
            "telemetry.prometheus",
            f"{prom!r} is not host:port with a port from 1 to {MAX_PORT} (e.g. 127.0.0.1:9464)",
        )

    actors_data = data.get("actors", {})
    if not isinstance(actors_data, dict):
        col.add("actors", "must be a table of [actors.NAME] tables")
        actors_data = {}
    if not actors_data:
        col.add("actors", "the site declares no actors")
    actors: dict[str, ActorConfig] = {}
    for name, table in actors_data.items():
        where = f"actors.{name}"
        try:
            check_topic(name)
            if "." in name or name.startswith("$") or name in ("broker", "supervisor"):
                raise TopicError("")
        except TopicError:
            col.add(
                where,
                "an actor name is one word of letters, digits, '_' or '-', "
                "and not 'broker' or 'supervisor'",
            )
        a = col.table(table, where, _ACTOR_KEYS)
        class_path = a["class"] or ""
        if class_path and (class_path.count(":") != 1 or not all(class_path.split(":"))):
            col.add(f"{where}.class", f"{class_path!r} is not of the form 'module:Class'")
        for spec in ACTOR_KEYS:  # each key's choices and sane range, as it defines them
            if spec.choices and a[spec.name] is not None:
                col.choice(f"{where}.{spec.name}", a[spec.name], spec.choices)
            if spec.ranged:
                col.number(f"{where}.{spec.name}", a[spec.name], f"actors.{spec.name}")
        hang = a["hang_timeout"]
        if hang is not None and hang <= supervisor.heartbeat_interval:
            col.add(f"{where}.hang_timeout", "must be longer than supervisor.heartbeat_interval")
        for call, policy in a["calls"].items():
            if not isinstance(policy, dict):
                col.add(f"{where}.calls.{call}", f"must be a table of policy keys, got {policy!r}")
        after = []
        for dep in a["after"]:
            if not isinstance(dep, str):
                col.add(f"{where}.after", f"entries must be actor names, got {dep!r}")
            else:
                after.append(dep)
        plain = {k.name: a[k.name] for k in ACTOR_KEYS if k.name not in _MADE}
        actors[name] = actor_record(
            name,
            class_path=class_path,
            after=after,
            calls={k: v for k, v in a["calls"].items() if isinstance(v, dict)},
            control=control_rights(col, f"{where}.control", a["control"]),
            **plain,
        )
    check_after(col, actors)
    check_control(col, actors)
    actors, elsewhere = place(col, hosts, actors, this)
    security = parse_security(col, data.get("security"), folder)
    if hosts and security.curve == "off":
        col.add("security.curve", "a site on several hosts needs CURVE: leave it auto or on")
    broken = {p.key.split(".")[1] for p in col.problems if p.key.startswith("actors.")}
    sound = {n: a for n, a in actors.items() if n not in broken}
    for name, actor in sound.items():  # an after list naming a left-out actor is moot
        sound[name] = dataclasses.replace(actor, after=tuple(a for a in actor.after if a in sound))
    site_config = SiteConfig(
        path=path,
        site=site_info,
        broker=broker,
        supervisor=supervisor,
        telemetry=telemetry,
        snapshots=snapshots,
        actors=sound,
        faults=parse_faults_section(col, data.get("faults"), {*actors, *elsewhere}, set(hosts)),
        web=parse_web(col, data.get("web"), folder, run_dir),
        security=security,
        persistence=_persistence(col, data.get("persistence", {}), folder, run_dir),
        hosts=hosts,
        host=this,
        elsewhere={n: a for n, a in elsewhere.items() if n not in broken},
    )
    return site_config, col.problems


def _persistence(col: _Collector, data: Any, folder: Path, run_dir: Path) -> PersistenceConfig:
    """``[persistence]``: the state database's path (relative: to site.toml's folder) and
    the write interval."""
    p = _checked(col, data, "persistence", PERSISTENCE_KEYS)
    path = Path(p["path"]) if p["path"] else run_dir / "state.db"
    interval = float(p["interval"])
    if not math.isfinite(interval) or interval <= 0:
        interval = 1.0
    return PersistenceConfig(path if path.is_absolute() else (folder / path).resolve(), interval)
