"""What an actor process tells its supervisor: heartbeats, snapshots, stack dumps (shell).

:class:`Reporter` is the collaborator of :class:`~actors.runtime.ActorProcess`
that owns the heartbeat (state, counters, the topics it reads and writes, what it could not
write), the failure and on-demand snapshots with the folders its class came
from, the stack dump file a hung step is read from, and the lock that makes
this process the one actor of its name.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from actors.core.control import STACK_PREFIX, Heartbeat
from actors.core.engine import ActorEngine
from actors.core.topics import SYS_HEARTBEAT
from actors.process import AlreadyRunning, claim_name, open_private
from actors.settings import RuntimeConfig
from actors.snapshots import stamp, write_snapshot
from actors.transport import Transport

if TYPE_CHECKING:
    from actors.faulty import FaultInjector

_MAX_REPORTED: Final = 200  # published topics named in a heartbeat, at most


class Reporter:
    """Heartbeats, snapshots and stack dumps of one actor process.

    Handed the engine and the transport once they exist (:meth:`attach`); what the
    process is doing (``"starting"``, ``"running"``, ...) comes from *state*, what the
    other collaborators count for the heartbeat from *counts*, the injector in force
    from *faults*.
    """

    def __init__(  # noqa: PLR0913 - the parts it is handed, each by name
        self,
        config: RuntimeConfig,
        logging: Any,
        log: Any,
        *,
        state: Callable[[], str],
        counts: Callable[[], dict[str, int]],
        faults: Callable[[], FaultInjector | None],
    ) -> None:
        self.config = config
        self.logging = logging
        self.log = log
        self._state = state
        self._counts = counts
        self._faults = faults
        self.started = time.monotonic()
        self.snapshot_folder = (
            config.site.snapshots.dir / config.name if config.site.snapshots.dir else None
        )
        #: Snapshots that could not be written (a full disk, an unwritable folder).
        self.snapshots_failed = 0
        #: The lock that makes this process the one actor of its name (see claim_name).
        self.name_lock: int | None = None
        self.topic = (SYS_HEARTBEAT + config.name).encode()
        self.next_beat = 0.0
        self._engine: ActorEngine | None = None
        self._transport: Transport | None = None
        self._metric_names: list[str] = []

    def attach(self, engine: ActorEngine, transport: Transport) -> None:
        """The engine reported on and the transport heartbeats go out on."""
        self._engine, self._transport = engine, transport
        spec = engine.spec
        self._metric_names = [
            v.name
            for v in [*spec.states.values(), *spec.outputs.values()]
            if getattr(v, "metric", False)
        ]

    def beat(self, state: str | None = None) -> None:
        """Send a heartbeat now (*state*: what the process says it is doing, if not what
        it is)."""
        engine, transport = self._engine, self._transport
        assert engine is not None and transport is not None
        self.next_beat = time.monotonic() + self.config.site.supervisor.heartbeat_interval
        transport.send(*engine.publish(self.topic, self.heartbeat(engine, state)))

    def beat_if_due(self, now: float) -> bool:
        """Send a heartbeat if one is due at *now*; whether one went."""
        if now < self.next_beat:
            return False
        self.beat()
        return True

    def arm_stack_dump(self) -> IO[str] | None:
        """On SIGUSR1, dump every thread's stack to a file the supervisor reads (hung steps).

        faulthandler writes from the C signal handler, so this works while the
        main thread is stuck in a Python loop.
        """
        if self.snapshot_folder is None:
            return None
        try:
            self.snapshot_folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            stack = open_private(self.snapshot_folder / f"{STACK_PREFIX}{os.getpid()}.txt")
        except OSError as exc:
            # The actor runs without: no stack of a hung step, and its snapshots fail
            # (each one logged) until the folder can be written again.
            self.log.warning(
                "snapshot folder not writable: no stack dumps",
                folder=str(self.snapshot_folder),
                error=str(exc),
            )
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the supervisor's ask for a stack
            return None
        faulthandler.register(signal.SIGUSR1, file=stack, all_threads=True)
        return stack

    def write_snapshot(
        self, engine: ActorEngine, reason: str, exc: BaseException | None = None
    ) -> Path | None:
        """Write a snapshot file; log and return None if that is impossible."""
        if self.snapshot_folder is None:
            return None
        snap = engine.keeper.snapshot(reason, exc)
        detail: dict[str, Any] = {"import_paths": [str(p) for p in self.config.import_paths]}
        faults = self._faults()
        if faults is not None:  # taken under fault injection: a replay applies the same
            detail["faults"] = faults.describe()
        snap = stamp(replace(snap, detail=detail), engine.cls, self.config.site.host)

        beat_at = time.monotonic() + self.config.site.supervisor.heartbeat_interval

        def beat() -> None:  # heartbeats go on while a large snapshot is written
            nonlocal beat_at
            if self._transport is not None and time.monotonic() >= beat_at:
                beat_at = time.monotonic() + self.config.site.supervisor.heartbeat_interval
                self.beat()

        try:
            if faults is not None and faults.write_rules and faults.write_fault("snapshot"):
                raise OSError(errno.ENOSPC, "fault injection: no space left on device")
            path = write_snapshot(
                self.snapshot_folder.parent, snap, self.config.site.snapshots.keep, progress=beat
            )
        except OSError as err:
            self.snapshots_failed += 1
            self.log.error("cannot write snapshot", reason=reason, error=str(err))
            return None
        self.log.info("snapshot written", reason=reason, path=str(path))
        return path

    def _write_failures(self) -> dict[str, int]:
        """What this process could not write or do (only what happened): log lines, snapshots,
        durable State, and what the other collaborators count."""
        log = self.logging.file
        counts = {"log_lost": log.lost if log is not None else 0}
        counts["snapshots_failed"] = self.snapshots_failed
        counts.update(self._counts())
        return {k: v for k, v in counts.items() if v}

    def _hold_name(self, state: str) -> None:
        """A swap's new version, running: take the name's lock once the old one let go."""
        cfg = self.config
        if self.name_lock is None and cfg.swap and cfg.run_dir and state in ("ready", "running"):
            with contextlib.suppress(AlreadyRunning):
                self.name_lock = claim_name(cfg.run_dir, cfg.name)

    def heartbeat(self, engine: ActorEngine, state: str | None = None) -> dict[str, Any]:
        """The heartbeat's payload now."""
        state = state or self._state()
        self._hold_name(state)  # at every heartbeat: one flock call until it holds
        stats = engine.statistics()
        return Heartbeat(
            state=state,
            pid=os.getpid(),
            uptime=round(time.monotonic() - self.started, 3),
            last_step=engine.last_step_ns / 1e9 if engine.last_step_ns else None,
            stats={
                **{name: getattr(stats, name) for name in stats.__slots__},
                **self._write_failures(),
            },
            inputs={
                name: {"gaps": gaps, "duplicates": dups}
                for name, (gaps, dups) in engine.input_stats.items()
            },
            metrics={name: getattr(engine.actor, name, None) for name in self._metric_names},
            # What this process actually reads and writes, for the live graph (ctl graph).
            topics={
                "subscribed": engine.subscriptions(),
                "published": sorted(t.decode() for t in list(engine.topic_out)[:_MAX_REPORTED]),
                "serves": engine.rpc.serves(),
                # Messages per topic (and gaps per topic read): the live graph's edges.
                "in": dict(list(engine.topic_in.items())[:_MAX_REPORTED]),
                "out": {
                    t.decode(): n
                    for t, n in list(engine.topic_out.items())[:_MAX_REPORTED]
                    if not t.startswith(b"$")
                },
                "gaps": dict(list(engine.topic_gaps.items())[:_MAX_REPORTED]),
            },
            calls={
                k: v
                for k, v in (
                    ("calls", engine.calls.statistics()),
                    ("services", engine.rpc.service_report()),
                    ("shed", engine.limits.shed()),
                    # Replies that matched no call in flight (answers to resends, copies).
                    ("stray", engine.calls.stray),
                    # Replies refused for their sender (not a server of the call), and the
                    # latest one's sender and why (the supervisor reports it as denied).
                    ("reply_rejected", engine.calls.rejected),
                    ("reply_rejected_last", _last_rejected(engine.calls.last_rejected)),
                )
                if v
            },
            faults=faults.statistics() if (faults := self._faults()) else {},
            reliable=engine.reliable.statistics(),
        ).encode()


def _last_rejected(last: tuple[str, str] | None) -> dict[str, str] | None:
    """The latest refused reply's sender and reason, as a heartbeat carries it."""
    return None if last is None else {"sender": last[0][:255], "reason": last[1][:255]}
