"""``python -m supervisor call SERVICE [JSON] [--timeout S]``: a service call from a shell (shell).

Prints the reply as JSON and exits 0; on an error prints its kind (and the
remote exception's type and where it was raised) and exits with
:data:`CALL_EXITS` of the kind (1 for a remote error).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any, Final

from actors.core.calls import CallError
from actors.core.services import check_service_name
from actors.core.topics import TopicError
from actors.link import BrokerUnreachable
from actors.site import SiteConfig
from supervisor.calling import ServiceClient
from supervisor.cli_format import EXIT_FORBIDDEN, unreachable_exit
from supervisor.client import ControlError, ControlTimeout

EXIT_USAGE: Final = 2
EXIT_UNAVAILABLE: Final = 69
EXIT_TEMPFAIL: Final = 75


def add_command(sub: Any, config_arg: Any) -> None:
    """Add ``call`` to the command line's subcommands."""
    call = sub.add_parser("call", help="call a service with a JSON request; print the reply")
    config_arg(call)
    call.add_argument("service")
    call.add_argument("request", nargs="?", default="null", help="JSON text (default: null)")
    call.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")


#: Exit codes of ``call`` by error kind (sysexits: 69 unavailable, 75 try again later).
CALL_EXITS: Final = {
    "no_responders": EXIT_UNAVAILABLE,
    "server_gone": EXIT_UNAVAILABLE,
    "timeout": EXIT_TEMPFAIL,
    "circuit_open": EXIT_TEMPFAIL,
    "rate_limited": EXIT_TEMPFAIL,
    "bulkhead_full": EXIT_TEMPFAIL,
    "unavailable": EXIT_TEMPFAIL,
    "rejected": EXIT_USAGE,
    "forbidden": EXIT_FORBIDDEN,
}


def cmd_call(site: SiteConfig, service: str, text: str, timeout: float) -> int:
    """Call *service* with the JSON *text*; print the reply as JSON (exit 0), or the
    error's kind and message (exit :data:`CALL_EXITS`, 1 for a remote error)."""
    request = _request(service, text, timeout)
    if request is _BAD:
        return EXIT_USAGE
    try:
        with ServiceClient.from_site(site) as client:
            reply = client.call(service, request, timeout=timeout)
    except BrokerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    except CallError as exc:
        where = f" (at {exc.where})" if exc.where else ""
        kind = f"{exc.kind} {exc.type}" if exc.type else exc.kind
        print(f"error: {kind}: {exc.message}{where}", file=sys.stderr)
        return CALL_EXITS.get(exc.kind, 1)
    print(json.dumps(reply, default=repr))
    return 0


_BAD: Final = object()


def _request(service: str, text: str, timeout: float) -> Any:
    """The request *text* decodes to, or :data:`_BAD` (and the reason printed) when the
    service name, the JSON or the timeout is bad."""
    try:
        check_service_name(service)
        request = json.loads(text)
    except TopicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _BAD
    except json.JSONDecodeError as exc:
        print(f"error: request is not JSON: {exc}", file=sys.stderr)
        return _BAD
    if not (timeout > 0 and math.isfinite(timeout)):
        print(
            f"error: --timeout must be a positive number of seconds, got {timeout}", file=sys.stderr
        )
        return _BAD
    return request


def asked_first(ask: Callable[[], str]) -> int:
    """On a checked site a tool asks before it sends or subscribes (*ask* returns why the
    broker would refuse, or ""): the exit code, the reason printed, when it would, or the
    site cannot say; else 0. ``pub``, ``tap`` and ``call`` share it."""
    try:
        refusal = ask()
    except (ControlError, ControlTimeout) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return EXIT_FORBIDDEN
    return 0
