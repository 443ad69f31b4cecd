"""Whether the folders a site writes can be written and trusted (shell: touches the
filesystem).

``check`` and the start of a site ask :func:`folder_problem` for the run
folder (the supervisor cannot run without it: lock, sockets, logs) and the
snapshot folder (actors run without it, but lose their failure snapshots).
The test is real: a folder that does not exist yet must be creatable under
its nearest existing parent, and an existing one must take a new file; a
permission bit says nothing to root, nor about a read-only mount or ``/proc``.

:func:`untrusted` holds the key folder and the run folder to what OpenSSH
holds a key file's folders to: each, and every folder above it up to the
site's folder, must be the site user's own (an ancestor may be root's) and
not writable by group or others, or another user could put a key or a socket
of their own in it. Such a folder is refused, never changed: a folder the
site did not make is not its to ``chmod``.
"""

from __future__ import annotations

import fnmatch
import os
import stat
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
    """Why other local users can enter *folder* (an existing run or snapshot folder of
    ours), or "" (one they can write is :func:`untrusted`, and refused).

    The run folder holds the control socket, the logs and the snapshots, each
    owner-only; a folder others can enter lets them see their names.
    """
    try:
        mode = folder.stat().st_mode & 0o777
    except OSError:
        return ""
    if mode & 0o077 and not mode & 0o022:
        return (
            f"{folder} can be entered by other users (mode {mode:o}); it should be 700 "
            f"(chmod 700 {folder})"
        )
    return ""


_WRITABLE: Final = stat.S_IWGRP | stat.S_IWOTH
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
    """The run folder and the snapshot folder that cannot be written, and the run folder
    and (on a secured site) the key folder that cannot be trusted, with the reason."""
    problems = []
    for key, folder in (("site.run_dir", site.site.run_dir), ("snapshots.dir", site.snapshots.dir)):
        reason = folder_problem(folder)
        if reason:
            problems.append(ConfigProblem(str(site.path), key, reason))
    trusted = [("site.run_dir", site.site.run_dir)]
    if site.secured:
        trusted.append(("security.keys", site.security.keys))
    for key, folder in trusted:
        reason = untrusted(folder, site.folder)
        if reason:
            problems.append(ConfigProblem(str(site.path), key, reason))
    return problems


def untrusted(folder: Path, top: Path) -> str:
    """Why *folder* cannot be trusted with a site's keys or sockets (see the module
    docstring), or "" when it can: it and each existing folder above it, up to *top*
    (the site's folder) when it lies below it, else until a folder that root owns and
    only root can write (or ``/``). A folder that does not exist yet is made owner-only."""
    uid = os.getuid()
    path = Path(os.path.realpath(folder))  # no link on the way: each folder is itself
    stop = Path(os.path.realpath(top))
    below_top = path.is_relative_to(stop)
    itself = path
    while True:
        try:
            st = path.stat()
        except FileNotFoundError:
            st = None
        except OSError as exc:
            return f"cannot look at {path}: {exc.strerror or exc}"
        if st is not None:
            why = _unsafe(path, st.st_uid, st.st_mode, uid, own=path == itself)
            if why:
                return why
            if not below_top and st.st_uid == 0 and not st.st_mode & 0o022:
                return ""
        if (below_top and path == stop) or path.parent == path:
            return ""
        path = path.parent


def _unsafe(path: Path, owner: int, mode: int, uid: int, own: bool) -> str:
    """Why one folder is unsafe ("" when it is not); *own*: the folder itself, not one
    above it (which root may own, and may be sticky like ``/tmp``)."""
    fix = f"make it yours and mode 700 (chmod 700 {path}), or choose another folder"
    if owner != uid and (own or owner != 0):
        return f"{path} belongs to uid {owner}, not to this site's user (uid {uid}): {fix}"
    sticky_root = owner == 0 and mode & stat.S_ISVTX and not own
    writers = mode & _WRITABLE
    if writers and not sticky_root:
        who = "group and others" if writers == _WRITABLE else "group" if mode & 0o020 else "others"
        where = path if own else f"{path} (a folder above it)"
        return f"{where} can be written by {who} (mode {stat.S_IMODE(mode):o}): {fix}"
    return ""
