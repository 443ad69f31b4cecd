"""What the OTLP exporters' failures say, once (shell: the OpenTelemetry SDK's logging).

The SDK's exporters log every retry and every failed batch through the standard
``logging`` module; with no handler of ours they reach standard error as plain
text, about ten lines a second per process while a collector is away, and never
the JSON log. :class:`ExportHealth` takes those records instead and turns them
into one structured warning when exporting starts to fail (naming the endpoint
and the SDK's last words) and one line when an export succeeds again; every
exporter made by :func:`watched` tells it how each export went.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

import structlog

#: The SDK's loggers whose records are taken (the exporters' retries and failures).
SDK_LOGGER: Final = "opentelemetry.exporter"


class ExportHealth(logging.Handler):
    """Failing or healthy, for one process's exporters; said once per change."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(logging.WARNING)
        self.endpoint = endpoint
        self.failing = False
        self.failures = 0
        self.last = ""
        self._lock_state = threading.Lock()
        self.log = structlog.get_logger()

    def emit(self, record: logging.LogRecord) -> None:
        """A record of the SDK's exporters: remembered; the first of a failure said."""
        try:
            self.last = record.getMessage()[:500]
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is not news
            self.last = str(record.msg)[:500]
        self._failed("")

    def exported(self, signal: str, ok: bool) -> None:
        """An exporter's export of *signal* ended (*ok*: the collector took it)."""
        if ok:
            with self._lock_state:
                was, self.failing = self.failing, False
                failures, self.failures = self.failures, 0
            if was:
                self.log.info(
                    "OTLP export recovered", endpoint=self.endpoint, signal=signal, failed=failures
                )
        else:
            self._failed(signal)

    def _failed(self, signal: str) -> None:
        with self._lock_state:
            self.failures += 1
            first, self.failing = not self.failing, True
        if first:
            self.log.warning(
                "OTLP export failing; retrying quietly until it recovers",
                endpoint=self.endpoint,
                signal=signal or None,
                error=self.last or None,
            )


def install(endpoint: str) -> ExportHealth:
    """Take the SDK exporters' log records in this process (once; the same handler after)."""
    sdk = logging.getLogger(SDK_LOGGER)
    for handler in sdk.handlers:
        if isinstance(handler, ExportHealth):
            return handler
    health = ExportHealth(endpoint)
    sdk.addHandler(health)
    sdk.propagate = False  # never the root logger's plain text on standard error
    return health


def watched(exporter_cls: type, health: ExportHealth, signal: str) -> type:
    """A subclass of *exporter_cls* that tells *health* how each export went."""

    def export(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = getattr(exporter_cls, "export")(self, *args, **kwargs)  # noqa: B009 - typed as type
        health.exported(signal, getattr(result, "name", "") == "SUCCESS")
        return result

    return type(f"Watched{exporter_cls.__name__}", (exporter_cls,), {"export": export})
