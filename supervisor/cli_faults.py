"""``python -m supervisor faults report [--json]``: the faults injected against what the
site detected (shell).

Asks the running site for its fault ledger (``faults``) and its ``status``, and
prints :func:`supervisor.core.detection.detect`'s rows; exits 1 when a fault
that a counter should show was missed, 0 otherwise.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, Final

from actors.site import SiteConfig
from supervisor.cli_format import unreachable_exit
from supervisor.client import ControlClient, ControlError, ControlTimeout
from supervisor.core.detection import detect, format_report
from supervisor.site_view import every_host

EXIT_UNAVAILABLE: Final = 69
#: ``faults report`` when faults are still on their way to their counters (try again).
EXIT_PENDING: Final = 75
#: Seconds a fault may take to show on its counter before it counts as missed.
SETTLE: Final = 5.0


def add_command(sub: Any, config_arg: Any) -> None:
    """Add ``faults report`` to the command line's subcommands."""
    faults = sub.add_parser("faults", help="fault injection: the report of a running site")
    config_arg(faults)
    faults.add_argument("action", choices=["report"])
    faults.add_argument("--json", action="store_true", help="the rows as JSON")
    faults.add_argument("--timeout", type=float, default=15.0)
    faults.add_argument(
        "--settle",
        type=float,
        default=SETTLE,
        help=f"seconds a fault may take to show before it counts as missed (default {SETTLE:g})",
    )


#: ``ctl fault add``'s options: the keys of a rule.
_RULE_OPTIONS: Final = {
    "hop": str,
    "kind": str,
    "topic": str,
    "to": str,
    "from": str,
    "probability": float,
    "every": int,
    "after": float,
    "for": float,
    "limit": int,
    "per": str,
    "delay": float,
    "jitter": float,
    "how": str,
}
ACTIONS: Final = {
    "add": "fault_add",
    "clear": "fault_clear",
    "pause": "fault_pause",
    "resume": "fault_resume",
    "list": "faults",
}


def rule_options(ctl: Any) -> None:
    """The options of ``ctl fault add`` (a rule's keys)."""
    for key, kind in _RULE_OPTIONS.items():
        ctl.add_argument(
            f"--{key}",
            dest=f"rule_{key}",
            metavar=key.upper(),
            type=kind,
            help=f"add: the rule's {key!r}",
        )


def cmd_ctl_fault(args: Any, site: SiteConfig, endpoint: str) -> int:
    """``ctl fault add|list|clear|pause|resume``."""
    op = ACTIONS[args.name]
    kwargs: dict[str, Any] = {}
    if op == "fault_add":
        rule = {k: v for k in _RULE_OPTIONS if (v := getattr(args, f"rule_{k}", None)) is not None}
        kwargs["table"] = rule
    try:
        with ControlClient.for_site(site, args.timeout, endpoint=endpoint) as client:
            result = client.request(op, **kwargs)
    except ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ControlTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def report(
    client: ControlClient,
    settle: float = SETTLE,
    timeout: float = 15.0,
    status_of: Callable[[], dict[str, Any]] | None = None,
) -> list[Any]:
    """The detection rows of the site behind *client*: its ledger now, held against
    counters from heartbeats newer than the newest fault counted (waited for, at most
    *timeout*); a fault younger than *settle* seconds that is not shown yet is pending.
    *status_of* gives the status to hold it against (every host's, on a site of several;
    the client's own by default)."""
    faults = client.faults()
    times = [e["time"] for e in faults.get("entries", []) if isinstance(e.get("time"), float)]
    newest = max(times, default=0.0)
    deadline = time.monotonic() + timeout
    while True:
        status = status_of() if status_of is not None else client.status()
        beats = [
            time.time() - a["heartbeat_age"]
            for a in status.get("actors", [])
            if a.get("kind") == "actor" and isinstance(a.get("heartbeat_age"), int | float)
        ]
        if min(beats, default=newest) >= newest or time.monotonic() >= deadline:
            break
        time.sleep(0.05)  # a poll of the supervisor's status, bounded by the deadline
    return detect(faults, status, recent_since=time.time() - settle)


def cmd_faults(site: SiteConfig, as_json: bool, timeout: float, settle: float = SETTLE) -> int:
    """Print the report; 1 when a fault went undetected, 75 (try again) when some are
    still pending and none was missed."""
    try:
        with ControlClient.for_site(site, timeout) as client:

            def every() -> dict[str, Any]:  # every host's actors and counters
                return every_host(site, client, timeout)[0]

            rows = report(client, settle, timeout, every if site.hosts else None)
    except (ControlError, ControlTimeout) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    if as_json:
        print(json.dumps([r.encode() for r in rows], indent=2))
    else:
        print(format_report(rows))
    if any(r.verdict == "missed" for r in rows):
        return 1
    return EXIT_PENDING if any(r.verdict == "pending" for r in rows) else 0
