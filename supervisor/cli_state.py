"""``python -m supervisor state export|import FILE``: a site's durable State, moved (shell).

``export`` writes every actor's stored durable State as readable JSON (bytes
as ``{"base64": ...}``, as ``snapshot export`` writes them): ``{"site",
"actors": {name: {"values", "version", "written"}}}``. ``import`` writes such
a file into the site's state database (replacing the actors it names); the
site must not be running, since its actors would write their own values over
it. Both are owner-only files.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any, Final

import msgpack

from actors.core.durable import JOURNAL, import_problems
from actors.core.snapshot import from_readable, to_readable
from actors.core.types import pack_default
from actors.durability import StateStore
from actors.loader import LoadError, load_class
from actors.process import open_private
from actors.site import SiteConfig, import_paths
from supervisor.client import listening

EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 78
EXIT_RUNNING: Final = 75


def add_command(sub: Any, config_arg: Any) -> None:
    """Add ``state`` to the command line's subcommands."""
    p = sub.add_parser("state", help="export or import a site's durable State")
    config_arg(p)
    p.add_argument("action", choices=("export", "import"))
    p.add_argument("file", help="the JSON file to write (export, '-': standard output) or read")


def cmd_state(site: SiteConfig, args: Any) -> int:
    """Export or import; 0 when done."""
    path = site.persistence.path
    try:
        if args.action == "export":
            return _export(site, args.file)
        if listening(site.supervisor.control_connect):
            print(
                f"error: site {site.site.name!r} is running: stop it before importing durable "
                "State (its actors would write their own values over it)",
                file=sys.stderr,
            )
            return EXIT_RUNNING
        return _import(site, args.file)
    except (sqlite3.Error, OSError) as exc:
        print(f"error: the state database {path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _export(site: SiteConfig, file: str) -> int:
    actors: dict[str, Any] = {}
    if site.persistence.path.exists():
        store = StateStore(site.persistence.path)
        try:
            for name, record in store.rows():
                if record.written:
                    values = msgpack.unpackb(record.data, raw=False, strict_map_key=False)
                    # The framework's journals (an inbox) belong to this database's
                    # processes: never moved.
                    values = {
                        k: v
                        for k, v in values.items()
                        if not (isinstance(k, str) and k.startswith(JOURNAL))
                    }
                    actors[name] = {
                        "values": to_readable(values),
                        "version": record.version,
                        "written": record.written,
                    }
        finally:
            store.close()
    text = json.dumps({"site": site.site.name, "actors": actors}, indent=2, sort_keys=True)
    if file == "-":
        print(text)
    else:
        with open_private(Path(file)) as out:
            out.write(text + "\n")
        print(f"wrote {len(actors)} actor(s) to {file}")
    return 0


def _import(site: SiteConfig, file: str) -> int:
    """Check the whole file against the site's actors and their durable State (every
    problem at once), then write it; nothing is written if anything is wrong."""
    try:
        with open(file, encoding="utf-8") as source:
            data = json.load(source)
        data = from_readable(data)
    except (OSError, ValueError) as exc:
        print(f"error: {file}: not a state export: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RecursionError:
        print(f"error: {file}: nested deeper than a state export can be", file=sys.stderr)
        return EXIT_CONFIG
    rows, problems = _checked_rows(site, data)
    for key, reason in problems:
        print(
            f"error: {file}: {key}: {reason}" if key else f"error: {file}: {reason}",
            file=sys.stderr,
        )
    if problems:
        print(f"{file}: {len(problems)} problem(s); nothing imported", file=sys.stderr)
        return EXIT_CONFIG
    store = StateStore(site.persistence.path)
    try:
        for name, packed, version in rows:
            store.write(name, store.claim(name), version, packed)
    finally:
        store.close()
    print(f"imported {len(rows)} actor(s) into {site.persistence.path}")
    return 0


def _checked_rows(
    site: SiteConfig, data: Any
) -> tuple[list[tuple[str, bytes, int]], list[tuple[str, str]]]:
    """The rows to write, and every problem as ``(key, reason)``. Each actor's class is
    imported here, as ``check`` does, to hold its values against its declarations."""
    if not isinstance(data, dict) or not isinstance(data.get("actors"), dict):
        return [], [("", "no 'actors' map: not a state export")]
    problems: list[tuple[str, str]] = []
    if data.get("site") != site.site.name:
        problems.append(
            ("site", f"the export is of site {data.get('site')!r}, not {site.site.name!r}")
        )
    rows = []
    for name, entry in data["actors"].items():
        where = f"actors.{name}"
        actor = site.actors.get(name)
        if actor is None:
            problems.append((where, f"no actor {name!r} in {site.path}"))
            continue
        if not isinstance(entry, dict):
            problems.append((where, "must be a map with 'values' and 'version'"))
            continue
        try:
            cls = load_class(actor.class_path, import_paths(site))
        except LoadError as exc:
            problems.append((f"{where}.class", str(exc)))
            continue
        values, version = entry.get("values"), entry.get("version", 1)
        found = import_problems(values, version, cls, name)
        problems += [(f"{where}.{key}" if key else where, reason) for key, reason in found]
        if not found:
            rows.append(
                (name, msgpack.packb(values, use_bin_type=True, default=pack_default), version)
            )
    return rows, problems
