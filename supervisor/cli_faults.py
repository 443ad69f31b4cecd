"""``python -m supervisor faults report [--json]``: the faults injected against what the
site detected (shell).

Asks the running site for its fault ledger (``faults``) and its ``status``, and
prints :func:`supervisor.core.detection.detect`'s rows; exits 1 when a fault
that a counter should show was missed, 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

from actors.site import SiteConfig
from supervisor.client import ControlClient, ControlError, ControlTimeout
from supervisor.core.detection import detect, format_report

EXIT_UNAVAILABLE: Final = 69


def add_command(sub: Any, config_arg: Any) -> None:
    """Add ``faults report`` to the command line's subcommands."""
    faults = sub.add_parser("faults", help="fault injection: the report of a running site")
    config_arg(faults)
    faults.add_argument("action", choices=["report"])
    faults.add_argument("--json", action="store_true", help="the rows as JSON")
    faults.add_argument("--timeout", type=float, default=15.0)


def report(client: ControlClient) -> list[Any]:
    """The detection rows of the site behind *client*."""
    return detect(client.faults(), client.status())


def cmd_faults(site: SiteConfig, as_json: bool, timeout: float) -> int:
    """Print the report; 1 when a fault went undetected."""
    try:
        with ControlClient(site.supervisor.control_connect, timeout=timeout) as client:
            rows = report(client)
    except (ControlError, ControlTimeout) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if as_json:
        print(json.dumps([r.encode() for r in rows], indent=2))
    else:
        print(format_report(rows))
    return 1 if any(r.verdict == "missed" for r in rows) else 0
