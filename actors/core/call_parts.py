"""The parts of a call in flight: its result to come, its declared line, its counters (pure core).

:class:`Pending` is what a call returns at once; :class:`CallLine` is one
declared Call of one actor with the state machines every call of it shares
(see :mod:`actors.core.caller` and :mod:`actors.core.invocation`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Final

from actors.core.calls import SERVICE_PREFIX, CallError
from actors.core.resilience import BulkheadState, CircuitBreaker, Policy, TokenBucket
from actors.core.services import Call

#: The first resend of an unanswered request (a subscription may still be on its way
#: to the caller's socket), doubling up to :data:`RESEND_MAX`.
RESEND_FIRST: Final = 0.05
RESEND_MAX: Final = 1.0
#: Ids of timed-out attempts remembered, to count their replies as late.
LATE_IDS: Final = 4096
#: The counters of a call line, in order.
CALL_COUNTERS: Final = (
    "calls",
    "ok",
    "failed",
    "attempts",
    "retries",
    "resent",
    "timeouts",
    "late",
    "no_responders",
    "server_gone",
    "remote",
    "rejected",
    "circuit_open",
    "rate_limited",
    "bulkhead_full",
    "unavailable",
    "fallbacks",
)
#: The counter of each error kind.
COUNTER_OF: Final = {
    "timeout": "timeouts",
    "no_responders": "no_responders",
    "server_gone": "server_gone",
    "remote": "remote",
    "rejected": "rejected",
    "circuit_open": "circuit_open",
    "rate_limited": "rate_limited",
    "bulkhead_full": "bulkhead_full",
    "unavailable": "unavailable",
}


class Pending:
    """The result of a call to come: :attr:`done`, then :meth:`result` (the reply, or the
    CallError raised). A *callback* given to ``start`` gets this object between steps."""

    __slots__ = ("call", "callback", "done", "error", "value")

    def __init__(self, call: str, callback: Callable[[Pending], None] | None) -> None:
        self.call = call
        self.callback = callback
        self.done = False
        self.value: Any = None
        self.error: CallError | None = None

    def result(self) -> Any:
        """The reply; raises the call's CallError, or RuntimeError while not done."""
        if not self.done:
            raise RuntimeError(f"call {self.call!r} is still in flight")
        if self.error is not None:
            raise self.error
        return self.value

    def __repr__(self) -> str:
        state = "pending" if not self.done else ("error" if self.error else "ok")
        return f"<Pending {self.call} {state}>"


class CallLine:
    """One declared Call of one actor: its policy and what every call of it shares."""

    def __init__(self, decl: Call, policy: Policy, timeout: float, caller: str = "") -> None:
        self.decl = decl
        self.policy = policy
        self.timeout = timeout
        self.service = decl.service
        self.topic = (SERVICE_PREFIX + decl.service).encode()
        b = policy.breaker
        self.breaker = CircuitBreaker(b) if b is not None else None
        r = policy.rate_limit
        self.bucket = TokenBucket(r.rate, r.burst) if r is not None else None
        k = policy.bulkhead
        self.bulkhead = BulkheadState(k.max_in_flight) if k is not None else None
        self.counts = dict.fromkeys(CALL_COUNTERS, 0)
        #: Where the round robin over a group's servers starts: a number of the caller's
        #: own, so that callers started together do not all pick the same server at once.
        self._next_server = zlib.crc32(f"{caller}/{decl.name}".encode())

    def pick(self, servers: tuple[str, ...]) -> str:
        """The server of the next attempt: round robin over the live ones."""
        self._next_server += 1
        return servers[self._next_server % len(servers)]

    def statistics(self) -> dict[str, Any]:
        """The counters, and the breaker's state when there is one."""
        out: dict[str, Any] = {"service": self.decl.service, **self.counts}
        if self.breaker is not None:
            out["breaker"] = str(self.breaker.state)
            out["breaker_opened"] = self.breaker.opened
        if self.bulkhead is not None:
            out["in_flight"] = self.bulkhead.in_flight
        return out
