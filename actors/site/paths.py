"""Whether the folders a site writes can be written (shell: touches the filesystem).

``check`` and the start of a site ask :func:`folder_problem` for the run
folder (the supervisor cannot run without it: lock, sockets, logs) and the
snapshot folder (actors run without it, but lose their failure snapshots).
The test is real: a folder that does not exist yet must be creatable under
its nearest existing parent, and an existing one must take a new file; a
permission bit says nothing to root, nor about a read-only mount or ``/proc``.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from actors.site.model import ConfigProblem, SiteConfig


def folder_problem(folder: Path) -> str:
    """Why *folder* cannot be created or written, or "" when it can."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        if existing == folder:
            fd, probe = tempfile.mkstemp(prefix=".enlil-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".enlil-probe-", dir=existing))
    except OSError as exc:
        verb = "write in" if existing == folder else f"create {folder} under"
        return f"cannot {verb} {existing}: {exc.strerror or exc}"
    return ""


def exposed(folder: Path) -> str:
    """Why other local users can get into *folder* (an existing run folder), or "".

    The run folder holds the control socket, the logs and the snapshots: a
    folder others can write lets them replace a socket or a log with a link of
    their own; one they can enter lets them reach what lies below it.
    """
    try:
        mode = folder.stat().st_mode & 0o777
    except OSError:
        return ""
    if mode & 0o022:
        return f"{folder} can be written by other users (mode {mode:o}); it should be 700"
    if mode & 0o077:
        return f"{folder} can be entered by other users (mode {mode:o}); it should be 700"
    return ""


def tighten(folder: Path) -> str:
    """Make an existing run folder of ours owner-only; return what was changed, or ""."""
    reason = exposed(folder)
    if not reason:
        return ""
    try:
        if folder.stat().st_uid != os.getuid():
            return f"{reason}, and it is not ours to change"
        folder.chmod(0o700)
    except OSError as exc:
        return f"{reason}; cannot change it: {exc.strerror or exc}"
    return f"{reason}; made it 700"


#: Devices a param may always name: serial ports (and the ptys of simulators).
DEVICES: Final = ("/dev/tty*", "/dev/serial/*", "/dev/serial/*/*", "/dev/pts/*")


def allowed_paths(site: SiteConfig) -> tuple[str, ...]:
    """Where params that name files may point: the site's folder and run folder (and what
    lies below them), serial devices, and ``[security] paths``."""
    roots = (site.folder, site.site.run_dir, site.snapshots.dir)
    below = tuple(f"{os.path.realpath(root)}{os.sep}*" for root in roots)
    return (*below, *DEVICES, *site.security.paths)


def outside(value: str, run_dir: Path | None, allowed: Iterable[str]) -> str:
    """Why the path *value* (relative: under *run_dir*) lies where no pattern of *allowed*
    reaches, or "" when it is allowed. Links are followed as far as they exist: a link
    inside an allowed folder that points out of it is outside. A URL (``scheme://``) is
    not a path."""
    if "://" in value:
        return ""
    path = Path(value)
    if not path.is_absolute():
        path = (run_dir or Path.cwd()) / path
    real = os.path.realpath(path)
    for pattern in allowed:
        if fnmatch.fnmatchcase(real, pattern) or fnmatch.fnmatchcase(
            real, pattern.rstrip("*").rstrip(os.sep)
        ):
            return ""
    return f"{value!r} ({real}) is outside the folders the site allows (add it to [security] paths)"


def path_param_problems(
    params_spec: Mapping[str, Any],
    values: Mapping[str, Any],
    run_dir: Path | None,
    allowed: Iterable[str],
) -> list[str]:
    """``params.NAME: reason`` for each path param (``Param(path=True)``) whose value (its
    default where *values* has none) lies outside *allowed*."""
    allowed = tuple(allowed)
    problems = []
    for name, param in params_spec.items():
        value = values.get(name, getattr(param, "default", None))
        if getattr(param, "path", False) and isinstance(value, str) and value:
            reason = outside(value, run_dir, allowed)
            if reason:
                problems.append(f"params.{name}: {reason}")
    return problems


def folder_problems(site: SiteConfig) -> list[ConfigProblem]:
    """The run folder and the snapshot folder that cannot be written, with the reason."""
    problems = []
    for key, folder in (("site.run_dir", site.site.run_dir), ("snapshots.dir", site.snapshots.dir)):
        reason = folder_problem(folder)
        if reason:
            problems.append(ConfigProblem(str(site.path), key, reason))
    return problems
