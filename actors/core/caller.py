"""The calling side of request/reply: calls in flight through their policies (pure core).

:class:`Calls` keeps, for one actor, a :class:`CallLine` per declared Call
(its policy and the state machines shared by every call of it: breaker,
token bucket, bulkhead, counters) and the :class:`Invocation` of every call in
flight. An invocation goes through the parts of its policy in the order of
:mod:`actors.core.resilience` and ends as a value or a
:class:`~actors.core.calls.CallError` in its :class:`Pending`.

Nothing here reads a clock or touches a socket: the engine gives the times
and sends what :attr:`Calls.emit` is handed; the runtime (or the harness)
delivers replies and the supervisor's directory of live servers.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from typing import Any, Final

from actors.core.calls import (
    REPLY_PREFIX,
    SERVICE_PREFIX,
    BulkheadFull,
    CallError,
    CallReply,
    CallTimeout,
    CircuitOpen,
    NoResponders,
    RateLimited,
    Rejected,
    ServerGone,
    decode_error,
    request_payload,
)
from actors.core.resilience import (
    BreakerState,
    BulkheadState,
    CircuitBreaker,
    Policy,
    TokenBucket,
)
from actors.core.services import Call

#: The first resend of an unanswered request (a subscription may still be on its way
#: to the caller's socket), doubling up to :data:`RESEND_MAX`.
RESEND_FIRST: Final = 0.05
RESEND_MAX: Final = 1.0
#: Ids of timed-out attempts remembered, to count their replies as late.
_LATE_IDS: Final = 4096
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
_COUNTER: Final = {
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

    def __init__(self, decl: Call, policy: Policy, timeout: float) -> None:
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
        self._next_server = 0

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


class Invocation:
    """One call from its first attempt to its result."""

    __slots__ = (
        "attempt",
        "attempt_end",
        "began_ns",
        "body",
        "calls",
        "deadline",
        "key",
        "line",
        "pending",
        "resend_at",
        "resend_every",
        "retry_at",
        "rid",
        "sent_at",
        "span",
        "started",
        "to",
        "trace",
    )

    def __init__(
        self,
        calls: Calls,
        line: CallLine,
        body: Any,
        key: int | str,
        deadline: float,
        result: Pending,
    ) -> None:
        self.calls = calls
        self.line = line
        self.body = body
        self.key = key
        self.deadline = deadline
        self.pending = result
        self.attempt = 0
        #: The attempt waiting for its reply: its id, server, start, end and next resend.
        self.rid = 0
        self.to: str | None = None
        self.sent_at = 0.0
        self.attempt_end = 0.0
        self.resend_at = 0.0
        self.resend_every = RESEND_FIRST
        #: Waiting to retry until then (0: not backing off).
        self.retry_at = 0.0
        #: When the call began (the actor's monotonic clock, and its wall clock in ns).
        self.started = 0.0
        self.began_ns = 0
        #: The call's span (when traced) and its traceparent, carried by every attempt.
        self.span: Any = None
        self.trace: str | None = None

    def due(self) -> float:
        """When this invocation next needs :meth:`tick`."""
        if self.rid:
            return min(self.attempt_end, self.resend_at)
        return min(self.retry_at, self.deadline) if self.retry_at else self.deadline

    def start_attempt(self, now: float) -> None:
        """Try once, through the breaker, the rate limit and the bulkhead."""
        calls, line = self.calls, self.line
        self.retry_at = 0.0
        self.attempt += 1  # every try counts against retry.attempts, sent or refused
        if now >= self.deadline:
            self.line.counts["timeouts"] += 1
            self.finish(CallTimeout(f"{line.decl.service}: the deadline passed"), now)
            return
        directory = calls.directory
        servers = None if directory is None else directory.get(line.service, ())
        if servers == ():
            self.failed(NoResponders(f"no live actor serves {line.decl.service!r}"), now)
            return
        breaker = line.breaker
        if breaker is not None:
            wait = breaker.allow(now)
            if breaker.transitions:
                calls.note_transitions(line)
            if wait is not None:
                self.failed(
                    CircuitOpen(f"{line.decl.service}: circuit open", retry_after=wait), now
                )
                return
        if line.bucket is not None:
            wait = line.bucket.take(now)
            if wait is not None:
                if breaker is not None:
                    breaker.release()
                self.failed(
                    RateLimited(f"{line.decl.service}: rate limit spent", retry_after=wait), now
                )
                return
        if line.bulkhead is not None and not line.bulkhead.enter():
            if breaker is not None:
                breaker.release()
            limit = line.bulkhead.limit
            self.failed(BulkheadFull(f"{line.decl.service}: {limit} calls in flight"), now)
            return
        line.counts["attempts"] += 1
        self.to = (servers[0] if len(servers) == 1 else line.pick(servers)) if servers else None
        calls._next_id += 1
        self.rid = rid = calls._next_id
        calls.by_id[rid] = self
        self.sent_at = now
        timeout = line.policy.timeout
        self.attempt_end = min(self.deadline, now + timeout) if timeout else self.deadline
        self.resend_every = RESEND_FIRST
        self.resend_at = now + RESEND_FIRST
        self.send(now)

    def send(self, now: float) -> None:
        """Send (or resend) the waiting attempt's request."""
        deadline_ns = self.calls.wall_ns() + int((self.attempt_end - now) * 1e9)
        payload = request_payload(self.rid, deadline_ns, self.key, self.to, self.body)
        self.calls.emit(self.line.topic, payload, self.trace)

    def tick(self, now: float) -> None:
        """Resend, time out, or retry, as due."""
        if self.rid:
            if now >= self.attempt_end:
                self.calls.remember_late(self.rid, self.line)
                error = CallTimeout(
                    f"{self.line.decl.service}: no reply within "
                    f"{self.attempt_end - self.sent_at:.3g}s"
                    + (f" from {self.to}" if self.to else "")
                )
                self.end_attempt(now, error)
            elif now >= self.resend_at:
                self.line.counts["resent"] += 1
                self.resend_every = min(RESEND_MAX, self.resend_every * 2)
                self.resend_at = now + self.resend_every
                self.send(now)
        elif self.retry_at and now >= self.retry_at:
            self.start_attempt(now)
        elif now >= self.deadline:
            self.line.counts["timeouts"] += 1
            self.finish(CallTimeout(f"{self.line.decl.service}: the deadline passed"), now)

    def end_attempt(self, now: float, error: CallError | None, value: Any = None) -> None:
        """The waiting attempt ended: with *value* (no *error*) or *error*."""
        line = self.line
        self.calls.by_id.pop(self.rid, None)
        self.rid = 0
        if line.bulkhead is not None:
            line.bulkhead.leave()
        breaker = line.breaker
        if breaker is not None and not isinstance(error, Rejected):
            breaker.record(now, error is not None, now - self.sent_at)
            if breaker.transitions:
                self.calls.note_transitions(line)
        if error is None:
            self.finish(None, now, value)
        else:
            self.failed(error, now)

    def failed(self, error: CallError, now: float) -> None:
        """An attempt failed: retry if the policy says so and time is left, else finish."""
        line = self.line
        line.counts[_COUNTER.get(error.kind, "remote")] += 1
        retry = line.policy.retry
        if (
            retry is not None
            and self.attempt < retry.attempts
            and (error.kind in retry.on if retry.on else error.retryable)
        ):
            rng = self.calls.rng
            assert rng is not None  # made for every actor with a Call
            wait = retry.delay(self.attempt - 1, error.retry_after, rng)
            if now + wait < self.deadline:
                line.counts["retries"] += 1
                self.retry_at = now + wait
                return
        self.finish(error, now)

    def finish(self, error: CallError | None, now: float, value: Any = None) -> None:
        """The call's result: *value*, or *error* (after the fallback, if any applies)."""
        line, pending = self.line, self.pending
        self.calls.invocations.discard(self)
        if self.calls.on_finish is not None:  # the flight recorder: what replay gives back
            self.calls.on_finish(self, error, value)
        if self.rid:
            self.calls.by_id.pop(self.rid, None)
            self.rid = 0
            if line.bulkhead is not None:
                line.bulkhead.leave()
        fallback = line.policy.fallback
        if (
            error is not None
            and fallback is not None
            and (error.kind in fallback.on if fallback.on else True)
        ):
            line.counts["fallbacks"] += 1
            try:
                value = self.calls.fall_back(line, fallback, self.body, error)
                error = None
            except CallError as exc:
                error = exc
        line.counts["ok" if error is None else "failed"] += 1
        pending.done = True
        pending.value, pending.error = value, error
        if self.span is not None and self.calls.end_span is not None:
            self.calls.end_span(self.span, error)
        if pending.callback is not None:
            self.calls.ready.append(pending)


class Calls:
    """The calls of one actor: its call lines, the invocations in flight, the directory."""

    def __init__(
        self,
        caller: str,
        lines: dict[str, CallLine],
        *,
        monotonic: Callable[[], float],
        wall_ns: Callable[[], int],
        emit: Callable[[bytes, Any, str | None], None],
        fall_back: Callable[..., Any],
        seed: int | None,
        log: Any,
    ) -> None:
        self.caller = caller
        self.lines = lines
        self.reply_topic = (REPLY_PREFIX + caller).encode()
        self.monotonic = monotonic
        self.wall_ns = wall_ns
        #: Send a request: ``emit(topic frame, payload, traceparent or None)``.
        self.emit = emit
        #: Ends a traced call's span, with its error if it failed (set by the engine).
        self.end_span: Callable[[Any, CallError | None], None] | None = None
        #: Told of every call's outcome before its fallback (the engine records it).
        self.on_finish: Callable[[Invocation, CallError | None, Any], None] | None = None
        #: In a replay: the recorded outcomes of each call, ``(ok, value or error map)``,
        #: given back in order instead of calling anyone (None: calls go out).
        self.replaying: dict[str, collections.deque[tuple[bool, Any]]] | None = None
        self.fall_back = fall_back
        self.log = log
        # Ids start at a random point, so that a restarted caller never takes a late
        # reply to its previous incarnation for one of its own; idempotency keys too (a
        # restarted caller's retries must not meet the replies its previous incarnation
        # left in a server's cache). An actor that calls nothing makes no generator.
        self.rng: random.Random | None = random.Random(seed) if lines else None
        self._next_id = self.rng.randrange(1, 2**48) if self.rng else 0
        self._next_key = self.rng.randrange(1, 2**48) if self.rng else 0
        self.by_id: dict[int, Invocation] = {}
        self.invocations: set[Invocation] = set()
        #: Timed-out attempts whose reply may still come (then counted as late).
        self._late: collections.OrderedDict[int, CallLine] = collections.OrderedDict()
        #: Live servers by service, from the supervisor; None until it has said.
        self.directory: dict[str, tuple[str, ...]] | None = None
        #: Completed calls whose callback is still to run (between steps).
        self.ready: list[Pending] = []
        #: The deadline of the request being served now (wall ns): nested calls inherit it.
        self.budget_ns: int | None = None
        #: Breaker transitions not yet reported: (call, from, to, why).
        self.transitions: list[tuple[str, str, str, str]] = []
        #: Replies that matched no call in flight (answers to resends, or stray).
        self.stray = 0

    def new_id(self) -> int:
        """A fresh correlation id."""
        self._next_id += 1
        return self._next_id

    def servers(self, service: str) -> tuple[str, ...] | None:
        """The live servers of *service*; None when the directory is not known yet."""
        if self.directory is None:
            return None
        return self.directory.get(service, ())

    def start(
        self,
        line: CallLine,
        body: Any,
        *,
        timeout: float | None,
        key: int | str | None,
        callback: Callable[[Pending], None] | None,
        span: Any = None,
        trace: str | None = None,
    ) -> tuple[Pending, Invocation | None]:
        """Begin a call; its first attempt goes out now (or it fails at once)."""
        line.counts["calls"] += 1
        pending = Pending(line.decl.name, callback)
        try:
            body = line.decl.check_request(body)
        except TypeError as exc:
            line.counts["rejected"] += 1
            line.counts["failed"] += 1
            pending.done, pending.error = True, Rejected(f"{line.decl.name}: request {exc}")
            if span is not None and self.end_span is not None:
                self.end_span(span, pending.error)
            if callback is not None:
                self.ready.append(pending)
            return pending, None
        now = self.monotonic()
        deadline = now + (timeout if timeout is not None else line.timeout)
        if self.budget_ns is not None:  # serving a request: never past its deadline
            deadline = min(deadline, now + (self.budget_ns - self.wall_ns()) / 1e9)
        if key is None:
            self._next_key += 1
            key = self._next_key
        invocation = Invocation(self, line, body, key, deadline, pending)
        invocation.span, invocation.trace, invocation.started = span, trace, now
        invocation.began_ns = self.wall_ns()
        self.invocations.add(invocation)
        if self.replaying is not None:
            self._replayed(invocation, now)
        else:
            invocation.start_attempt(now)
        return pending, invocation

    def replay(self, outcomes: list[tuple[str, bool, Any]]) -> None:
        """Give back these recorded outcomes ``(call, ok, value or error map)``, in order per
        call, instead of calling anyone; callbacks then run when :meth:`next_callback` says."""
        self.replaying = {}
        for name, ok, body in outcomes:
            self.replaying.setdefault(name, collections.deque()).append((ok, body))

    def _replayed(self, invocation: Invocation, now: float) -> None:
        assert self.replaying is not None
        name = invocation.line.decl.name
        queue = self.replaying.get(name)
        if not queue:
            self.invocations.discard(invocation)
            raise RuntimeError(
                f"replay: the snapshot holds no outcome for call {name!r} (was it made "
                "before the recorded window?)"
            )
        ok, body = queue.popleft()
        invocation.attempt = 1
        if ok:
            invocation.finish(None, now, body)
        else:
            invocation.finish(decode_error(body), now)

    def next_callback(self) -> Pending | None:
        """In a replay: the next finished call whose callback is due (None: none)."""
        return self.ready.pop(0) if self.ready else None

    def on_reply(self, reply: CallReply) -> None:
        """A reply came; the invocation waiting for it moves on."""
        invocation = self.by_id.get(reply.id)
        if invocation is None:
            line = self._late.pop(reply.id, None)
            if line is not None:
                line.counts["late"] += 1
            else:
                self.stray += 1
            return
        now = self.monotonic()
        if not reply.ok:
            invocation.end_attempt(now, reply.error)
            return
        try:
            value = invocation.line.decl.check_reply(reply.body)
        except TypeError as exc:
            invocation.end_attempt(now, Rejected(f"{invocation.line.decl.name}: reply {exc}"))
            return
        invocation.end_attempt(now, None, value)

    def remember_late(self, rid: int, line: CallLine) -> None:
        """Attempt *rid* timed out: a reply to it will be counted as late."""
        self._late[rid] = line
        if len(self._late) > _LATE_IDS:
            self._late.popitem(last=False)

    def on_directory(self, directory: dict[str, tuple[str, ...]]) -> None:
        """The supervisor's directory changed: attempts on a server gone fail now."""
        self.directory = directory
        now = self.monotonic()
        for invocation in list(self.by_id.values()):
            live = directory.get(invocation.line.decl.service, ())
            if invocation.to is None:
                if live:
                    continue
                why = f"no live actor serves {invocation.line.decl.service!r} any more"
            elif invocation.to in live:
                continue
            else:
                why = f"{invocation.to} no longer serves {invocation.line.decl.service!r}"
            invocation.end_attempt(now, ServerGone(why))

    def next_due(self) -> float | None:
        """When an invocation next needs :meth:`tick`, or None."""
        if not self.invocations:
            return None
        return min(invocation.due() for invocation in self.invocations)

    def tick(self, now: float) -> None:
        """Resends, timeouts and retries that are due."""
        for invocation in [i for i in self.invocations if i.due() <= now]:
            invocation.tick(now)

    def note_transitions(self, line: CallLine) -> None:
        """Collect the breaker's transitions for the engine to report."""
        assert line.breaker is not None
        for before, after, _, why in line.breaker.take_transitions():
            self.transitions.append((line.decl.name, str(before), str(after), why))

    def statistics(self) -> dict[str, dict[str, Any]]:
        """Per call: counters and breaker state."""
        return {name: line.statistics() for name, line in self.lines.items()}

    def breaker(self, call: str) -> BreakerState | None:
        """The state of *call*'s breaker (None: it has none)."""
        breaker = self.lines[call].breaker
        return breaker.state if breaker is not None else None
