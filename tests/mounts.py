"""Real small or read-only filesystems for tests, mounted and always unmounted (needs root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _run(*argv: str) -> None:
    """Run a mount command; through ``sudo -n`` when this is not root (as scripts/test does
    for apt-get)."""
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=30)


@contextmanager
def tmpfs(folder: Path, size: str = "1m", *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of *size* on *folder* (created if missing) for the ``with`` block.

    Whatever runs inside must be done with the folder (processes ended, files
    closed) when the block ends: it is unmounted then, and the test fails if it
    cannot be.
    """
    folder.mkdir(parents=True, exist_ok=True)
    owner = f"uid={os.getuid()},gid={os.getgid()}"  # the test's own, also under sudo
    options = f"size={size},mode=0700,{owner}" + (",ro" if read_only else "")
    _run("mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder))
    try:
        yield folder
    finally:
        _run("umount", str(folder))


def fill(folder: Path) -> Path:
    """Fill the filesystem of *folder* to the last byte; the filler file (delete it to free)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler
