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

from actors.core.snapshot import from_readable, to_readable
from actors.durability import StateStore
from actors.process import open_private
from actors.site import SiteConfig
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
    try:
        with open(file, encoding="utf-8") as source:
            data = json.load(source)
    except (OSError, ValueError) as exc:
        print(f"error: {file}: not a state export: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    actors = data.get("actors") if isinstance(data, dict) else None
    if not isinstance(actors, dict):
        print(f"error: {file}: no 'actors' map", file=sys.stderr)
        return EXIT_CONFIG
    rows = []
    for name, entry in actors.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            print(f"error: {file}: actors.{name}: needs a 'values' map", file=sys.stderr)
            return EXIT_CONFIG
        version = entry.get("version", 1)
        if type(version) is not int:
            print(f"error: {file}: actors.{name}.version: not an integer", file=sys.stderr)
            return EXIT_CONFIG
        packed = msgpack.packb(from_readable(entry["values"]), use_bin_type=True)
        rows.append((str(name), packed, version))
    store = StateStore(site.persistence.path)
    try:
        for name, packed, version in rows:
            store.write(name, store.claim(name), version, packed)
    finally:
        store.close()
    print(f"imported {len(rows)} actor(s) into {site.persistence.path}")
    return 0
