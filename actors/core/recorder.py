"""The flight recorder: the last events of an actor and checkpoints of its memory (pure core).

Every event (a message, a tick, a timer, start, stop) is kept as a plain
tuple of the :class:`~actors.core.snapshot.Event` fields: that costs a few
hundred nanoseconds whatever the actor holds. The actor's memory (State,
Inputs, Outputs) is captured at *checkpoints*, and how often depends on how
much there is to copy, so that the cost per event stays bounded however large
the memory grows:

* a memory of immutable values and small containers (up to
  :data:`BYTES_PER_EVENT` packed bytes) is captured before every event, so
  the memory just before any recorded event is known (the failing event's
  among them, for ``replay --last``);
* a larger memory is captured every ``packed bytes / BYTES_PER_EVENT``
  events (a 10,000-entry dict: every ~7,400 events), and the window grows to
  reach back to a checkpoint: a replay restores the checkpoint and feeds
  every event since, which rebuilds the memory before the failing event
  exactly.

The decision is a function of the packed size of the capture, not of a
clock, so the same actor fed the same events records the same window.

The window is bounded by bytes too (*max_bytes*, the messages' envelopes
counted): past it, the oldest events go, a checkpoint's worth at a time, so
that a few huge payloads cannot grow an actor without limit.
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Callable
from typing import Any, Final, Generic, Protocol, TypeVar

from actors.core.snapshot import Event

#: Packed bytes of memory a checkpoint may copy per event recorded since the previous one.
BYTES_PER_EVENT: Final = 8
#: Events between two checkpoints, at most.
MAX_INTERVAL: Final = 100_000
#: Bytes of recorded events kept at most, by default (64 MiB).
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
_REWEIGH: Final = 16
#: The index of the first event after ``start``: memories are usually filled by on_start.
_AFTER_START: Final = 1

C = TypeVar("C")


class Memory(Protocol[C]):
    """What the recorder needs of an actor's memory (:class:`actors.core.memory.Memory`)."""

    def capture(self) -> C:
        """Copy the memory now."""

    def weigh(self, capture: C) -> int:
        """How many bytes *capture* copied (what the next checkpoint costs)."""

    def thaw(self, capture: C) -> dict[str, Any]:
        """*capture* back as ``{state, inputs, outputs}``."""


class FlightRecorder(Generic[C]):
    """A window of at least the last *size* events (at most *max_bytes* of them), from a
    checkpoint of the *memory* on.

    An event is recorded as the caller has it at hand (a received message as
    its arrival time and frames, decoded only if a snapshot is taken);
    *expand* turns it into an :class:`Event`.
    """

    def __init__(
        self,
        size: int,
        memory: Memory[C],
        expand: Callable[[tuple[Any, ...]], Event] = lambda event: Event(*event),
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.size = size
        self.max_bytes = max_bytes
        capture, weigh, thaw = memory.capture, memory.weigh, memory.thaw
        #: Bytes of every message recorded so far (an event's last field, when it is
        #: bytes); each checkpoint notes the total at its event, so the window's bytes
        #: are a subtraction (:attr:`bytes`) and dropping events costs no count.
        self._total = 0
        #: The total past which the window holds more than max_bytes (its oldest
        #: checkpoint's total plus max_bytes), kept so a message costs one comparison.
        self._shed_at: float = math.inf
        self._capture = capture
        self._weigh = weigh
        self._thaw = thaw
        self._expand = expand
        # With size 0 nothing is kept: no checkpoint is ever due, and a deque of
        # length 0 drops what is appended.
        self._events: collections.deque[tuple[Any, ...]] = collections.deque(
            maxlen=None if size else 0
        )
        #: (index of the event the capture was taken before, capture, bytes recorded
        #: before it), oldest first. The window starts at the oldest.
        self._checkpoints: collections.deque[tuple[int, C, int]] = collections.deque()
        #: Index of the oldest event in the window; events recorded so far.
        self._first = 0
        self._count = 0
        #: Index of the newest event recorded whole (not aside).
        self._last_whole = -1
        self._next_checkpoint = 0 if size else MAX_INTERVAL**3
        #: Events between two checkpoints (1: a capture before every event).
        self.interval = 1

    def record(self, event: tuple[Any, ...]) -> None:
        """Remember *event*; capture the memory first when a checkpoint is due."""
        count = self._count
        if count >= self._next_checkpoint:
            self._checkpoint(count)
        self._events.append(event)
        self._count = count + 1
        self._last_whole = count
        last = event[-1]
        if type(last) is bytes:  # a message: its envelope counts
            self._total += len(last)
            if self._total > self._shed_at:
                self._shed()

    def record_aside(self, event: tuple[Any, ...]) -> None:
        """Remember *event* without taking a checkpoint before it: it happened inside
        another event's handling (a call's outcome in the middle of a step), where the
        memory is half-changed. Windows still start at a checkpoint, before a whole event."""
        if not self.size:
            return
        self._events.append(event)
        self._count += 1

    def record_message(self, now_ns: int, topic: bytes, envelope: bytes) -> None:
        """:meth:`record` of a received message, as its arrival time and frames (the
        engine's hot path: no tuple to look into)."""
        count = self._count
        if count >= self._next_checkpoint:
            self._checkpoint(count)
        self._events.append((now_ns, topic, envelope))
        self._count = count + 1
        self._last_whole = count
        total = self._total = self._total + len(envelope)
        if total > self._shed_at:
            self._shed()

    def _rebase(self) -> None:
        """The oldest checkpoint changed: where the byte bound now lies."""
        checkpoints = self._checkpoints
        self._shed_at = checkpoints[0][2] + self.max_bytes if checkpoints else math.inf

    @property
    def bytes(self) -> int:
        """Bytes of the messages in the window."""
        return self._total - self._checkpoints[0][2] if self._checkpoints else 0

    def _drop_until(self, start: int) -> None:
        """Drop the events before index *start* (in one copy of the rest, not one by one)."""
        dropping = start - self._first
        if dropping == 1:
            self._events.popleft()
        elif dropping > 1:
            self._events = collections.deque(
                itertools.islice(self._events, dropping, None), maxlen=self._events.maxlen
            )
        self._first = start

    def _shed(self) -> None:
        """Over *max_bytes*: drop the oldest events up to the next checkpoint, while one is
        left (the window always starts at a checkpoint)."""
        checkpoints = self._checkpoints
        while self._total - checkpoints[0][2] > self.max_bytes and len(checkpoints) > 1:
            checkpoints.popleft()
            self._drop_until(checkpoints[0][0])
        self._rebase()

    def _checkpoint(self, index: int) -> None:
        capture = self._capture()
        self._checkpoints.append((index, capture, self._total))
        if len(self._checkpoints) == 1:
            self._rebase()
        # Weighing costs a pass over the capture: while every event gets one, the
        # second (after on_start, where memories are usually filled) and then one in
        # sixteen are enough to notice the memory growing.
        interval = self.interval
        if interval > 1 or index <= _AFTER_START or not index % _REWEIGH:
            weight = self._weigh(capture)
            interval = self.interval = min(MAX_INTERVAL, max(1, -(-weight // BYTES_PER_EVENT)))
        self._next_checkpoint = index + interval
        if index - self._first >= self.size:
            if interval == 1 and len(self._checkpoints) > self.size:
                # The common case, a capture before every event: the window slides by one
                # (by more when events recorded aside follow the oldest).
                self._checkpoints.popleft()
                self._drop_until(self._checkpoints[0][0])
                self._rebase()
            else:
                self._trim(index)

    def _trim(self, index: int) -> None:
        """Drop what no window needs: events before the newest checkpoint that still
        leaves at least *size* events after it (counting the event at *index*)."""
        keep_from = index + 1 - self.size
        checkpoints = self._checkpoints
        while len(checkpoints) > 1 and checkpoints[1][0] <= keep_from:
            checkpoints.popleft()
        self._drop_until(checkpoints[0][0])
        self._rebase()

    def events(self) -> list[Event]:
        """The recorded events, oldest first."""
        return [self._expand(event) for event in self._events]

    def initial(self) -> dict[str, Any] | None:
        """Memory before the oldest recorded event, or None when nothing is recorded."""
        if not self._checkpoints:
            return None
        return self._thaw(self._checkpoints[0][1])

    def last_memory(self) -> dict[str, Any] | None:
        """Memory before the newest recorded event, when a checkpoint was taken right then;
        None otherwise (a replay rebuilds it from :meth:`initial` and the events)."""
        if not self._checkpoints or self._checkpoints[-1][0] != self._last_whole:
            return None
        return self._thaw(self._checkpoints[-1][1])

    @property
    def asides_after_last(self) -> int:
        """Events recorded aside after the newest whole one (a failing step's call outcomes)."""
        return self._count - 1 - self._last_whole if self._last_whole >= 0 else 0

    def __len__(self) -> int:
        return len(self._events)
