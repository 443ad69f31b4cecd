"""Supervisor-side failure records, for deaths the actor could not record itself (shell).

An actor that raises writes its own snapshot and exits with status 70. One
that is killed by a signal (SIGKILL, a segfault, the OOM killer), exits with
another status, hangs or breaks a resource limit cannot, so the supervisor
writes a record with what it knows: the signal or status, the last heartbeat
and step times, and for a hung actor the stack of every thread, dumped by
the actor's faulthandler on SIGUSR1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from actors.core.control import STACK_PREFIX
from actors.core.snapshot import Snapshot
from actors.snapshots import SUFFIX, stamp, write_snapshot


class FailureRecords:
    """The failure records and stack dumps of one site's snapshot folder."""

    def __init__(self, folder: Path, keep: int) -> None:
        self.folder = folder
        self.keep = keep

    def take_stack(self, actor: str, pid: int) -> str:
        """Read and remove the stack dump of *pid*; '' if there is none."""
        path = self.folder / actor / f"{STACK_PREFIX}{pid}.txt"
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        path.unlink(missing_ok=True)
        return text

    def has_snapshot(self, actor: str, pid: int) -> bool:
        """Whether the actor process *pid* wrote a snapshot of its own."""
        return any((self.folder / actor).glob(f"*-{pid}-*{SUFFIX}"))

    def write(
        self,
        actor: str,
        class_path: str,
        pid: int,
        reason: str,
        *,
        detail: dict[str, Any],
        params: dict[str, Any] | None = None,
    ) -> Path:
        """Write the record of how actor process *pid* ended (with the params it ran with)."""
        record = Snapshot(
            actor=actor,
            class_path=class_path,
            reason=reason,
            time=time.time(),
            pid=pid,
            params=params or {},
            detail={"recorded_by": "supervisor", **detail},
        )
        return write_snapshot(self.folder, stamp(record), self.keep)
