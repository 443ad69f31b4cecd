"""Requests in flight and replies already given: ids, deadlines, resends, duplicates (pure core).

Both ends of a request over pub/sub use these. The asking side keeps a
:class:`RequestTracker`: each request gets a fresh id and a deadline, is sent
again every ``retry`` seconds until answered (a subscription may still be on
its way) and expires at its deadline (the asker schedules both). The answering side keeps a
:class:`ReplyCache`: a repeated id is answered with the first reply, never
served twice (the one reply cache of the project: a service's replies in the engine, an
actor's and the zygote's answers to the supervisor, the supervisor's answers to actors'
control calls). The clock is the
caller's: nothing here reads time.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class Pending(Generic[T]):
    """One request waiting for its reply."""

    id: int
    context: T
    deadline: float


class RequestTracker(Generic[T]):
    """Requests sent and not yet answered, each with what the asker needs back (*context*)."""

    def __init__(self, retry: float) -> None:
        self.retry = retry
        self._ids = itertools.count(1)
        self._pending: dict[int, Pending[T]] = {}

    def open(self, context: T, now: float, timeout: float) -> int:
        """A new request; returns its id (the caller sends it now)."""
        rid = next(self._ids)
        self._pending[rid] = Pending(rid, context, now + timeout)
        return rid

    def next_id(self) -> int:
        """An id for a request that is sent once and not tracked (it never collides)."""
        return next(self._ids)

    def close(self, rid: Any) -> T | None:
        """The reply to *rid* came: its context, or None if unknown, answered or expired."""
        if type(rid) is not int:
            return None
        pending = self._pending.pop(rid, None)
        return pending.context if pending is not None else None

    def get(self, rid: int) -> Pending[T] | None:
        """The request *rid* if it is still waiting."""
        return self._pending.get(rid)

    def __len__(self) -> int:
        return len(self._pending)


class ReplyCache(Generic[T]):
    """The last *size* replies by request id: a repeated request gets the same answer."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._replies: OrderedDict[Any, T] = OrderedDict()

    def get(self, rid: Any) -> T | None:
        """The reply already given to *rid*, if any."""
        return self._replies.get(rid)

    def put(self, rid: Any, reply: T) -> None:
        """Remember *reply* to *rid*, as the newest (the oldest is forgotten past *size*)."""
        self._replies[rid] = reply
        self._replies.move_to_end(rid)
        while len(self._replies) > self.size:
            self._replies.popitem(last=False)

    def items(self) -> list[tuple[Any, T]]:
        """Every reply kept, oldest first (a hot swap hands them to the new version)."""
        return list(self._replies.items())

    def __len__(self) -> int:
        return len(self._replies)
