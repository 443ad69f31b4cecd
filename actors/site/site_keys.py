"""The keys of the site's shared tables (``[site]``, ``[broker]``, ``[telemetry]``,
``[snapshots]``, ``[web]``, ``[faults]``, ``[security]``, ``[persistence]``), each defined
once, and :data:`TABLES`: every table's keys (pure: no IO; see :mod:`actors.site.schema`)."""

from __future__ import annotations

from typing import Final

from actors.site.actor_keys import ACTOR_KEYS, SUPERVISOR_KEYS
from actors.site.schema import LOG_LEVELS, NUM, PROTOCOLS, REQUIRED, Key

#: ``[site]``'s keys.
SITE_KEYS: Final[tuple[Key, ...]] = (
    Key("name", (str,), REQUIRED, "the site's name"),
    Key("run_dir", (str,), "run", "sockets and the supervisor's pid file"),
    Key(
        "python_path",
        (list,),
        [],
        "extra folders to import actor modules from",
        shown="`[]`",
    ),
)
#: ``[broker]``'s keys.
BROKER_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "pub",
        (str,),
        "",
        "where publishers connect (`tcp://*:5550` for several hosts)",
        shown="`ipc://<run_dir>/pub.sock`",
    ),
    Key("sub", (str,), "", "where subscribers connect", shown="`ipc://<run_dir>/sub.sock`"),
    Key(
        "hwm",
        (int,),
        10000,
        "ZeroMQ high-water mark of every mesh socket",
        low=1,
        high=100_000_000,
        unit="messages",
    ),
)
#: ``[telemetry]``'s keys.
TELEMETRY_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "log_level",
        (str,),
        "info",
        "local log level of every process: its JSON-lines file `<run_dir>/logs/<name>.log` "
        "(10 MiB, 3 rotated copies) and its console",
        choices=LOG_LEVELS,
    ),
    Key(
        "otel_log_level",
        (str,),
        "warning",
        "level of logs exported over OTLP (when `otlp_endpoint` is set)",
        choices=LOG_LEVELS,
    ),
    Key(
        "otlp_endpoint",
        (str,),
        "",
        "OTLP collector URL (`http://127.0.0.1:4318` for http, `http://127.0.0.1:4317` for "
        "grpc); empty: no tracing, no export, no retry noise",
    ),
    Key(
        "protocol",
        (str,),
        "http",
        "OTLP transport: `http` (http/protobuf, posts to `/v1/traces` etc.) or `grpc`",
        choices=PROTOCOLS,
    ),
    Key(
        "sampling",
        NUM,
        1.0,
        "share of new traces (roots) that are sampled; children follow their parent",
        low=0,
        high=1,
    ),
    Key(
        "metrics_interval",
        NUM,
        5.0,
        "seconds between metric exports",
        low=0.05,
        high=86_400,
        unit="s",
    ),
    Key(
        "prometheus",
        (str,),
        "",
        "`host:port` where the supervisor serves `/metrics` for the site; empty: none",
    ),
    Key(
        "resource",
        (dict,),
        {},
        "extra resource attributes (`service.name` is the site name, `service.instance.id` "
        "and `enlil.actor` the actor)",
        shown="`{}`",
    ),
)
#: ``[snapshots]``'s keys.
SNAPSHOT_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "dir",
        (str,),
        "",
        "where snapshot files go, one folder per actor",
        shown="`<run_dir>/snapshots`",
    ),
    Key(
        "keep",
        (int,),
        20,
        "newest snapshot files kept per actor",
        low=1,
        high=100_000,
        unit="files",
    ),
    Key(
        "inputs",
        (int,),
        100,
        "events in each actor's flight recorder (0 turns it off)",
        low=0,
        high=1_000_000,
        unit="events",
    ),
    Key(
        "recorder_mb",
        NUM,
        64,
        "MiB of recorded messages each flight recorder keeps at most (the oldest go first)",
        low=0.01,
        high=65_536,
        unit="MiB",
    ),
)
#: ``[web]``'s keys.
WEB_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "listen",
        (str,),
        "",
        "host:port of the live web view (a bare `:port` is loopback); off when unset",
        shown="none",
    ),
    Key(
        "foxglove",
        (str,),
        "",
        "host:port of a Foxglove WebSocket endpoint, served by the view (needs `listen`)",
        shown="none",
    ),
    Key(
        "token",
        (str,),
        "",
        "the token that reads the view and acts (16 characters at least of `A-Za-z0-9._~-`)",
        shown="a new one at each start",
    ),
    Key(
        "read_token",
        (str,),
        "",
        "a token that only reads the view and the Foxglove endpoint",
        shown="none",
    ),
    Key(
        "token_file",
        (str,),
        "",
        "where the supervisor writes the token (0600), removed when it stops",
        shown="`<run_dir>/web.token`",
    ),
    Key(
        "origins",
        (list,),
        [],
        'browser origins let in besides the view\'s own, e.g. `["https://app.foxglove.dev"]`',
        shown="none",
    ),
)
#: ``[faults]``'s keys (a rule's own keys: ``actors.core.faults.RULE_KEYS``).
FAULTS_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "seed",
        (int,),
        0,
        "the seed of fault injection: the same seed and traffic give the same faults",
    ),
    Key(
        "rules",
        (list,),
        [],
        "fault rules (see [Fault injection](faults.md)); `check` names the bad key of each",
        shown="none",
        label="[[faults.rules]]",
    ),
)
#: ``[security]``'s keys.
SECURITY_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "curve",
        (bool, str),
        "auto",
        'CURVE on every socket: `"auto"` when an endpoint is `tcp://`, `true` also on '
        "`ipc://`, `false` never (see [Securing a site](security.md))",
    ),
    Key("keys", (str,), "keys", "the key folder (owner-only)"),
    Key("checks", (bool,), True, "per-message access checks in the broker, on a site with CURVE"),
    Key(
        "default_role",
        (str,),
        "read",
        "role of a tool key not named in `[security.roles]`",
    ),
    Key(
        "roles",
        (dict,),
        {},
        "tool name -> `read`, `operate` or `admin`",
        shown="`operator` and `web`: `admin`",
        label="[security.roles]",
    ),
    Key(
        "access",
        (dict,),
        {},
        "`publish`, `subscribe`, `deny_publish`, `deny_subscribe`: topic patterns an actor or "
        "a tool may (not) use beyond its own rights; a deny wins",
        shown="none",
        label="[security.access.NAME]",
    ),
    Key(
        "paths",
        (list,),
        [],
        "more places (globs) that params naming files (`link`, `url`, `folder`) may point",
        shown="the site's folders, serial devices",
    ),
)
#: ``[persistence]``'s keys.
PERSISTENCE_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "path",
        (str,),
        "",
        "the state database of durable State (SQLite, WAL, owner-only), one per host",
        shown="`<run_dir>/state.db`",
    ),
    Key(
        "interval",
        NUM,
        1.0,
        "seconds between two writes of an actor's changed durable State, at most (a kill -9 "
        "or a power cut loses at most this much)",
        low=0.01,
        high=3_600,
        unit="s",
    ),
)
#: ``[hosts.NAME]``'s keys: one machine of a site on several (see README, "Running a site on
#: several machines").
HOST_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "address",
        (str,),
        REQUIRED,
        "the IP address or DNS name the other hosts reach this host at",
    ),
    Key(
        "port",
        (int,),
        5570,
        "the host's link port: the other hosts' brokers take its actors' messages here "
        "(CURVE, host keys only)",
        low=1,
        high=65535,
    ),
    Key(
        "control_port",
        (int,),
        5571,
        "the host's control port: its supervisor answers tools and the other hosts here (CURVE)",
        low=1,
        high=65535,
    ),
    Key(
        "bind",
        (str,),
        "*",
        "the interface address the host binds its link and control ports on",
    ),
)
#: Every table's keys, by table, in the reference's order (``actors.NAME``: each actor's).
TABLES: Final[dict[str, tuple[Key, ...]]] = {
    "site": SITE_KEYS,
    "broker": BROKER_KEYS,
    "telemetry": TELEMETRY_KEYS,
    "snapshots": SNAPSHOT_KEYS,
    "web": WEB_KEYS,
    "faults": FAULTS_KEYS,
    "security": SECURITY_KEYS,
    "persistence": PERSISTENCE_KEYS,
    "supervisor": SUPERVISOR_KEYS,
    "hosts.NAME": HOST_KEYS,
    "actors.NAME": ACTOR_KEYS,
}
