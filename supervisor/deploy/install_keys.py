"""``python -m supervisor.deploy.install_keys SECRET_DIR KEY_FOLDER``: a Kubernetes Secret's
keys into a site's key folder, owner-only (shell; a pod's init container runs it).

A Secret's item names cannot hold ``/``: the key folder's ``tools/operator.key`` is the
Secret's ``tools__operator.key``. Keys already in the folder (the actors' own, made at
an earlier start) are kept; the Secret's are written over theirs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from actors.process import make_private_folder


def install(secret: Path, folder: Path) -> list[Path]:
    """Copy every item of *secret* into *folder* (0700 folders, 0600 files); return what
    was written."""
    make_private_folder(folder)
    written = []
    for item in sorted(secret.iterdir()):
        if item.name.startswith(".") or not item.is_file():
            continue  # the Secret volume's own links and timestamps
        target = folder.joinpath(*item.name.split("__"))
        if folder.resolve() not in target.resolve().parents:
            raise ValueError(f"{item.name!r} names a file outside {folder}")
        make_private_folder(target.parent)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(item.read_bytes())
        os.chmod(target, 0o600)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Install the keys; 2 on a wrong command line, 1 on a bad item."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:  # noqa: PLR2004 - SECRET_DIR and KEY_FOLDER
        sys.stderr.write(f"{__doc__}\n")
        return 2
    try:
        written = install(Path(args[0]), Path(args[1]))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"{len(written)} keys in {args[1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
