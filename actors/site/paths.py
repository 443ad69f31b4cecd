"""Whether the folders a site writes can be written (shell: touches the filesystem).

``check`` and the start of a site ask :func:`folder_problem` for the run
folder (the supervisor cannot run without it: lock, sockets, logs) and the
snapshot folder (actors run without it, but lose their failure snapshots).
The test is real: a folder that does not exist yet must be creatable under
its nearest existing parent, and an existing one must take a new file; a
permission bit says nothing to root, nor about a read-only mount or ``/proc``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def folder_problems(site: SiteConfig) -> list[ConfigProblem]:
    """The run folder and the snapshot folder that cannot be written, with the reason."""
    problems = []
    for key, folder in (("site.run_dir", site.site.run_dir), ("snapshots.dir", site.snapshots.dir)):
        reason = folder_problem(folder)
        if reason:
            problems.append(ConfigProblem(str(site.path), key, reason))
    return problems
