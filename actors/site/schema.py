"""The keys of the ``[actors.NAME]`` and ``[supervisor]`` tables, each defined once: its
type, default, sane range and unit, choices and doc (pure: no IO).

The parser (:mod:`actors.site.parse`) checks a table against these definitions
(types, defaults, ranges, choices), ``ctl add`` makes an option of each, and the
site.toml reference's rows for them are made from them when the documentation
site is built. Adding a key: its definition here, its field in
:class:`~actors.site.model.ActorConfig` (filled by the parser), and the code that
uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from actors.site.model import ESCALATIONS, LOG_LEVELS, RESTART_TYPES, SPAWN_MODES, STRATEGIES

#: A key with no default: it must be given.
REQUIRED: Final = ...


@dataclass(frozen=True)
class Key:
    """One key of a table."""

    name: str
    #: The types a value may have (an int is taken for a float).
    types: tuple[type, ...]
    #: The value when the key is left out (:data:`REQUIRED`: none; None: the site's or the
    #: class's, as ``shown`` says).
    default: Any
    doc: str
    #: The sane range of a number, and its unit (checked by ``check`` and at start).
    low: float | None = None
    high: float | None = None
    unit: str = ""
    #: The values a text may take (empty: any).
    choices: tuple[str, ...] = ()
    #: The default as the reference shows it, when it is not the value itself.
    shown: str = ""

    @property
    def ranged(self) -> bool:
        """Whether the key is a number with a sane range."""
        return self.low is not None and self.high is not None

    @property
    def bounds(self) -> tuple[float, float, str]:
        """The range and unit of a ranged key (ValueError for another)."""
        if self.low is None or self.high is None:
            raise ValueError(f"{self.name} has no range")
        return self.low, self.high, self.unit

    def default_text(self) -> str:
        """The default as the reference shows it."""
        if self.shown:
            return self.shown
        if self.default is REQUIRED:
            return "required"
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        if isinstance(self.default, str):
            return f'`"{self.default}"`'
        return f"`{self.default!r}`" if self.default is not None else "none"


_NUM: Final = (int, float)
#: ``[actors.NAME]``'s keys, in the reference's order.
ACTOR_KEYS: Final[tuple[Key, ...]] = (
    Key("class", (str,), REQUIRED, "`module:Class`, a subclass of `actors.Actor`"),
    Key(
        "period",
        _NUM,
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
        _NUM,
        None,
        "this actor's hang timeout",
        low=0.05,
        high=86_400,
        unit="s",
        shown="`[supervisor] hang_timeout`",
    ),
    Key(
        "max_rss_mb",
        _NUM,
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
        _NUM,
        None,
        "CPU limit (100 = one core), sustained over `cpu_window`",
        low=0.1,
        high=100_000,
        unit="%",
    ),
    Key(
        "cpu_window",
        _NUM,
        10.0,
        "seconds the CPU must stay over its limit",
        low=0.1,
        high=3_600,
        unit="s",
    ),
    Key(
        "late_after",
        _NUM,
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
        _NUM,
        30.0,
        "...before escalating (see `escalate`)",
        low=0.001,
        high=86_400,
        unit="s",
    ),
    Key(
        "backoff_initial",
        _NUM,
        0.1,
        "delay before the 2nd restart in a row; doubles after",
        low=0.001,
        high=3_600,
        unit="s",
    ),
    Key(
        "backoff_max",
        _NUM,
        5.0,
        "cap of that delay (jitter takes up to half off)",
        low=0.001,
        high=3_600,
        unit="s",
    ),
    Key(
        "stop_timeout",
        _NUM,
        5.0,
        "seconds between SIGTERM and SIGKILL",
        low=0.01,
        high=3_600,
        unit="s",
    ),
    Key(
        "ready_timeout",
        _NUM,
        10.0,
        "an actor not ready by then is killed and counts as failed",
        low=0.01,
        high=3_600,
        unit="s",
    ),
    Key(
        "heartbeat_interval",
        _NUM,
        1.0,
        "seconds between heartbeats of every process",
        low=0.01,
        high=60,
        unit="s",
    ),
    Key(
        "hang_timeout",
        _NUM,
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
        _NUM,
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
)


def _number(value: float | None) -> str:
    """*value* as the reference writes it: ``86,400``, ``0.0001``."""
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def reference_rows(keys: tuple[Key, ...] = ACTOR_KEYS, table: str = "actors.NAME") -> str:
    """The site.toml reference's rows of *keys* (a markdown table's body)."""
    rows = []
    for key in keys:
        doc = key.doc
        if key.ranged:
            unit = f" {key.unit}" if key.unit else ""
            doc += f" (from {_number(key.low)} to {_number(key.high)}{unit})"
        if key.choices and not key.doc.startswith("`"):
            doc += f" (one of {', '.join(f'`{c}`' for c in key.choices)})"
        rows.append(f"| `[{table}] {key.name}` | {key.default_text()} | {doc} |")
    return "\n".join(rows)
