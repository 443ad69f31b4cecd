"""One call from its first attempt to its result, through its policy (pure core).

An :class:`Invocation` goes through the parts of its line's policy in the
order of :mod:`actors.core.resilience`: breaker, rate limit and bulkhead per
attempt, the attempt's timeout and resends, retries with backoff, the
deadline, and the fallback at the end. Its :class:`~actors.core.caller.Calls`
gives it ids, the directory and the clock's readings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.core.call_parts import COUNTER_OF, RESEND_FIRST, RESEND_MAX, CallLine, Pending
from actors.core.calls import (
    BulkheadFull,
    CallError,
    CallTimeout,
    CircuitOpen,
    NoResponders,
    RateLimited,
    Rejected,
    request_payload,
)

if TYPE_CHECKING:
    from actors.core.caller import Calls


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
        self.rid = rid = calls.new_id()
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
                self.calls.ended_attempt(self, late=True)
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
        self.calls.ended_attempt(self)
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
        line.counts[COUNTER_OF.get(error.kind, "remote")] += 1
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
            self.calls.ended_attempt(self)
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
