"""Timers and watched descriptors of one actor (pure core: the runtime polls, this decides).

``self.enlil.call_later`` and ``self.enlil.watch`` land here. The runtime
polls the watched descriptors with its sockets and wakes up for the next
timer; what is due is run by the engine like a step (recorded, its outputs
published).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class Timer:
    """A callback due at a monotonic time (``self.enlil.call_later``); ``cancel()`` it."""

    __slots__ = ("_order", "callback", "cancelled", "when")

    def __init__(self, when: float, order: int, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self._order = order

    def cancel(self) -> None:
        """Do not run the callback (a no-op when it has run already)."""
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.when, self._order) < (other.when, other._order)


#: Callbacks for one watched file descriptor: ``(on_readable, on_writable)``.
Watch = tuple[Callable[[], None] | None, Callable[[], None] | None]


class Schedule:
    """The actor's timers (a heap) and watched descriptors (``watch_version`` counts changes)."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self.timers: list[Timer] = []
        self._order = itertools.count()
        #: File descriptors the actor watches: fd -> (on_readable, on_writable).
        self.watched: dict[int, Watch] = {}
        self.watch_version = 0

    def watch(
        self,
        fd: int,
        on_readable: Callable[[], None] | None = None,
        on_writable: Callable[[], None] | None = None,
    ) -> None:
        """Call *on_readable* / *on_writable* when *fd* is ready (``self.enlil.watch``).

        The runtime polls the descriptor together with the actor's sockets, so
        the actor neither blocks nor spins. Calling it again replaces the
        callbacks (say, to ask for writability only while there is something
        to write); with neither callback, the descriptor is no longer watched.
        Stop watching a descriptor before closing it.
        """
        if on_readable is None and on_writable is None:
            if self.watched.pop(fd, None) is None:
                return
        else:
            if self.watched.get(fd) == (on_readable, on_writable):
                return
            self.watched[fd] = (on_readable, on_writable)
        self.watch_version += 1

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run *callback* once, *delay* seconds from now (``self.enlil.call_later``)."""
        timer = Timer(self._monotonic() + max(0.0, delay), next(self._order), callback)
        heapq.heappush(self.timers, timer)
        return timer

    def next_due(self) -> float | None:
        """When the next timer is due, or None."""
        return self.timers[0].when if self.timers else None

    def pop_due(self) -> Callable[[], None] | None:
        """The callback of the next due, live timer (removed), or None when none is due."""
        now = self._monotonic()
        timers = self.timers
        while timers and timers[0].when <= now:
            timer = heapq.heappop(timers)
            if not timer.cancelled:
                return timer.callback
        return None
