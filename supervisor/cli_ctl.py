"""``python -m supervisor ctl OP ...``: talk to a running site's supervisor (shell).

Each op is a subcommand of its own, with only its own options (``ctl add -h``
lists the keys of an actor's table; ``ctl status -h`` does not). The options
every op shares (``--config``, ``--key``, ``--endpoint``, ``--timeout``,
``--json``) go before or after the op.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from actors.site import SiteConfig, connect_address
from actors.site.actor_keys import ACTOR_KEYS
from actors.site.parse import actor_keys
from supervisor import cli_faults
from supervisor.cli_format import EXIT_FORBIDDEN, format_state, format_status, unreachable_exit
from supervisor.client import ControlClient, ControlError, ControlTimeout, listening

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69

#: The ops of ``ctl``, with what each does (its ``-h``) and its positional arguments:
#: (name, nargs, help).
_NAME = ("name", None, "the actor's name")
CTL_OPS: Final[dict[str, tuple[str, tuple[tuple[str, Any, str], ...]]]] = {
    "status": ("every process: state, pid, restarts, counters", ()),
    "start": ("start an actor (and mark it wanted)", (_NAME,)),
    "stop": ("stop an actor (it stays stopped)", (_NAME,)),
    "restart": ("restart an actor", (_NAME,)),
    "shutdown": ("stop the whole site", ()),
    "snapshot": ("capture a running actor's snapshot now", (_NAME,)),
    "snapshots": ("list snapshot files", (("name", "?", "only this actor's"),)),
    "loglevel": (
        "show or change the log level of an actor (or of 'supervisor')",
        (_NAME, ("level", "?", "the local log level")),
    ),
    "swap": ("hot-swap an actor to a new class or params, its state carried over", (_NAME,)),
    "add": ("add an actor to the running site (the keys of an [actors.NAME] table)", (_NAME,)),
    "remove": ("remove an actor from the running site", (_NAME,)),
    "reload": ("apply what changed in site.toml", ()),
    "state": ("show (or reset) an actor's durable State", (_NAME,)),
    "rights": ("what a tool key or an actor may do on a checked site", (("name", "?", ""),)),
    "graph": ("the live graph against the declared one (exit 1 if they differ)", ()),
    "undeliverable": (
        "list the messages reliable writers gave up (kept in the snapshot folder)",
        (("name", "?", "only this actor's"),),
    ),
    "redeliver": ("have a reliable writer send its undeliverable messages again", (_NAME,)),
    "fault": (
        "add, list, clear, pause or resume fault rules at run time",
        (("name", None, "add, list, clear, pause or resume"),),
    ),
}


def add_command(sub: Any, config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``ctl`` and its ops to the command line's subcommands."""
    ctl = sub.add_parser(
        "ctl",
        help="talk to a running site's supervisor",
        description="Talk to a running site's supervisor: ctl OP -h tells what OP takes.",
    )
    config_arg(ctl)
    _shared(ctl, suppress=False)
    ops = ctl.add_subparsers(dest="op", metavar="OP", required=True)
    for op, (what, positionals) in CTL_OPS.items():
        p = ops.add_parser(op, help=what, description=what[:1].upper() + what[1:] + ".")
        for name, nargs, text in positionals:
            if op == "fault":
                p.add_argument(name, metavar="ACTION", choices=cli_faults.ACTIONS, help=text)
            else:
                p.add_argument(name, nargs=nargs, help=text or None)
        _op_options(op, p)
        # The shared options after the op too (``ctl status --json``), not overriding
        # those given before it.
        p.add_argument(
            "--config", type=Path, default=argparse.SUPPRESS, help="the site's site.toml"
        )
        p.add_argument("--key", default=argparse.SUPPRESS, help="the tool key to connect with")
        p.add_argument(
            "--host", default=argparse.SUPPRESS, help="the host this machine is (several hosts)"
        )
        _shared(p, suppress=True)


def _shared(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """``--endpoint``, ``--timeout``, ``--json``; *suppress*: without defaults (an op's,
    which must not undo what was given before the op)."""

    def given(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--endpoint", default=given(None), help="control endpoint (default: from the config)"
    )
    parser.add_argument(
        "--timeout", type=float, default=given(15.0), help="seconds to wait for a reply"
    )
    parser.add_argument(
        "--json", action="store_true", default=given(False), help="print the reply as JSON"
    )


def _op_options(op: str, p: argparse.ArgumentParser) -> None:
    """The options of one op."""
    if op == "loglevel":
        p.add_argument("--otel", help="the level of logs exported over OpenTelemetry")
    if op in ("swap", "add"):
        p.add_argument(
            "--class", dest="cls", metavar="MODULE:CLASS", help="the actor class (module:Class)"
        )
        p.add_argument("--params", help="params as a JSON object")
    if op in ("swap", "remove", "reload"):
        p.add_argument("--etag", help="refuse unless this is still the config version")
    if op == "state":
        p.add_argument("--reset", action="store_true", help="forget the stored values")
    if op in ("add", "remove"):
        keep = p.add_mutually_exclusive_group()
        keep.add_argument(
            "--keep-state",
            dest="state",
            action="store_const",
            const="keep",
            help="keep the actor's stored durable State",
        )
        keep.add_argument(
            "--drop-state",
            dest="state",
            action="store_const",
            const="drop",
            help="forget the actor's stored durable State",
        )
    if op == "add":
        _table_options(p)
    if op == "fault":
        cli_faults.rule_options(p)


#: Characters of a key's doc that its option's help shows, at most.
_HELP: Final = 90


def _table_options(p: argparse.ArgumentParser) -> None:
    """``ctl add`` takes every key of an ``[actors.NAME]`` table: ``--after a,b``,
    ``--period 0.5``, ``--restart transient``, ``--topics '{"x": "y"}'``..."""
    for spec in ACTOR_KEYS:
        key, types = spec.name, spec.types
        if key in ("class", "params"):
            continue  # --class and --params, shared with swap
        # --host says which host this machine is (for every command): the new actor's is
        # --on-host.
        flag = "--on-host" if key == "host" else "--" + key.replace("_", "-")
        doc = (
            spec.doc if len(spec.doc) <= _HELP else spec.doc[: _HELP - 3].rsplit(" ", 1)[0] + " ..."
        )
        what = doc.replace("%", "%%").replace("`", "")
        dest, metavar = f"table_{key}", key.upper()
        if bool in types:
            p.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, help=what)
            continue
        if list in types and dict in types:
            what += " (JSON, or names separated by commas)"
        elif list in types:
            what += " (names separated by commas, or JSON)"
        elif dict in types:
            what += " (a JSON object)"
        p.add_argument(flag, dest=dest, metavar=metavar, help=what)


def _listed(key: str, value: str, types: tuple[type, ...]) -> Any:
    """A list (or table) key's value: JSON when it reads as a JSON list or object (as
    ``--params``), else names separated by commas."""
    text = value.strip()
    if text[:1] in ("[", "{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--{key.replace('_', '-')} is not JSON: {exc}") from None
        if type(parsed) in types:
            return parsed
        kinds = " or ".join(t.__name__ for t in types if t in (list, dict))
        raise ValueError(f"--{key.replace('_', '-')} must be a JSON {kinds}")
    if list not in types:
        raise ValueError(f"--{key.replace('_', '-')} is not a JSON object: {value!r}")
    return [v.strip() for v in text.split(",") if v.strip()]


def _table_of(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[actors.NAME]`` keys given on the command line, typed as site.toml types them
    (the supervisor checks the table as it checks site.toml). ValueError names a bad one."""
    table: dict[str, Any] = {}
    for key, (types, _) in actor_keys().items():
        value = getattr(args, f"table_{key}", None)
        if value is None:
            continue
        if isinstance(value, bool) or (str in types and list not in types):
            table[key] = value
        elif list in types or dict in types:
            table[key] = _listed(key, value, types)
        else:  # numbers: int where the key takes ints only
            try:
                table[key] = float(value) if float in types else int(value)
            except ValueError:
                raise ValueError(f"--{key.replace('_', '-')}: {value!r} is not a number") from None
    return table


def _request_args(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments of the request *args* make; ValueError names a bad one."""
    name = getattr(args, "name", None)
    kwargs: dict[str, Any] = {"name": name} if name else {}
    if args.op == "loglevel":
        kwargs.update({k: v for k in ("level", "otel") if (v := getattr(args, k, None))})
    if getattr(args, "cls", None):
        kwargs["class"] = args.cls
    if getattr(args, "etag", None):
        kwargs["etag"] = args.etag
    params = getattr(args, "params", None)
    if params is not None:
        try:
            kwargs["params"] = json.loads(params)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--params is not JSON: {exc}") from None
    if getattr(args, "state", None):
        kwargs["state"] = args.state
    table = _table_of(args)
    if table:
        kwargs["table"] = table
    return kwargs


def cmd_ctl(
    args: argparse.Namespace,
    site: SiteConfig,
    graph: Callable[[argparse.Namespace, SiteConfig, str], int],
) -> int:
    """Send one control request and print the reply (*graph*: ``ctl graph``)."""
    endpoint = args.endpoint
    endpoint = site.supervisor.control_connect if endpoint is None else connect_address(endpoint)
    if listening(endpoint) is False:
        print(f"error: the site is not running (nothing listens at {endpoint})", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.op == "graph":
        return graph(args, site, endpoint)
    if args.op == "fault":
        return cli_faults.cmd_ctl_fault(args, site, endpoint)
    return _request(args, site, endpoint)


def _request(args: argparse.Namespace, site: SiteConfig, endpoint: str) -> int:
    """One op's request, and its reply printed."""
    try:
        kwargs = _request_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    reset = args.op == "state" and args.reset
    try:
        with ControlClient.for_site(site, args.timeout, endpoint=endpoint) as client:
            result = client.request("state_reset" if reset else args.op, **kwargs)
    except ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FORBIDDEN if exc.kind == "forbidden" else 1
    except ControlTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    shown = _shown(args, result, reset)
    if shown:
        print(shown)
    return 0


def _shown(args: argparse.Namespace, result: Any, reset: bool) -> str:
    """The reply as the op prints it."""
    if args.json:
        return json.dumps(result, indent=2, sort_keys=True)
    op = "state_reset" if reset else args.op
    shown = _SHOWN.get(op)
    if shown is not None:
        return shown(args, result)
    if isinstance(result, dict) and "name" in result:
        return format_status({"actors": [result]})
    return json.dumps(result)


_SHOWN: Final[dict[str, Callable[[argparse.Namespace, Any], str]]] = {
    "status": lambda args, result: format_status(result),
    "state": lambda args, result: format_state(result),
    "snapshots": lambda args, result: "\n".join(
        f"{e['actor']:16} {e['reason']:12} {e['file']}" for e in result
    ),
    "snapshot": lambda args, result: str(result["path"]),
    "undeliverable": lambda args, result: "\n".join(
        f"{e['actor']:16} {e.get('topic', '?'):24} seq {e.get('seq', '?'):<8} "
        f"readers {','.join(e.get('readers', [])) or '-':16} {e.get('error') or e['file']}"
        for e in result
    ),
    "redeliver": lambda args, result: (
        "\n".join(
            [f"{r['topic']} {r['seq']} -> {r['new_seq']}" for r in result["redelivered"]]
            + [f"not sent: {f['file']}: {f['error']}" for f in result["failed"]]
        )
        or "nothing kept to redeliver"
    ),
    "loglevel": lambda args, result: (
        f"{args.name}: local {result.get('local')}, otel {result.get('otel')}"
    ),
}
