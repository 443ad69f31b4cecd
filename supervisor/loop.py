"""The supervisor's event loop: one ``zmq.Poller`` and a heap of timers (shell).

Every other part of the supervisor registers what it reads (a socket, a
pidfd, the signal wakeup fd) with a handler and a priority, and schedules
its timeouts with :meth:`EventLoop.after`. Nothing sleeps: a turn polls
until the next timer is due (at most a second), then runs the handlers of
what is ready, highest priority first: signals, then the broker's messages
(an actor's last words come before its exit), then exits, then control
requests, so that heartbeats and exits are seen before requests in a turn.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Final

import zmq

_MAX_WAIT: Final = 1.0


class Priority(IntEnum):
    """Which ready handlers run first in one turn (lower runs first)."""

    SIGNAL = 0
    BROKER = 1
    EXIT = 2
    CONTROL = 3


class EventLoop:
    """Poller and timers; :meth:`turn` runs one round, :meth:`run` until told to stop."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._poller = zmq.Poller()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._tick = itertools.count()
        #: What is registered: socket or fd -> (priority, handler).
        self._handlers: dict[Any, tuple[int, Callable[[], None]]] = {}

    def after(self, delay: float, fn: Callable[[], None]) -> None:
        """Run *fn* once, *delay* seconds from now, from the loop."""
        heapq.heappush(self._timers, (self.clock() + delay, next(self._tick), fn))

    def watch(self, source: Any, handler: Callable[[], None], priority: Priority) -> None:
        """Call *handler* whenever *source* (a socket or a descriptor) is readable."""
        self._handlers[source] = (priority, handler)
        self._poller.register(source, zmq.POLLIN)

    def unwatch(self, source: Any) -> None:
        """Stop watching *source* (nothing happens if it was not watched)."""
        if self._handlers.pop(source, None) is not None:
            self._poller.unregister(source)

    def run_timers(self) -> float:
        """Run due timers; return seconds until the next one (at most a second)."""
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            heapq.heappop(self._timers)[2]()
            now = self.clock()
        return min(_MAX_WAIT, self._timers[0][0] - now) if self._timers else _MAX_WAIT

    def turn(self) -> None:
        """Run due timers, wait for readiness (not past the next timer) and dispatch."""
        wait = self.run_timers()
        ready = self._poller.poll(max(1, int(wait * 1000)))
        due = sorted(
            (self._handlers[source] for source, _ in ready if source in self._handlers),
            key=lambda entry: entry[0],
        )
        for entry in due:
            # A handler may unwatch another source in this turn (and a new child may
            # reuse a closed descriptor's number): run only what is still registered.
            if entry in self._handlers.values():
                entry[1]()

    def run(self, done: Callable[[], bool]) -> None:
        """Turn until *done* says so (checked after the timers of each turn)."""
        while True:
            self.turn()
            if done():
                return
