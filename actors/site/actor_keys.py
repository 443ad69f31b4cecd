"""The keys of ``[actors.NAME]`` (how one actor runs) and ``[supervisor]`` (how actors are
supervised), each defined once (pure: no IO; see :mod:`actors.site.schema`)."""

from __future__ import annotations

from typing import Final

from actors.site.schema import (
    ESCALATIONS,
    LOG_LEVELS,
    NUM,
    REQUIRED,
    RESTART_TYPES,
    SPAWN_MODES,
    STRATEGIES,
    Key,
)

#: ``[actors.NAME]``'s keys, in the reference's order.
ACTOR_KEYS: Final[tuple[Key, ...]] = (
    Key("class", (str,), REQUIRED, "`module:Class`, a subclass of `actors.Actor`"),
    Key(
        "period",
        NUM,
        None,
        "seconds between periodic steps",
        low=0.0001,
        high=86_400,
        unit="s",
        shown="the class's",
    ),
    Key(
        "restart",
        (str,),
        "permanent",
        "`transient` (restart only after an abnormal exit), `temporary` (never)",
        choices=RESTART_TYPES,
    ),
    Key(
        "escalate",
        (str,),
        "shutdown",
        "past the restart intensity: shut the site down (exit 1), or `give_up` on this actor only",
        choices=ESCALATIONS,
    ),
    Key(
        "host",
        (str,),
        "",
        "the host (`[hosts.NAME]`) that runs it, on a site of several hosts",
        shown="the first host",
    ),
    Key("after", (list,), [], "actors that must be ready before this one starts", shown="`[]`"),
    Key(
        "params",
        (dict,),
        {},
        "values of the class's Params (type-checked)",
        shown="`{}`",
    ),
    Key(
        "topics",
        (dict,),
        {},
        'remap an Input or Output to another topic: `{ temperature = "room2.temp" }`',
        shown="`{}`",
    ),
    Key(
        "log_level",
        (str,),
        None,
        "this actor's local log level (`ctl loglevel` changes it live)",
        choices=LOG_LEVELS,
        shown="site's",
    ),
    Key(
        "otel_log_level",
        (str,),
        None,
        "this actor's OpenTelemetry log level",
        choices=LOG_LEVELS,
        shown="site's",
    ),
    Key(
        "recorder",
        (int,),
        None,
        "this actor's flight recorder size",
        low=0,
        high=10_000_000,
        unit="events",
        shown="`[snapshots] inputs`",
    ),
    Key(
        "hang_timeout",
        NUM,
        None,
        "this actor's hang timeout",
        low=0.05,
        high=86_400,
        unit="s",
        shown="`[supervisor] hang_timeout`",
    ),
    Key(
        "max_rss_mb",
        NUM,
        None,
        "resident memory limit, held by the kernel (`RLIMIT_DATA`, set when the actor has "
        "started: an allocation past it fails, the actor exits 74 and is restarted, recorded "
        "as `limit` with its peak RSS); the supervisor's sampling is a second line. Threads "
        "started later count their stacks",
        low=1,
        high=16_777_216,
        unit="MiB",
    ),
    Key(
        "max_cpu_percent",
        NUM,
        None,
        "CPU limit (100 = one core), sustained over `cpu_window`",
        low=0.1,
        high=100_000,
        unit="%",
    ),
    Key(
        "cpu_window",
        NUM,
        10.0,
        "seconds the CPU must stay over its limit",
        low=0.1,
        high=3_600,
        unit="s",
    ),
    Key(
        "late_after",
        NUM,
        0.025,
        "seconds from publish to delivery past which a message counts as `late` in the "
        "actor's statistics",
        low=0.0001,
        high=86_400,
        unit="s",
    ),
    Key(
        "status",
        (bool,),
        False,
        "the status actor publishes this actor's status (all actors if none is marked)",
    ),
    Key(
        "calls",
        (dict,),
        {},
        "`[actors.NAME.calls.CALL]`: a Call's `timeout`, `attempt_timeout` and policy parts "
        "(`retry`, `breaker`, `rate_limit`, `bulkhead`, `fallback`: tables of their keys, or "
        "`false` to remove one), over what the class declares",
        shown="the code's",
    ),
    Key(
        "rate_limits",
        (dict,),
        {},
        "`[actors.NAME.rate_limits]`: an Input's or Output's rate limit, "
        "`{ rate, burst, mode }` (`mode`: `drop` or `latest`), or `false` to lift it",
        shown="the code's",
    ),
    Key(
        "control",
        (list, dict),
        [],
        'the actors it may start, stop, restart and ask the status of (`"*"`: all), or a '
        "table `{ start = [...], stop = [...], restart = [...], status = [...] }`",
        shown="`[]`",
    ),
    Key(
        "autostart",
        (bool,),
        True,
        "start with the site; `false`: only by `ctl start` or an actor with `control` "
        "rights (a mode's actors)",
    ),
)


#: ``[supervisor]``'s keys, in the reference's order.
SUPERVISOR_KEYS: Final[tuple[Key, ...]] = (
    Key(
        "strategy",
        (str,),
        "one_for_one",
        "`one_for_all`, `rest_for_one`: which actors restart together",
        choices=STRATEGIES,
    ),
    Key(
        "max_restarts",
        (int,),
        5,
        "restarts of one actor allowed within `max_seconds`...",
        low=0,
        high=1_000_000,
        unit="restarts",
    ),
    Key(
        "max_seconds",
        NUM,
        30.0,
        "...before escalating (see `escalate`)",
        low=0.001,
        high=86_400,
        unit="s",
    ),
    Key(
        "backoff_initial",
        NUM,
        0.1,
        "delay before the 2nd restart in a row; doubles after",
        low=0.001,
        high=3_600,
        unit="s",
    ),
    Key(
        "backoff_max",
        NUM,
        5.0,
        "cap of that delay (jitter takes up to half off)",
        low=0.001,
        high=3_600,
        unit="s",
    ),
    Key(
        "stop_timeout",
        NUM,
        5.0,
        "seconds between SIGTERM and SIGKILL",
        low=0.01,
        high=3_600,
        unit="s",
    ),
    Key(
        "ready_timeout",
        NUM,
        10.0,
        "an actor not ready by then is killed and counts as failed",
        low=0.01,
        high=3_600,
        unit="s",
    ),
    Key(
        "heartbeat_interval",
        NUM,
        1.0,
        "seconds between heartbeats of every process",
        low=0.01,
        high=60,
        unit="s",
    ),
    Key(
        "hang_timeout",
        NUM,
        5.0,
        "no heartbeat for this long: the actor is hung (stack dump, kill, restart)",
        low=0.05,
        high=86_400,
        unit="s",
    ),
    Key(
        "control",
        (str,),
        "",
        "the control endpoint (ROUTER)",
        shown="`ipc://<run_dir>/control.sock`",
    ),
    Key(
        "spawn",
        (str,),
        "zygote",
        "`zygote`: forked from a pre-imported process (fast, small); `plain`: a fresh "
        "`python -m actors NAME` each",
        choices=SPAWN_MODES,
    ),
    Key(
        "control_rate",
        NUM,
        1000.0,
        "requests a second one control connection may send; past it: `rate_limited` with "
        "`retry_after` (clients wait it out)",
        low=0.01,
        high=1_000_000,
        unit="requests/s",
    ),
    Key(
        "control_burst",
        (int,),
        2000,
        "requests one control connection may send at once",
        low=1,
        high=10_000_000,
        unit="requests",
    ),
    Key(
        "clock_skew",
        NUM,
        0.5,
        "on a site of several hosts: another host's clock this far from this host's is a "
        "`clock_skew` event",
        low=0.001,
        high=3_600,
        unit="s",
    ),
)
