"""A HAL actor's callbacks: watched file descriptors and timers, run like steps (pure core).

``self.enlil.watch`` and ``self.enlil.call_later`` register callbacks in the engine's
:class:`~actors.core.schedule.Schedule`; the runtime polls the watched descriptors with
its sockets and hands what is ready to :meth:`Callbacks.io_ready`, and the engine's tick
runs the timers that are due (:meth:`Callbacks.run_timers`). Each callback is recorded
in the flight recorder and publishes what it assigned and sent, as a step does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.core.engine_calls import Outgoing
from actors.core.schedule import Schedule


class Callbacks:
    """Runs one engine's IO and timer callbacks."""

    def __init__(
        self,
        schedule: Schedule,
        *,
        record: Callable[[tuple[Any, ...]], None],
        context: Any,
        now: Callable[[], float],
        flush: Callable[[], list[Outgoing]],
    ) -> None:
        self.schedule = schedule
        self._record = record
        self._context = context
        self._now = now
        self._flush = flush

    def run_timers(self) -> list[Outgoing]:
        """Run the timers that are due; what they published."""
        out: list[Outgoing] = []
        while (callback := self.schedule.pop_due()) is not None:
            out += self.run("timer", callback)
        return out

    def io_ready(self, fd: int, readable: bool, writable: bool) -> list[Outgoing]:
        """Run the watch callbacks of *fd* for what the poll found; what they published."""
        watched = self.schedule.watched
        entry = watched.get(fd)
        if entry is None:
            return []
        on_readable, on_writable = entry
        out: list[Outgoing] = []
        if readable and on_readable is not None:
            out += self.run("io", on_readable)
        if writable and on_writable is not None and watched.get(fd) == entry:
            out += self.run("io", on_writable)
        return out

    def run(self, kind: str, callback: Callable[[], None]) -> list[Outgoing]:
        """Run an IO or timer *callback* like a step: recorded, its outputs published."""
        name = getattr(callback, "__qualname__", None) or repr(callback)
        self._record((kind, self._now(), name))
        context = self._context
        context.trigger = context.topic = None
        callback()
        return self._flush()
