"""Logging set-up shared by every enlil process: structlog to stderr (shell)."""

from __future__ import annotations

import logging
import os
import sys

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def configure_logging(process: str, level: str = "info") -> structlog.typing.FilteringBoundLogger:
    """Configure structlog for this process and return a logger bound with its name and pid.

    Output is human-readable on a terminal and JSON lines otherwise, so that a
    supervisor's captured output stays machine-readable.
    """
    renderer: structlog.typing.Processor
    if sys.stderr.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=True)
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),  # one write per line
        cache_logger_on_first_use=False,
    )
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger().bind(
        process=process, pid=os.getpid()
    )
    return logger
