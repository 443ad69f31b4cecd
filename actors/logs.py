"""Logging for every enlil process: structlog, a rotated JSON file, the console (shell).

Each process has two thresholds that can change while it runs: the *local*
level, for its JSON-lines file (``<run_dir>/logs/<process>.log``, rotated)
and the console, and the *OpenTelemetry* level, for records exported over
OTLP when the site has an endpoint (:class:`actors.telemetry.LogExport`,
plugged in with :meth:`LogSetup.export_to`). ``ctl loglevel NAME LEVEL
--otel LEVEL`` sets both. A record below both thresholds is dropped by the
first processor, before any formatting.

The console shows readable lines on a terminal and JSON lines otherwise (so
that a supervisor's captured output stays machine-readable).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

from actors.core.engine_types import CURRENT_TRACE

LEVELS: Final = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_METHOD_LEVEL: Final = {**LEVELS, "warn": 30, "exception": 40, "fatal": 50, "msg": 20}
MAX_BYTES: Final = 10 * 1024 * 1024
BACKUPS: Final = 3
#: Seconds between two tries of a log file that could not be written.
RETRY: Final = 1.0


class RotatingFile:
    """An append-only, owner-only text file that rolls over to ``.1`` ... ``.N`` past
    *max_bytes*.

    A line that cannot be written (a full disk, a folder gone or read-only) is
    counted in :attr:`lost` and never raises: a process must not die of its
    log. The first failure of a run of failures is reported once through
    *notify*; the file is tried again at most every :data:`RETRY` seconds, and
    the recovery is reported with the number of lines lost. A line is written
    whole or not at all (a partial write is cut back).
    """

    def __init__(
        self,
        path: Path,
        max_bytes: int = MAX_BYTES,
        backups: int = BACKUPS,
        *,
        notify: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        #: Lines that could not be written, since the start.
        self.lost = 0
        #: Why writing fails now ("" while it works).
        self.failing = ""
        self._notify = notify or _to_stderr
        self._clock = clock
        self._fd = -1
        self._size = 0
        self._retry_at = 0.0
        self._lost_at_failure = 0
        #: Fault injection's write hop (``topic = "log"``): whether this line fails as on a
        #: full disk (None: no rule, nothing asked).
        self.fault: Callable[[], bool] | None = None
        self._open()

    def _open(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            self._failed(exc)
            return False
        self._fd = fd
        self._size = os.fstat(fd).st_size
        return True

    def write_line(self, line: str) -> None:
        """Append *line* and a newline in one write; roll over first if it would not fit."""
        data = (line + "\n").encode("utf-8", "replace")
        if self.fault is not None and self.fault():
            self.lost += 1
            self._failed(OSError(errno.ENOSPC, "No space left on device (fault injection)"))
            return
        if self._fd < 0 and (self._clock() < self._retry_at or not self._open()):
            self.lost += 1
            return
        try:
            if self._size + len(data) > self.max_bytes and self._size > 0:
                self._roll()
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            self.lost += 1
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # no torn line
            self._failed(exc)
            return
        self._size += len(data)
        if self.failing:
            lost = self.lost - self._lost_at_failure
            self.failing = ""
            self._notify(f"log file {self.path} is writable again; {lost} line(s) were lost")

    def _failed(self, exc: OSError) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._retry_at = self._clock() + RETRY
        if not self.failing:
            self.failing = exc.strerror or str(exc)
            self._lost_at_failure = self.lost
            self._notify(
                f"cannot write log file {self.path}: {self.failing}; "
                f"lines are counted as lost and the file is tried again every {RETRY:g}s"
            )

    def _roll(self) -> None:
        os.close(self._fd)
        self._fd = -1
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._size = 0
        if not self._open():
            raise OSError(errno.EIO, self.failing)

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _to_stderr(text: str) -> None:
    """A notice about the log itself, on standard error as one JSON line."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(json.dumps({"event": text, "level": "warning"}) + "\n")
        sys.stderr.flush()


@dataclass
class LogLevels:
    """The two thresholds of one process, as numbers (see :data:`LEVELS`)."""

    local: int
    otel: int

    def describe(self) -> dict[str, str]:
        """The levels by name."""
        names = {v: k for k, v in LEVELS.items()}
        return {"local": names[self.local], "otel": names[self.otel]}


class _Sink:
    """The structlog 'logger': writes each record to the file and the console."""

    def __init__(self, levels: LogLevels, file: RotatingFile | None, console: IO[str]) -> None:
        self.levels = levels
        self.file = file
        self.console = console
        self.pretty = console.isatty()
        self.renderer = structlog.dev.ConsoleRenderer(colors=True) if self.pretty else None
        #: Where records at or above the OpenTelemetry level go (actors.telemetry), if anywhere.
        self.export: Callable[[dict[str, Any]], None] | None = None

    def _emit(self, **event: Any) -> None:
        level = LEVELS.get(str(event.get("level", "info")), 20)
        if level >= self.levels.otel and self.export is not None:
            self.export(event)
        if level < self.levels.local:
            return
        line = json.dumps(event, default=repr)
        if self.file is not None:
            self.file.write_line(line)
        if self.renderer is not None:
            text = str(self.renderer(None, "", dict(event)))
            self.console.write(text + "\n")
        else:
            self.console.write(line + "\n")  # one write: lines of concurrent processes stay whole
        self.console.flush()

    def __getattr__(self, name: str) -> Any:
        if name in _METHOD_LEVEL:
            return self._emit
        raise AttributeError(name)


@dataclass
class LogSetup:
    """What :func:`setup_logging` made: the bound logger and the levels to change."""

    logger: FilteringBoundLogger
    levels: LogLevels
    file: RotatingFile | None
    sink: _Sink

    def set_levels(self, local: str | None = None, otel: str | None = None) -> dict[str, str]:
        """Change the thresholds at run time; ValueError names an unknown level."""
        for name in (local, otel):
            if name is not None and name not in LEVELS:
                raise ValueError(f"unknown log level {name!r} (use {', '.join(LEVELS)})")
        if local is not None:
            self.levels.local = LEVELS[local]
        if otel is not None:
            self.levels.otel = LEVELS[otel]
        return self.levels.describe()

    def export_to(self, export: Callable[[dict[str, Any]], None] | None) -> None:
        """Send records at or above the OpenTelemetry level to *export* (None: nowhere)."""
        self.sink.export = export


def _exception_info(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """``log.exception(...)`` carries the traceback, and ``where`` it was raised (file:line).

    The generic bound logger, unlike the stdlib one, does not add ``exc_info`` by itself.
    """
    if method == "exception":
        event.setdefault("exc_info", True)
    if event.get("exc_info"):
        exc = sys.exc_info()[1] if event["exc_info"] is True else event["exc_info"]
        tb = getattr(exc, "__traceback__", None)
        if tb is not None:
            frame = traceback.extract_tb(tb)[-1]
            event.setdefault("where", f"{frame.filename}:{frame.lineno} in {frame.name}")
    return event


def _add_trace_ids(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Inside a traced step, add its trace and span ids (W3C hex) to the record."""
    trace = CURRENT_TRACE.get()
    if trace is not None:
        _, trace_id, span_id, _ = trace.split("-")
        event.setdefault("trace_id", trace_id)
        event.setdefault("span_id", span_id)
    return event


def setup_logging(
    process: str,
    level: str = "info",
    *,
    otel_level: str = "warning",
    log_dir: Path | None = None,
    console: IO[str] | None = None,
) -> LogSetup:
    """Configure structlog for this process; return the logger and its levels."""
    levels = LogLevels(LEVELS.get(level, 20), LEVELS.get(otel_level, 30))
    file = RotatingFile(log_dir / f"{process}.log") if log_dir is not None else None
    sink = _Sink(levels, file, console or sys.stderr)

    def below_both(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        if _METHOD_LEVEL.get(method, 20) < min(levels.local, levels.otel):
            raise structlog.DropEvent
        return event

    structlog.configure(
        processors=[
            below_both,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _exception_info,
            structlog.processors.format_exc_info,
            _add_trace_ids,
        ],
        wrapper_class=structlog.BoundLogger,
        logger_factory=lambda *args: sink,
        cache_logger_on_first_use=False,
    )
    logger: FilteringBoundLogger = structlog.get_logger().bind(process=process, pid=os.getpid())
    return LogSetup(logger=logger, levels=levels, file=file, sink=sink)


def configure_logging(process: str, level: str = "info") -> FilteringBoundLogger:
    """Console-only logging (tools and tests); see :func:`setup_logging`."""
    return setup_logging(process, level).logger
