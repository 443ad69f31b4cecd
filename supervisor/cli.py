"""The ``python -m supervisor`` command line (shell).

::

    python -m supervisor [--config site.toml]          run the site in the foreground
    python -m supervisor check [--config site.toml]    validate, print every problem
    python -m supervisor docs --out DIR                dictionary, graph, AsyncAPI
    python -m supervisor ctl status [--json]           talk to a running site
    python -m supervisor ctl start|stop|restart NAME
    python -m supervisor ctl shutdown
    python -m supervisor tap TOPIC... [--count N]      print live messages
    python -m supervisor pub TOPIC JSON                publish one message
    python -m supervisor call SERVICE [JSON]           call a service, print the reply
    python -m supervisor faults report [--json]        injected faults against what was seen
    python -m supervisor ctl snapshot NAME             capture a live actor's snapshot
    python -m supervisor ctl snapshots [NAME]          list snapshot files
    python -m supervisor ctl graph                     live graph vs the declared one
    python -m supervisor ctl swap NAME [--class C] [--params JSON] [--etag E]
    python -m supervisor ctl add NAME --class C [--params JSON]
    python -m supervisor ctl remove NAME [--etag E]
    python -m supervisor ctl reload [--etag E]         apply what changed in site.toml
    python -m supervisor replay FILE                   re-run a captured failure
    python -m supervisor snapshot show|export|import   read and edit snapshots
    python -m supervisor deploy systemd|container|kubernetes --out DIR

Without ``--config``, ``site.toml`` in the current folder is used, and if
there is none, the demo site that ships in ``deploy/example``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from actors.keys import OPERATOR, KeyProblem
from actors.site import ConfigError, SiteConfig, load_site
from actors.site.hosts import HOST_ENV
from actors.site.paths import exposed, folder_problems
from supervisor import (
    cli_calls,
    cli_ctl,
    cli_deploy,
    cli_faults,
    cli_keys,
    cli_record,
    cli_snapshots,
    cli_state,
    cli_topics,
    cli_web,
)
from supervisor.cli_format import (
    unreachable_exit,
)
from supervisor.client import (
    ControlClient,
    ControlError,
    ControlTimeout,
)
from supervisor.core.exposure import exposure_warnings
from supervisor.docs import format_live, live_graph, write_docs
from supervisor.inspect import inspect_now
from supervisor.plugins import CannotListen
from supervisor.runner import SiteLocked, Supervisor
from supervisor.site import check_all
from supervisor.site_view import every_host
from supervisor.zygote import Zygote

EXIT_USAGE = 2
EXIT_CONFIG = 78
EXIT_UNAVAILABLE = 69
#: An address the site listens on is taken (sysexits' EX_OSERR, as the broker's own).
EXIT_CANNOT_LISTEN = 71
DEMO = Path(__file__).resolve().parent.parent / "deploy" / "example" / "site.toml"


def default_config() -> Path:
    """``./site.toml`` if present, else the demo site."""
    local = Path("site.toml")
    return local if local.exists() else DEMO


def _config_arg(parser: argparse.ArgumentParser, *, host: bool = True) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="the site's site.toml (default: ./site.toml, else the demo site)",
    )
    if host:
        _host_arg(parser)
    parser.add_argument(
        "--key",
        default=None,
        help="on a secured site: the tool key to connect with, from the site's keys/tools "
        f"folder (default: {OPERATOR})",
    )


def _host_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=argparse.SUPPRESS,  # given before the command or after it
        help=f"on a site of several hosts: the host this machine is (default: ${HOST_ENV}, "
        "else the first of [hosts])",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m supervisor", description="Run and drive an enlil site."
    )
    _config_arg(parser)
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("run", help="run the site in the foreground (the default)")
    _config_arg(p)
    p = sub.add_parser("check", help="validate site.toml, its actor classes and its design")
    _config_arg(p)
    p = sub.add_parser("docs", help="write the data dictionary, dataflow graph and AsyncAPI")
    _config_arg(p)
    p.add_argument("--out", type=Path, default=Path("docs"), help="folder to write into")
    cli_ctl.add_command(sub, _config_arg)
    cli_topics.add_commands(sub, _config_arg)
    cli_calls.add_command(sub, _config_arg)
    cli_faults.add_command(sub, _config_arg)
    cli_snapshots.add_commands(sub, _config_arg)
    cli_web.add_command(sub, _config_arg)
    cli_record.add_commands(sub, _config_arg)
    cli_keys.add_command(sub, _config_arg)
    cli_state.add_command(sub, _config_arg)
    cli_deploy.add_command(sub, _config_arg)
    return parser


def main(argv: list[str] | None = None, zygote: Zygote | None = None) -> int:
    """Run the command line; return the exit code. *zygote*: one launched early."""
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if getattr(args, "host", None) is not None:  # read by every load of the site, children too
        os.environ[HOST_ENV] = args.host
    if command != "run" and zygote is not None:
        zygote.close()
    try:
        if command == "ctl":
            return cli_ctl.cmd_ctl(args, _load(args.config, args.key), cmd_graph)
        if command == "replay":  # the site found as ctl and tap find it
            args.config = args.config or default_config()
            return cli_snapshots.cmd_replay(args)
        if command == "snapshot":
            return cli_snapshots.cmd_snapshot(args)
        if command == "check":
            return cmd_check(args.config)
        site = _load(args.config, getattr(args, "key", None))
        if command == "run":
            return cmd_run(args.config, zygote)
        if command == "docs":
            written, findings, notes = write_docs(site, args.out)
            for path in written:
                print(path)
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
            for finding in findings:
                print(f"{site.path}: {finding}", file=sys.stderr)
            return 0
        if command == "tap":
            return cli_topics.cmd_tap(site, args.topic, args.count, args.timeout)
        if command == "pub":
            return cli_topics.cmd_pub(site, args.topic, args.payload, args.sender)
        if command == "call":
            return cli_calls.cmd_call(site, args.service, args.request, args.timeout)
        if command == "faults":
            return cli_faults.cmd_faults(site, args.json, args.timeout, args.settle)
        if command == "web":
            return cli_web.cmd_web(site, args)
        if command == "record":
            return cli_record.cmd_record(site, args)
        if command == "play":
            return cli_record.cmd_play(site, args)
        if command == "keys":
            return cli_keys.cmd_keys(site, args)
        if command == "state":
            return cli_state.cmd_state(site, args)
        if command == "deploy":
            return cli_deploy.cmd_deploy(site, args)
    except ConfigError as exc:
        if zygote is not None:
            zygote.close()
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except KeyProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {command}")


def cmd_check(config: Path | None) -> int:
    """Every problem of the site at once (config, classes, folders, design); 78 if any is an
    error."""
    site, problems, findings = check_all(config or default_config())
    for problem in problems:
        print(problem, file=sys.stderr)
    for finding in findings:
        print(f"{site.path}: {finding}", file=sys.stderr)
    for key, folder in (("site.run_dir", site.site.run_dir), ("snapshots.dir", site.snapshots.dir)):
        risk = exposed(folder)
        if risk:
            print(f"{site.path}: {key}: warning: {risk}", file=sys.stderr)
    for key, warning in exposure_warnings(site):
        print(f"{site.path}: {key}: warning: {warning}", file=sys.stderr)
    if problems or any(f.severity == "error" for f in findings):
        return EXIT_CONFIG
    warned = f", {len(findings)} design warning(s)" if findings else ""
    if site.hosts:  # every host's actors
        by_host = {h: [n for n, a in site.everyone.items() if a.host == h] for h in site.hosts}
        listed = "; ".join(f"{h}: {', '.join(names)}" for h, names in by_host.items())
        count = f"{len(site.everyone)} actors on {len(site.hosts)} hosts"
        print(f"{site.path}: ok ({count}: {listed}){warned}")
        return 0
    print(f"{site.path}: ok ({len(site.actors)} actors: {', '.join(site.start_order())}){warned}")
    return 0


def _load(config: Path | None, key: str | None = None) -> SiteConfig:
    """The site; its tools connect with tool key *key* (the operator's by default)."""
    site = load_site(config or default_config())
    if key:
        site = dataclasses.replace(site, security=dataclasses.replace(site.security, tool=key))
    return site


def cmd_run(config: Path | None, zygote: Zygote | None = None) -> int:
    """Check the site, then run it in the foreground until Ctrl-C or SIGTERM."""
    site = load_site(config or default_config())
    if site.supervisor.spawn == "zygote":
        zygote = zygote or Zygote()
        zygote.config_path = str(site.path)
        if site.telemetry.otlp_endpoint:
            zygote.preload.append("actors.telemetry")
    elif zygote is not None:
        zygote.close()
        zygote = None
    try:
        # The classes are checked in a process of their own: never imported here.
        facts = inspect_now(str(site.path), timeout=max(60.0, site.supervisor.ready_timeout))
        problems = list(facts.problems)
        for problem in folder_problems(site):
            if problem.key in ("site.run_dir", "security.keys"):
                problems.append(problem)  # no lock, sockets, logs or keys without it
            else:  # actors run without snapshots: say so, and start
                print(
                    f"warning: {problem} (the actors run without failure snapshots)",
                    file=sys.stderr,
                )
        if problems:
            raise ConfigError(problems)
        for key, folder in (
            ("site.run_dir", site.site.run_dir),
            ("snapshots.dir", site.snapshots.dir),
        ):
            risk = exposed(folder)  # never changed: a folder the site did not make
            if risk:
                print(f"warning: {site.path}: {key}: {risk}", file=sys.stderr)
        supervisor = Supervisor(
            site, zygote, facts=facts.actors, elsewhere_reads=facts.elsewhere_reads
        )
        code = supervisor.run()
        if code == EXIT_CANNOT_LISTEN:  # the broker's address taken: one line, as for others
            print(f"error: {site.path}: {supervisor.supervision.shutting_down}", file=sys.stderr)
        return code
    except SiteLocked as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNAVAILABLE
    except CannotListen as exc:  # one line, as for [web] listen: the key and the address
        print(f"error: {site.path}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    finally:
        if zygote is not None:
            zygote.close()


def cmd_graph(args: argparse.Namespace, site: SiteConfig, endpoint: str) -> int:
    """Print the live graph and its differences from the declared one; 1 if any differ."""
    try:
        with ControlClient.for_site(site, args.timeout, endpoint=endpoint) as client:
            if site.hosts:  # every host's supervisor, and each host's view of its links
                status, links = every_host(site, client, args.timeout)
            else:
                status, links = client.request("status"), None
    except (ControlError, ControlTimeout) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return unreachable_exit(exc)
    graph = live_graph(site, status, links)
    print(json.dumps(graph, indent=2) if args.json else format_live(graph))
    return 1 if graph["differences"] else 0
