"""Snapshot files: atomic writes, the per-actor bound, listing, reading (shell).

Files live in ``<snapshot dir>/<actor>/`` and are named
``<UTC time>-<pid>-<reason>.snap`` so that names sort by time. A write goes to
a temporary file, is fsynced and renamed into place, and then the folder is
pruned to the newest ``keep`` files: a crash mid-write never leaves a torn
snapshot, and a crash loop never fills the disk.

Readable forms (``.json``, ``.toml``) hold the same map with bytes (and, in
TOML, nil) tagged; :func:`read_snapshot` reads all three.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import socket
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import tomli_w

from actors.core.snapshot import Snapshot, SnapshotError, from_readable, to_readable

SUFFIX = ".snap"
TMP_SUFFIX = ".tmp"  # after SUFFIX: ".<name>.snap.tmp"
_CHUNK = 1024 * 1024
#: Seconds after which a temporary snapshot file is a dead writer's, and removed.
STALE_TMP = 60.0


def source_hash(cls: type) -> str:
    """sha256 of the source of the module that defines *cls* ('' if unavailable)."""
    module = sys.modules.get(cls.__module__)
    try:
        text = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        return ""
    return hashlib.sha256(text.encode()).hexdigest()


def stamp(snapshot: Snapshot, cls: type | None = None, site_host: str = "") -> Snapshot:
    """Fill in host, pid and the class's source hash. The host is the machine's name, and
    on a site of several hosts the site's name of it first (``arm (rpi-7)``): whose clock
    stamped the snapshot's times."""
    machine = socket.gethostname()
    host = f"{site_host} ({machine})" if site_host and site_host != machine else machine
    return replace(
        snapshot,
        host=host,
        pid=snapshot.pid or os.getpid(),
        source_hash=snapshot.source_hash or (source_hash(cls) if cls else ""),
    )


def write_snapshot(
    folder: Path, snapshot: Snapshot, keep: int, *, progress: Callable[[], None] | None = None
) -> Path:
    """Write *snapshot* atomically under ``folder/<actor>/``; keep the newest *keep*.

    *progress* is called after each MiB written and before the file is synced (an
    actor sends its heartbeat from it: a large snapshot never looks like a hang).
    """
    target = folder / snapshot.actor
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    when = time.strftime("%Y%m%dT%H%M%S", time.gmtime(snapshot.time))
    millis = int(snapshot.time * 1000) % 1000
    name = f"{when}.{millis:03d}Z-{snapshot.pid}-{snapshot.reason}{SUFFIX}"
    path = target / name
    tmp = target / f".{name}{TMP_SUFFIX}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            data = memoryview(snapshot.encode())
            while data:
                data = data[os.write(fd, data[:_CHUNK]) :]
                if progress is not None:
                    progress()
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise
    dir_fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
    prune(target, keep)
    return path


def prune(target: Path, keep: int) -> None:
    """Delete all but the newest *keep* snapshot files in *target*, and the temporary
    files of writers that died (older than :data:`STALE_TMP` seconds)."""
    files = sorted(target.glob(f"*{SUFFIX}"))
    for old in files[: max(0, len(files) - keep)]:
        old.unlink(missing_ok=True)
    now = time.time()
    for tmp in target.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > STALE_TMP:
                tmp.unlink()


def list_snapshots(folder: Path, actor: str | None = None) -> list[dict[str, Any]]:
    """Snapshot files under *folder* (of one actor, or all), oldest first."""
    if not folder.exists():
        return []
    dirs = [folder / actor] if actor else sorted(p for p in folder.iterdir() if p.is_dir())
    out = []
    for d in dirs:
        for path in sorted(d.glob(f"*{SUFFIX}")):
            stem = path.name.removesuffix(SUFFIX)
            parts = stem.split("-", 2)
            out.append(
                {
                    "actor": d.name,
                    "file": str(path),
                    "time": parts[0],
                    "pid": int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None,
                    "reason": parts[2] if len(parts) > 2 else "",
                    "size": path.stat().st_size,
                }
            )
    return out


def read_snapshot(path: str | Path) -> Snapshot:
    """Read a ``.snap`` (msgpack), ``.json`` or ``.toml`` snapshot; SnapshotError if invalid."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read: {exc}") from None
    try:
        if path.suffix == ".json":
            return Snapshot.from_dict(from_readable(json.loads(data)))
        if path.suffix == ".toml":
            return Snapshot.from_dict(from_readable(tomllib.loads(data.decode())))
        return Snapshot.decode(data)
    except SnapshotError as exc:
        raise SnapshotError(f"{path}: {exc}") from None
    except RecursionError:
        raise SnapshotError(f"{path}: nested too deeply to be a snapshot") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path}: not valid {path.suffix.lstrip('.')}: {exc}") from None


def export_snapshot(snapshot: Snapshot, fmt: str) -> str:
    """The readable text of *snapshot* in ``json`` or ``toml``."""
    if fmt == "toml":
        return tomli_w.dumps(to_readable(snapshot.to_dict(), toml=True))
    return json.dumps(to_readable(snapshot.to_dict()), indent=2) + "\n"
