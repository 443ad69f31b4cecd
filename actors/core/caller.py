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

import array
import collections
import os
import random
from collections.abc import Callable
from typing import Any, Final

from actors.core.call_parts import LATE_IDS, CallLine, Pending
from actors.core.calls import (
    REPLY_PREFIX,
    CallError,
    CallReply,
    Rejected,
    ServerGone,
    decode_error,
)
from actors.core.invocation import Invocation
from actors.core.resilience import BreakerState

__all__ = ["CallLine", "Calls", "Invocation", "Pending"]

#: An ended attempt: its line, the server it named, whether it timed out.
Ended = tuple[CallLine, str | None, bool]
#: Correlation ids drawn from the system's randomness at once.
_POOL: Final = 512


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
        # Idempotency keys start at a random point: a restarted caller's retries must not
        # meet the replies its previous incarnation left in a server's cache. An actor that
        # calls nothing makes no generator. Correlation ids are drawn afresh for every
        # attempt from the system's randomness (:meth:`new_id`), never from this seeded
        # generator: a server that sees the ids of the calls to it must not be able to
        # guess those of calls to another.
        self.rng: random.Random | None = random.Random(seed) if lines else None
        self._pool = array.array("Q")
        self._pool_at = 0
        self._next_key = self.rng.randrange(1, 2**48) if self.rng else 0
        self.by_id: dict[int, Invocation] = {}
        self.invocations: set[Invocation] = set()
        #: Ended attempts whose reply may still come: their line, the server they named,
        #: and whether they timed out (a reply then counts as late, else as stray). Two
        #: generations of at most LATE_IDS each: the older is dropped whole (cheap per call).
        self._ended: dict[int, Ended] = {}
        self._ended_old: dict[int, Ended] = {}
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
        #: Replies refused for their sender: not a live server of the call they answer (or,
        #: naming no call in flight, of any service this actor calls).
        self.rejected = 0
        #: The sender of the latest refused reply, and why (the engine logs it once).
        self.last_rejected: tuple[str, str] | None = None

    def new_id(self) -> int:
        """A fresh correlation id: 63 bits from the system's randomness, not one in flight
        (drawn :data:`_POOL` ids at a time: one system call per 512 ids)."""
        while True:
            at = self._pool_at
            if at >= len(self._pool):
                self._pool, at = array.array("Q", os.urandom(8 * _POOL)), 0
            self._pool_at = at + 1
            rid = self._pool[at] >> 1
            if rid and rid not in self.by_id:
                return rid

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

    def on_reply(self, reply: CallReply, sender: str) -> None:
        """A reply came from *sender* (its envelope's, which a checked broker makes true);
        the invocation waiting for it moves on, if *sender* may answer it."""
        invocation = self.by_id.get(reply.id)
        ended = None
        if invocation is None:
            ended = self._ended.get(reply.id) or self._ended_old.get(reply.id)
        if invocation is not None:
            # The server its attempt named (a live one: a server that leaves the directory
            # ends the attempts it was asked) needs no more checking: the common case.
            to = invocation.to
            why = "" if sender == to else self._refusal(invocation.line, to, sender)
        elif ended is not None:
            why = self._refusal(ended[0], ended[1], sender)
        else:
            why = self._refusal(None, None, sender)
        if why:
            self.rejected += 1
            self.last_rejected = (sender, why)
            return
        if invocation is None:
            if ended is not None and ended[2]:
                ended[0].counts["late"] += 1
            else:
                self.stray += 1
            self._ended.pop(reply.id, None)
            self._ended_old.pop(reply.id, None)
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

    def _refusal(self, line: CallLine | None, to: str | None, sender: str) -> str:
        """Why a reply from *sender* to an attempt of *line* that named server *to* (no
        line: an id this caller does not know) is refused ("" when it is not): a call's
        reply comes only from a live server of its service, and from the one server its
        attempt named, if it named one."""
        directory = self.directory
        if directory is None:
            return "the directory of services is not known yet"
        if line is None:
            services = {each.decl.service for each in self.lines.values()}
            if not any(sender in directory.get(s, ()) for s in services):
                return "it serves none of the services this caller calls"
            return ""
        service = line.decl.service
        if to is not None and sender != to:
            return f"the call to {service!r} went to {to}"
        if sender not in directory.get(service, ()) and sender != to:
            return f"it does not serve {service!r}"
        return ""

    def ended_attempt(self, invocation: Invocation, late: bool = False) -> None:
        """*invocation*'s waiting attempt ended (*late*: it timed out): a reply to it that
        still comes is counted (late, or stray) or refused for its sender, not taken."""
        rid = invocation.rid
        self.by_id.pop(rid, None)
        ended = self._ended
        if rid and rid not in ended and rid not in self._ended_old:
            ended[rid] = (invocation.line, invocation.to, late)
            if len(ended) >= LATE_IDS:
                self._ended_old, self._ended = ended, {}

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
