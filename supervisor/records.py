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

from actors.core.control import STACK_PREFIX, Exit
from actors.core.snapshot import Snapshot
from actors.snapshots import SUFFIX, stamp, write_snapshot
from supervisor.children import Child
from supervisor.core.policy import ActorExited
from supervisor.core.site_events import WriteFailed
from supervisor.events import Events


class FailureRecords:
    """The failure records and stack dumps of one site's snapshot folder."""

    def __init__(self, folder: Path, keep: int) -> None:
        self.folder = folder
        self.keep = keep
        #: Records that could not be written (a full disk, an unwritable folder).
        self.failed = 0
        self._failing = False

    def death(
        self,
        child: Child,
        event: ActorExited,
        pid: int | None,
        now: float,
        *,
        params: dict[str, Any],
        events: Events,
    ) -> str | None:
        """Write the record of an actor death it could not record itself; its path, or None
        (not an actor's, commanded, recorded by the actor, or the write failed: counted,
        logged, and one ``write_failed`` event per run of failures)."""
        stack = self.take_stack(child.name, pid or 0)
        if child.kind != "actor" or event.commanded or pid is None:
            return None
        if (
            not child.kill_kind
            and event.code == Exit.FAILURE
            and self.has_snapshot(child.name, pid)
        ):
            return None  # the actor wrote its own failure snapshot
        beat = child.heartbeat
        detail = {
            "exit": event.describe(),
            "code": event.code,
            "signal": event.signal,
            "uptime": round(now - child.started_at, 3),
            "last_heartbeat_age": round(now - child.heartbeat_at, 3)
            if child.heartbeat_at
            else None,
            "last_step": beat.last_step if beat else None,
            "stats": beat.stats if beat else {},
            "stack": stack or None,
            "peak_rss_mb": child.peak_rss_mb,
        }
        reason = child.kill_kind or ("killed" if event.signal is not None else "exit")
        try:
            path = self.write(
                child.name, child.class_path, pid, reason, detail=detail, params=params
            )
        except OSError as exc:
            self.failed += 1
            events.log.error("cannot write failure record", actor=child.name, error=str(exc))
            if not self._failing:  # once per run of failures (a full disk)
                self._failing = True
                events.emit(WriteFailed(what="records", error=str(exc)))
            return None
        self._failing = False
        return str(path)

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
