"""Request/reply in the engine: serving requests and making calls (pure core, no IO).

:class:`Rpc` is the engine's collaborator for services and calls: it owns the
service table, the call lines and their counters, and reaches its engine only
through :class:`RpcHost` (publish, the outgoing messages, the hook's trace).
A request on ``$svc.<service>`` runs the service's handler between steps
(recorded like any message, so a replay runs it again) and its reply goes to
``$rsp.<caller>``; a retried request (same caller and idempotency key) is
answered from the reply cache instead of running twice, and one whose
deadline has passed is dropped and counted. Calls go through
:mod:`actors.core.caller`; a blocking call waits through :attr:`block`, which
the runtime (real sockets) or the harness (fake clock) provides.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, Final, Protocol

from actors.core.access import SUPERVISOR
from actors.core.actor import Actor
from actors.core.call_handle import CallHandle, asker
from actors.core.caller import CallLine, Calls, Pending
from actors.core.calls import (
    ERRORS,
    REPLY_PREFIX,
    SERVICE_PREFIX,
    SYS_SERVICES,
    CallError,
    CallRequest,
    Rejected,
    RemoteError,
    decode_directory,
    decode_error,
    decode_reply,
    decode_request,
    reply_payload,
)
from actors.core.control_calls import CONTROL_CALL, control_call
from actors.core.declarations import NAME_FIELD, ActorSpec
from actors.core.engine_types import CURRENT_TRACE, EngineConfig, Tracer
from actors.core.recorder import FlightRecorder
from actors.core.requests import ReplyCache
from actors.core.resilience import Fallback
from actors.core.sequences import Sequences
from actors.core.services import Service, resolve_calls
from actors.core.topics import SYS_EVENT
from actors.core.wire import WireError, decode_fields

#: Replies kept per actor for retried requests (by caller and idempotency key).
REPLY_CACHE: Final = 1024
#: The counters of a served service, in order.
SERVICE_COUNTERS: Final = ("requests", "replied", "errors", "rejected", "expired", "cached")
SYS_SERVICES_B: Final = SYS_SERVICES.encode()
#: Senders of refused replies logged by name, at most (the rest are counted only).
_REJECTED_LOGGED: Final = 64
_RETRYABLE: Final = frozenset(kind for kind, cls in ERRORS.items() if cls.retryable)

#: An encoded message ready for the socket: ``(topic frame, envelope frame)``.
Outgoing = tuple[bytes, bytes]

#: Waits until a condition holds or a monotonic time passes, delivering call traffic
#: meanwhile: ``block(condition, until)``.
Block = Callable[[Callable[[], bool], float], None]


class RpcHost(Protocol):
    """What :class:`Rpc` needs of its engine."""

    #: The OpenTelemetry side, or None (no tracing).
    tracing: Tracer | None
    #: The traceparent of the hook running now, when it is traced (what it publishes carries).
    trace: str | None

    def publish(self, topic: bytes, payload: Any, trace: str | None = None) -> Outgoing:
        """Encode *payload* for *topic* with its next sequence number."""
        ...

    def put_out(self, frames: Outgoing) -> None:
        """Send *frames* now, or keep them with the running hook's outputs."""
        ...

    def flush(self) -> list[Outgoing]:
        """What the hook that ran published, in order."""
        ...

    def run_callback(self, kind: str, callback: Callable[[], None]) -> list[Outgoing]:
        """Run *callback* like a step: recorded, its outputs published."""
        ...


def served_topics(spec: ActorSpec, name: str) -> dict[bytes, Service]:
    """The request topics of the services of *spec* as actor *name* serves them."""
    return {
        (SERVICE_PREFIX + s.service.replace(NAME_FIELD, name)).encode(): s
        for s in spec.services.values()
    }


class Rpc:
    """The services and calls of one actor instance."""

    def __init__(
        self,
        host: RpcHost,
        spec: ActorSpec,
        config: EngineConfig,
        *,
        actor: Actor,
        counts: dict[str, int],
        sequences: Sequences,
        replies: ReplyCache[tuple[bool, Any]],
        served: dict[bytes, Service],
        recorder: FlightRecorder[Any] | None,
        monotonic: Callable[[], float],
        wall_ns: Callable[[], int],
        log: Any,
    ) -> None:
        self.host = host
        self.name: str = config.name
        self.spec = spec
        self.actor = actor
        self._counts = counts
        self._sequences = sequences
        self._replies = replies
        #: The recorder when it records (None: recording is off).
        self._recorder = recorder
        self._monotonic = monotonic
        self._wall_ns = wall_ns
        self._log = log
        #: Waits for a blocking call (set by the runtime or the harness).
        self.block: Block | None = None
        self.served = served
        self.service_counts = {
            s.name: dict.fromkeys(SERVICE_COUNTERS, 0) for s in spec.services.values()
        }
        #: The topics this collaborator takes (requests, replies, the directory) and their
        #: handlers: the engine hands it every message on them.
        self.special: dict[bytes, Callable[[list[bytes]], list[Outgoing]]] = dict.fromkeys(
            served, self._on_request
        )
        lines = {
            name: CallLine(spec.calls[name], policy, timeout, self.name)
            for name, (policy, timeout) in resolve_calls(spec, config.actor.calls).items()
        }
        control = bool(config.actor.control)
        if control:
            decl = control_call()
            lines[CONTROL_CALL] = CallLine(decl, decl.policy, decl.timeout)
        self.calls = Calls(
            self.name,
            lines,
            monotonic=monotonic,
            wall_ns=wall_ns,
            emit=self._emit_request,
            fall_back=self._fall_back,
            seed=config.seed,
            log=log,
        )
        #: Senders whose refused replies were logged (once each).
        self._rejected_from: set[str] = set()
        self.calls.end_span = self._end_span
        self.calls.on_finish = self._call_finished
        actor.__dict__["_enlil_calls"] = {
            name: CallHandle(self, line) for name, line in lines.items() if name != CONTROL_CALL
        }
        if control:
            actor.enlil.ask = asker(CallHandle(self, lines[CONTROL_CALL]))
        if lines:
            self.special[self.calls.reply_topic] = self._on_reply_frames
            self.special[SYS_SERVICES_B] = self._on_directory_frames

    def call_topics(self) -> list[str]:
        """The topics the services and calls need subscribed (exact topics)."""
        topics = [t.decode() for t in self.served]
        if self.calls.lines:
            topics += [REPLY_PREFIX + self.name, SYS_SERVICES]
        return topics

    def service_report(self) -> dict[str, dict[str, Any]]:
        """Per service handler: the service it serves (as named on the wire) and its
        counters."""
        names = {
            s.name: topic.decode().removeprefix(SERVICE_PREFIX) for topic, s in self.served.items()
        }
        return {
            handler: {"service": names.get(handler, handler), **counts}
            for handler, counts in self.service_counts.items()
        }

    def serves(self) -> list[str]:
        """The services this actor serves (for the supervisor's directory)."""
        return sorted(t.decode().removeprefix(SERVICE_PREFIX) for t in self.served)

    # -- serving ----------------------------------------------------------------------

    def _on_request(self, frames: list[bytes]) -> list[Outgoing]:
        service = self.served[frames[0]]
        counts = self.service_counts[service.name]
        try:
            sender, seq, _, trace, payload = decode_fields(frames[1])
        except WireError as exc:
            self._counts[exc.reason] += 1
            return []
        request = decode_request(payload)
        if request is None:
            self._counts["malformed"] += 1
            return []
        if request.to is not None and request.to != self.name:
            self._counts["filtered"] += 1  # for another server of the group
            return []
        topic = frames[0].decode()
        if self._sequences.seen(sender, topic, seq):
            self._counts["duplicates"] += 1
            return []
        self._sequences.incoming[(sender, topic)] = seq
        self._counts["accepted"] += 1
        counts["requests"] += 1
        reply_topic = (REPLY_PREFIX + sender).encode()
        now_ns = self._wall_ns()
        cached = self._replies.get((sender, request.key))
        if cached is not None:
            counts["cached"] += 1
            return [self.host.publish(reply_topic, reply_payload(request.id, *cached))]
        if request.deadline_ns <= now_ns:
            counts["expired"] += 1  # the caller has given up: nobody wants the answer
            return []
        if self._recorder is not None:
            self._recorder.record_message(now_ns, frames[0], frames[1])
        tracing = self.host.tracing
        if tracing is None or (trace is None and not tracing.sample_root()):
            ok, body = self._handle(service, sender, topic, request.body, request.deadline_ns)
        else:  # the server's span: a child of the caller's call span
            ok, body = self._handle_traced(tracing, service, sender, topic, request, trace)
        counts["replied" if ok else "errors"] += 1
        # A retryable error (unavailable, a nested call that timed out) is not kept: the
        # retry must run the handler again. Replies and final errors are kept.
        if ok or body.get("kind") not in _RETRYABLE:
            self._replies.put((sender, request.key), (ok, body))
        out = self.host.flush()
        out.append(self.host.publish(reply_topic, reply_payload(request.id, ok, body), trace))
        return out

    def _handle(
        self, service: Service, sender: str, topic: str, body: Any, deadline_ns: int
    ) -> tuple[bool, Any]:
        """Run *service*'s handler: ``(True, reply)`` or ``(False, error map)``."""
        counts = self.service_counts[service.name]
        try:
            body = service.check_request(body)
        except TypeError as exc:
            counts["rejected"] += 1
            return False, Rejected(f"{service.service}: request {exc}").encode()
        context = self.actor.enlil
        context.trigger, context.topic, context.caller = service.name, topic, sender
        calls = self.calls
        budget, calls.budget_ns = calls.budget_ns, deadline_ns
        try:
            value = service.handler(self.actor, body)
        except CallError as exc:  # Unavailable, or a call of its own that failed
            return False, exc.encode()
        except Exception as exc:
            if service.crash:
                raise
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            self._log.warning(
                "service handler raised",
                service=service.service,
                caller=sender,
                error=repr(exc),
                where=f"{frame.filename}:{frame.lineno}",
            )
            error = RemoteError(
                str(exc), type=type(exc).__name__, where=f"{frame.filename}:{frame.lineno}"
            )
            return False, error.encode()
        finally:
            calls.budget_ns = budget
            context.caller = None
        try:
            return True, service.check_reply(value)
        except TypeError as exc:
            counts["rejected"] += 1
            return False, Rejected(f"{service.service}: the handler's reply {exc}").encode()

    def _handle_traced(
        self,
        tracing: Tracer,
        service: Service,
        sender: str,
        topic: str,
        request: CallRequest,
        trace: str | None,
    ) -> tuple[bool, Any]:
        """:meth:`_handle` in a span; what the handler publishes or calls carries it on."""
        span = tracing.start(
            f"{self.name} serve {service.service}",
            trace,
            {"enlil.actor": self.name, "rpc.service": service.service, "enlil.caller": sender},
        )
        host = self.host
        host.trace = tracing.traceparent(span)
        token = CURRENT_TRACE.set(host.trace)
        try:
            ok, body = self._handle(service, sender, topic, request.body, request.deadline_ns)
        except BaseException as exc:
            tracing.end(span, exc)
            raise
        finally:
            host.trace = None
            CURRENT_TRACE.reset(token)
        tracing.end(span, None if ok else decode_error(body))
        return ok, body

    # -- calling ------------------------------------------------------------------------

    def _call_finished(self, invocation: Any, error: CallError | None, value: Any) -> None:
        """Record a call's outcome (before its fallback): a replay gives it back."""
        if self._recorder is None:
            return
        body = value if error is None else error.encode()
        name = invocation.line.decl.name
        began = invocation.began_ns / 1e9
        # Aside: it may come in the middle of a step, where no checkpoint may be taken.
        self._recorder.record_aside(
            ("call", self._wall_ns() / 1e9, name, "", 0, 0, [began, error is None, body])
        )

    def _end_span(self, span: Any, error: CallError | None) -> None:
        if self.host.tracing is not None:
            self.host.tracing.end(span, error)

    def _emit_request(self, topic: bytes, payload: Any, trace: str | None) -> None:
        self.host.put_out(self.host.publish(topic, payload, trace))

    def _fall_back(self, line: CallLine, fallback: Fallback, body: Any, error: CallError) -> Any:
        if fallback.method is None:
            return fallback.value
        return getattr(self.actor, fallback.method)(body, error)

    def wait_for(self, pending: Pending) -> None:
        """Block until *pending* is done (through :attr:`block`), running the call's timers."""
        calls = self.calls
        while not pending.done:
            due = calls.next_due()
            if due is None:  # cannot happen: a call not done is in flight
                raise RuntimeError(f"call {pending.call!r} is neither done nor in flight")
            if self.block is None:
                raise RuntimeError("a blocking call needs the runtime or the harness")
            self.block(lambda: pending.done, due)
            calls.tick(self._monotonic())
        self._report_transitions()

    def call_traffic(self, frames: list[bytes]) -> bool:
        """Take a reply or directory message while a blocking call waits (False: not one)."""
        if frames[0] == self.calls.reply_topic:
            self._on_reply_frames(frames)
            return True
        if frames[0] == SYS_SERVICES_B and self.calls.lines:
            self._on_directory_frames(frames)
            return True
        return False

    def _on_reply_frames(self, frames: list[bytes]) -> list[Outgoing]:
        try:
            sender, _, _, _, payload = decode_fields(frames[1])
        except WireError as exc:
            self._counts[exc.reason] += 1
            return []
        reply = decode_reply(payload)
        if reply is None:
            self._counts["malformed"] += 1
            return []
        calls = self.calls
        before = calls.rejected
        calls.on_reply(reply, sender)
        if calls.rejected != before and calls.last_rejected is not None:
            who, why = calls.last_rejected
            if who not in self._rejected_from:  # logged once per sender, counted always
                if len(self._rejected_from) < _REJECTED_LOGGED:
                    self._rejected_from.add(who)
                self._log.warning("reply rejected", sender=who, reason=why)
        return []

    def _on_directory_frames(self, frames: list[bytes]) -> list[Outgoing]:
        try:
            sender, _, _, _, payload = decode_fields(frames[1])
        except WireError as exc:
            self._counts[exc.reason] += 1
            return []
        if sender != SUPERVISOR:  # only the supervisor's directory (a checked broker agrees)
            self.calls.rejected += 1
            return []
        directory = decode_directory(payload)
        if directory is None:
            self._counts["malformed"] += 1
            return []
        self.calls.on_directory(directory)
        return []

    def calls_due(self) -> list[Outgoing]:
        """Run the calls' timers that are due and the callbacks of finished calls."""
        calls = self.calls
        if calls.invocations:
            due = calls.next_due()
            if due is not None and due <= self._monotonic():
                calls.tick(self._monotonic())
        out = self._report_transitions()
        while calls.ready and calls.replaying is None:  # a replay runs them as recorded
            pending = calls.ready.pop(0)
            callback = pending.callback
            assert callback is not None
            out += self.host.run_callback("reply", _with(callback, pending))
        return out + self.host.flush()

    def _report_transitions(self) -> list[Outgoing]:
        out: list[Outgoing] = []
        for call, before, after, why in self.calls.transitions:
            self._log.warning("circuit breaker", call=call, before=before, after=after, why=why)
            event = {
                "event": "breaker",
                "actor": self.name,
                "kind": "actor",
                "call": call,
                "from": before,
                "to": after,
                "why": why,
            }
            # Sent now, or with the hook's outputs.
            self.host.put_out(self.host.publish(SYS_EVENT.encode(), event))
        self.calls.transitions.clear()
        return out


def _with(callback: Callable[[Pending], None], pending: Pending) -> Callable[[], None]:
    """*callback* of *pending*, named after the callback (what the recorder shows)."""

    def run() -> None:
        callback(pending)

    run.__qualname__ = getattr(callback, "__qualname__", None) or repr(callback)
    return run
