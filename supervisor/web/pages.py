"""What the web view's pages ask for besides the live feed: snapshots and an actor's page
(shell: it reads the run folder).

A snapshot is named by its actor and file name only, and found under the
site's snapshot folder (nothing else is ever served). An actor's page joins
its declarations (the data dictionary, from the actor's class as ``docs``
reads it) with the current values its heartbeats report, and the tail of its
log file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from actors.core.snapshot import SnapshotError, to_readable
from actors.site import SiteConfig
from actors.snapshots import list_snapshots, read_snapshot
from supervisor.core.design import Design
from supervisor.site import declared_actors

#: Events of a snapshot shown (the newest; the download has them all).
EVENTS_SHOWN: Final = 200
#: Lines of an actor's log shown, and the bytes read from its end to find them.
LOG_LINES: Final = 60
_LOG_BYTES: Final = 64 * 1024


def snapshot_list(site: SiteConfig) -> list[dict[str, Any]]:
    """Every snapshot of the site, newest first, with the command that replays it."""
    out = []
    for entry in reversed(list_snapshots(site.snapshots.dir)):
        path = Path(entry["file"])
        out.append(
            {
                "actor": entry["actor"],
                "file": path.name,
                "time": entry["time"],
                "pid": entry["pid"],
                "reason": entry["reason"],
                "size": entry["size"],
                "replay": replay_command(site, path),
            }
        )
    return out


def replay_command(site: SiteConfig, path: Path) -> str:
    """The exact command that replays *path* (a failing test, when it reproduces)."""
    return f"python -m supervisor replay {path} --config {site.path}"


def snapshot_file(site: SiteConfig, actor: str, name: str) -> Path | None:
    """The snapshot *name* of *actor*, if it is one under the site's snapshot folder."""
    folder = site.snapshots.dir.resolve()
    path = (folder / actor / name).resolve()
    if not path.is_relative_to(folder) or path.parent.parent != folder or not path.is_file():
        return None
    return path


def snapshot_view(site: SiteConfig, path: Path) -> dict[str, Any]:
    """A readable view: what happened (the newest events), the state, the exception."""
    try:
        snap = read_snapshot(path)
    except SnapshotError as exc:
        return {"error": str(exc)}
    data = to_readable(snap.to_dict())
    events = data.get("events") or []
    return {
        "actor": data.get("actor"),
        "class": data.get("class_path"),
        "reason": data.get("reason"),
        "time": data.get("time"),
        "exception": data.get("exception"),
        "state": data.get("state"),
        "events": events[-EVENTS_SHOWN:],
        "events_total": len(events),
        "replay": replay_command(site, path),
    }


_DICTIONARIES: dict[str, list[dict[str, Any]]] = {}


def _dictionary(site: SiteConfig) -> list[dict[str, Any]]:
    """The data dictionary of the actors whose classes load (read once per site file)."""
    key = str(site.path)
    if key not in _DICTIONARIES:
        decls, _ = declared_actors(site, site.everyone)
        _DICTIONARIES[key] = Design(site.site.name, decls).dictionary()
    return _DICTIONARIES[key]


def actor_page(site: SiteConfig, name: str, latest: dict[str, Any] | None) -> dict[str, Any] | None:
    """Actor *name*'s declarations with their current values (from *latest*, the last
    ``status`` reply), its status record, its log tail."""
    if name not in site.actors:
        return None
    status = next((a for a in (latest or {}).get("actors", []) if a.get("name") == name), None)
    metrics = (status or {}).get("metrics") or {}
    rows = []
    for row in _dictionary(site):
        if row["actor"] != name:
            continue
        value = metrics.get(row["name"], row["value"])
        rows.append({**row, "value": value})
    return {
        "name": name,
        "class": site.actors[name].class_path,
        "status": status,
        "declarations": rows,
        "log": log_tail(site, name),
    }


def log_tail(site: SiteConfig, name: str) -> list[dict[str, Any]]:
    """The last records of *name*'s log file (JSON lines; a line that is not JSON as text)."""
    path = site.site.run_dir / "logs" / f"{name}.log"
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - _LOG_BYTES))
            lines = f.read().decode("utf-8", "replace").splitlines()
        if size > _LOG_BYTES:
            lines = lines[1:]  # the first is cut
    except OSError:
        return []
    out = []
    for line in lines[-LOG_LINES:]:
        try:
            record = json.loads(line)
        except ValueError:
            record = {"event": line}
        out.append(record if isinstance(record, dict) else {"event": line})
    return out
