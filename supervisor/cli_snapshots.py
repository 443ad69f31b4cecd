"""``python -m supervisor replay`` and ``snapshot show|export|import`` (shell).

Exit codes of ``replay``: 1 when the recorded exception is reproduced (same
type, same function in the same file: like a failing test), 4 when a
different exception is raised, 0 when the events ran without an exception
(the failure did not reproduce, or there was none to reproduce), 78 when the
snapshot or its class cannot be loaded, or when its class's module is found only
in a folder the snapshot names (nothing imported; ``--trust`` to import it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from actors.core.snapshot import Snapshot, SnapshotError, describe_exception, to_readable
from actors.loader import LoadError, UntrustedCode
from actors.process import open_private
from actors.site import ConfigError, import_paths, load_site
from actors.snapshots import export_snapshot, read_snapshot
from actors.testing.replayer import plan_import, replay

EXIT_REPRODUCED = 1
EXIT_DIFFERENT = 4
EXIT_CONFIG = 78
EXIT_USAGE = 2


def add_commands(sub: Any, config_arg: Any) -> None:
    """Add ``replay`` and ``snapshot`` to the CLI's subparsers."""
    p = sub.add_parser("replay", help="re-run a failure snapshot in-process")
    config_arg(p)
    p.add_argument("file", type=Path, help="a .snap, .json or .toml snapshot")
    p.add_argument(
        "--last", action="store_true", help="only the failing event, from the state just before it"
    )
    p.add_argument(
        "--faults",
        action="store_true",
        help="apply the step's fault rules in force when the snapshot was taken (default: "
        "the actor's own code only)",
    )
    p.add_argument(
        "--trust",
        action="store_true",
        help="import the actor's module from a folder the snapshot names when it is not in "
        "this project or its installed packages (a snapshot file can be crafted: trust only "
        "your own)",
    )
    s = sub.add_parser("snapshot", help="show, export or import a snapshot")
    ssub = s.add_subparsers(dest="snapshot_command", required=True)
    show = ssub.add_parser("show", help="print a summary")
    show.add_argument("file", type=Path)
    exp = ssub.add_parser("export", help="write a readable JSON or TOML copy (a test case)")
    exp.add_argument("file", type=Path)
    config_arg(exp)
    exp.add_argument(
        "--format",
        choices=["json", "toml", "mcap"],
        default=None,
        help="default: from the extension of --out (.toml, .json or .mcap), else json; "
        "mcap: the input window's messages as a recording (needs --out)",
    )
    exp.add_argument("-o", "--out", type=Path, help="output file (default: standard output)")
    imp = ssub.add_parser("import", help="turn an edited JSON/TOML snapshot back into .snap")
    imp.add_argument("file", type=Path)
    imp.add_argument("-o", "--out", type=Path, required=True)


def _where(exc: dict[str, Any] | None) -> str:
    if not exc or not exc.get("where"):
        return "?"
    w = exc["where"]
    return f"{Path(w['file']).name}:{w['line']} in {w['function']}"


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a snapshot and say whether its exception reproduced."""
    try:
        snap = read_snapshot(args.file)
        paths = [Path.cwd()]
        if args.config is not None:
            paths = import_paths(load_site(args.config)) + paths
    except (SnapshotError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    recorded = snap.exception
    print(
        f"snapshot of actor {snap.actor!r} ({snap.class_path}), reason {snap.reason}, "
        f"{len(snap.events)} events"
    )
    if recorded:
        print(f"recorded: {recorded['type']}: {recorded['message']} at {_where(recorded)}")
    if not snap.events:
        print(
            "nothing to replay: no events were recorded "
            f"(detail: {json.dumps(to_readable(snap.detail), default=str)[:500]})"
        )
        return 0
    try:
        _check_import(snap, paths, trust=args.trust)
        result = replay(
            snap, import_paths=paths, last_only=args.last, trust=args.trust, faults=args.faults
        )
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # noqa: BLE001 - whatever the actor raises is the result
        got = describe_exception(exc)
        traceback.print_exception(exc, file=sys.stdout)
        same = (
            recorded is not None
            and got["type"] == recorded["type"]
            and (_same_place(got, recorded))
        )
        if same:
            print(f"reproduced: {got['type']}: {got['message']} at {_where(got)}")
            return EXIT_REPRODUCED
        print(f"a different failure: {got['type']}: {got['message']} at {_where(got)}")
        return EXIT_DIFFERENT
    if result.code_changed:
        print("note: the actor's source changed since the capture")
    if recorded and recorded.get("type") == "FaultInjected" and not args.faults:
        print(
            f"did not reproduce: {result.ran} event(s) ran without an exception; the recorded "
            "crash was injected (FaultInjected): --faults injects it again"
        )
    elif recorded:
        print(f"did not reproduce: {result.ran} event(s) ran without an exception")
    else:
        print(f"replayed {result.ran} event(s) without an exception")
    print(f"final state: {json.dumps(to_readable(result.state), default=str)}")
    return 0


def _check_import(snap: Snapshot, paths: list[Path], *, trust: bool) -> None:
    """Say what the replay will import; UntrustedCode (nothing imported) when it must not."""
    plan = plan_import(snap, paths)
    print(f"replay {plan}")
    if plan.origin and not plan.trusted and not trust:
        raise UntrustedCode(
            f"refusing to import {plan.module!r} from {plan.origin}: the snapshot names "
            "that folder, which is outside this project and its installed packages (run from "
            "the actor's project, give its --config, or pass --trust if you trust the file)"
        )


def _same_place(got: dict[str, Any], recorded: dict[str, Any]) -> bool:
    a, b = got.get("where"), recorded.get("where")
    if not a or not b:
        return a == b
    return bool(Path(a["file"]).name == Path(b["file"]).name and a["function"] == b["function"])


def cmd_snapshot(args: argparse.Namespace) -> int:
    """show / export / import."""
    try:
        snap = read_snapshot(args.file)
    except SnapshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.snapshot_command == "show":
        print(summary(snap))
    elif args.snapshot_command == "export":
        fmt = _export_format(args.format, args.out)
        if fmt is None:
            print(
                f"error: --format {args.format} does not match the extension of {args.out}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if fmt == "mcap":
            return _export_mcap(args, snap)
        text = export_snapshot(snap, fmt)
        if args.out:
            with open_private(args.out) as out:
                out.write(text)
        else:
            sys.stdout.write(text)
    else:
        with open_private(args.out, "wb") as out:
            out.write(snap.encode())
        print(f"wrote {args.out}")
    return 0


def _export_format(given: str | None, out: Path | None) -> str | None:
    """The export format: the one given, else the output file's extension, else JSON.

    None when the two disagree (``--format json -o x.toml``).
    """
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    by_name = suffix if suffix in ("json", "toml", "mcap") else None
    if given is not None and by_name is not None and given != by_name:
        return None
    return given or by_name or "json"


def _export_mcap(args: argparse.Namespace, snap: Snapshot) -> int:
    """The input window's messages as an MCAP recording (with the declared schemas when
    the site's classes load)."""
    from supervisor.docs import declared_types  # noqa: PLC0415
    from supervisor.recording import snapshot_to_mcap  # noqa: PLC0415

    if args.out is None:
        print("error: an MCAP export needs --out FILE.mcap", file=sys.stderr)
        return EXIT_USAGE
    types: dict[str, Any] = {}
    config = getattr(args, "config", None)
    if config is not None or Path("site.toml").exists():
        try:
            types = declared_types(load_site(config or Path("site.toml")))
        except ConfigError:
            types = {}
    written = snapshot_to_mcap(snap, args.out, types)
    print(f"wrote {args.out} ({written} messages)")
    return 0


def summary(snap: Snapshot) -> str:
    """A human summary of a snapshot."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(snap.time))
    lines = [
        f"actor      {snap.actor} ({snap.class_path})",
        f"reason     {snap.reason}",
        f"captured   {when} UTC on {snap.host or '?'}, pid {snap.pid}",
        f"params     {json.dumps(to_readable(snap.params), default=str)}",
    ]
    if snap.exception:
        lines.append(
            f"exception  {snap.exception['type']}: {snap.exception['message']} "
            f"at {_where(snap.exception)}"
        )
    if snap.state is not None:
        lines.append(f"state      {json.dumps(to_readable(snap.state), default=str)}")
    lines.append(f"events     {len(snap.events)} recorded")
    for index, event in enumerate(snap.events[-5:], start=max(0, len(snap.events) - 5)):
        mark = "  <- failed" if index == snap.failed_event else ""
        if event.kind == "message":
            payload = json.dumps(to_readable(event.payload), default=str)[:60]
            lines.append(
                f"  [{index}] {event.topic} from {event.sender}#{event.seq}: {payload}{mark}"
            )
        else:
            lines.append(f"  [{index}] {event.kind}{mark}")
    for key, value in snap.detail.items():
        if key == "stack" and value:
            lines.append("stack dump:\n" + str(value).rstrip())
        elif key != "import_paths":
            lines.append(f"{key:10} {value}")
    return "\n".join(lines)
