"""An in-process harness that drives one actor deterministically: no sockets, a fake clock.

>>> h = Harness(Thermostat, params={"setpoint": 20.0})     # doctest: +SKIP
>>> h.feed("temperature", 18.5)                             # doctest: +SKIP
>>> h.outputs["heater"]                                     # doctest: +SKIP
True

The harness drives the same :class:`~actors.core.engine.ActorEngine` as the
real runtime, through encoded frames, so type checks, sequence numbers and
counters behave exactly as in a running site.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final

from actors.core.actor import Actor
from actors.core.calls import (
    REPLY_PREFIX,
    SERVICE_PREFIX,
    CallError,
    CallTimeout,
    RemoteError,
    decode_reply,
    decode_request,
    reply_payload,
    request_payload,
)
from actors.core.engine import ActorEngine, Outgoing
from actors.core.engine_types import EngineConfig, Statistics
from actors.core.faults import Injected
from actors.core.snapshot import Snapshot
from actors.core.topics import parse_pattern
from actors.core.types import coerce, is_typed
from actors.core.wire import Message, decode_message, encode_envelope
from actors.faulty import FaultInjector, rules_of
from actors.site.parse import actor_record
from actors.site.schema import default
from actors.site.site_keys import SNAPSHOT_KEYS

#: What a fake server's handler returns to answer nothing (the call times out).
NO_REPLY: Final = object()


class _Pipe:
    """A transport's two callables over lists, for the fault rules under the harness."""

    def __init__(self) -> None:
        self.inbox: list[list[bytes]] = []
        self.sent: list[tuple[bytes, bytes]] = []

    def receive(self) -> list[bytes] | None:
        return self.inbox.pop(0) if self.inbox else None

    def send(self, topic: bytes, envelope: bytes) -> None:
        self.sent.append((topic, envelope))


class FakeClock:
    """A clock that moves only when told: ``now`` is seconds since the Unix epoch."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def wall_ns(self) -> int:
        """The time in integer nanoseconds."""
        return int(self.now * 1e9)

    def monotonic(self) -> float:
        """The same time, as the monotonic clock the engine schedules with."""
        return self.now


class Harness:
    """Drive one actor in this process: feed inputs, advance time, read outputs and state.

    Hook exceptions propagate to the caller unchanged (use ``pytest.raises``).
    The actor's random source (``self.enlil.random``) is seeded with *seed*, so
    jitter and sampling draw the same numbers every run. With *control*, the
    actor has control rights (``self.enlil.start`` and the rest): they are calls
    to ``supervisor.control``, which :meth:`serve` can answer.
    """

    def __init__(
        self,
        cls: type[Actor],
        *,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        topics: Mapping[str, str] | None = None,
        period: float | None = None,
        clock: FakeClock | None = None,
        start: bool = True,
        recorder: int = default(SNAPSHOT_KEYS, "inputs"),
        recorder_bytes: int = int(default(SNAPSHOT_KEYS, "recorder_mb") * 1024 * 1024),
        seed: int = 0,
        calls: Mapping[str, Mapping[str, Any]] | None = None,
        rate_limits: Mapping[str, Any] | None = None,
        faults: Mapping[str, Any] | None = None,
        control: bool = False,
    ) -> None:
        self.clock = clock or FakeClock()
        self.name = name or cls.__name__.lower()
        class_path = f"{cls.__module__}:{cls.__qualname__}"
        self.engine = ActorEngine(
            cls,
            EngineConfig(
                # The record site.toml would give it: every key not given at its default.
                actor=actor_record(
                    self.name,
                    class_path=class_path,
                    period=period,
                    topics=dict(topics or {}),
                    calls=dict(calls or {}),
                    rate_limits=dict(rate_limits or {}),
                    control=["*"] if control else [],
                ),
                params=dict(params or {}),
                class_path=class_path,
                recorder=recorder,
                recorder_bytes=recorder_bytes,
                seed=seed,
            ),
            wall_ns=self.clock.wall_ns,
            monotonic=self.clock.monotonic,
        )
        #: Every message the actor published, in order (a record as its record type).
        self.published: list[Message] = []
        # A reliable Output has no reader here unless a test says so (readers()): what it
        # sends is not kept, as on a site where nobody reads the topic reliably.
        for topic in self.engine.reliable.output_topics:
            self.engine.reliable.readers(topic.decode(), [])
        #: The Outputs of record types, by topic (or family): their messages are decoded so.
        self._record_types = [
            (parse_pattern(topic), var.type)
            for name, var in self.engine.spec.outputs.items()
            if is_typed(var.type)
            for topic in self.engine.all_topics[name]
        ]
        self._seq: dict[tuple[str, str], int] = {}
        #: Every request the actor's calls sent, in order: (service, request body).
        self.requests: list[tuple[str, Any]] = []
        #: The fake servers: service -> (handler, delay in seconds).
        self._servers: dict[str, tuple[Any, float]] = {}
        #: Replies on their way: (arrival time, order, frames).
        self._replies: list[tuple[float, int, list[bytes]]] = []
        self._order = itertools.count()
        #: The faults injected so far (with *faults*: ``{"seed": N, "rules": [...]}``, the
        #: rules of site.toml's ``[faults]``, applied to what the actor is delivered and
        #: publishes and to its steps, on the fake clock; a crash or hang raises).
        self.faults_injected: list[Injected] = []
        self._faults: FaultInjector | None = None
        self._pipe = _Pipe()
        if faults:
            injector = FaultInjector(
                self.name,
                *rules_of(faults),
                started=float(faults.get("started", self.clock.now)),
                clock=self.clock.monotonic,
                monotonic=self.clock.monotonic,
                sleep=self._sleep,
                in_process=True,
            )
            injector.wrap(self._pipe)  # type: ignore[arg-type]  # it swaps only the two callables
            injector.wrap_step(self.engine.actor, lambda hard: None)
            self._faults = injector
        self.engine.calls.emit = self._route
        self.engine.rpc.block = self._block
        if self.engine.calls.lines:
            self.engine.calls.directory = {}
        if start:
            self.start()

    @property
    def actor(self) -> Actor:
        """The actor instance."""
        return self.engine.actor

    @property
    def state(self) -> dict[str, Any]:
        """Current State values."""
        return self.engine.keeper.state()

    @property
    def outputs(self) -> dict[str, Any]:
        """Last assigned value of each Output."""
        return self.engine.keeper.outputs()

    @property
    def inputs(self) -> dict[str, Any]:
        """Latest value of each Input."""
        return self.engine.keeper.inputs()

    def statistics(self) -> Statistics:
        """The engine's counters."""
        return self.engine.statistics()

    def _sleep(self, seconds: float) -> None:
        self.clock.now += seconds

    def _record(self, out: list[Outgoing]) -> list[Message]:
        faults = self._faults
        if faults is not None:
            if faults.publish_rules:
                for topic, env in out:
                    self._pipe.send(topic, env)
                out, self._pipe.sent = self._pipe.sent, []
            self.faults_injected += faults.ledger
            faults.ledger = []
        messages = [self._typed(decode_message([topic, env])) for topic, env in out]
        self.published.extend(messages)
        return messages

    def _typed(self, message: Message) -> Message:
        """*message* with its payload made its Output's record type, as an Input would."""
        for pattern, tp in self._record_types:
            if pattern.matches(message.topic):
                with contextlib.suppress(TypeError):  # kept as it came, for the test to see
                    payload = coerce(message.envelope.payload, tp)
                    return dataclasses.replace(
                        message, envelope=dataclasses.replace(message.envelope, payload=payload)
                    )
        return message

    def start(self) -> list[Message]:
        """Run ``on_start``; return what it published."""
        return self._record(self.engine.start())

    def stop(self) -> list[Message]:
        """Run ``on_stop``; return what it published."""
        return self._record(self.engine.stop())

    def topic_of(self, name_or_topic: str) -> str:
        """The topic of Input/Output *name_or_topic*, or the text itself if it is a topic."""
        return self.engine.topics.get(name_or_topic, name_or_topic)

    def feed(self, name_or_topic: str, value: Any, *, sender: str = "test") -> list[Message]:
        """Deliver *value* on an Input (by name or topic); return what the step published."""
        topic = self.topic_of(name_or_topic)
        key = (sender, topic)
        self._seq[key] = self._seq.get(key, 0) + 1
        envelope = encode_envelope(sender, self._seq[key], self.clock.wall_ns(), value)
        return self.feed_frames([topic.encode(), envelope])

    def readers(self, name_or_topic: str, names: list[str]) -> None:
        """Say who must get a reliable Output (by name or topic), as a site's supervisor
        does: what it sends is kept until they acknowledge it (``$sys.ack.<actor>``,
        fed with :meth:`feed_frames`), :meth:`advance` sends heartbeats while they lag,
        and what they ask for is sent again. A step that fills the window raises
        WindowFull: the harness cannot wait for acknowledgements inside a step."""
        self.engine.reliable.readers(self.topic_of(name_or_topic), names)

    def feed_frames(self, frames: list[bytes]) -> list[Message]:
        """Deliver raw frames exactly as received from a socket (malformed ones too)."""
        if self._faults is None:
            return self._record(self.engine.receive(frames))
        self._pipe.inbox.append(frames)
        return self._drain()

    def _drain(self) -> list[Message]:
        """Deliver what the fault rules let through now (held messages that are due too)."""
        out: list[Message] = []
        while (frames := self._pipe.receive()) is not None:
            out += self._record(self.engine.receive(frames))
        return out + self._record([])

    def advance(self, seconds: float) -> list[Message]:
        """Move the clock on by *seconds*, running each periodic step and timer on its due
        time and delivering the fake servers' replies when they arrive."""
        end = self.clock.now + seconds
        out: list[Message] = []
        while True:
            due = self.engine.next_deadline()
            held = self._faults.next_due() if self._faults is not None else None
            if held is not None and held <= end and (due is None or held <= due):
                self.clock.now = max(self.clock.now, held)
                out += self._drain()
                continue
            arrival = self._replies[0][0] if self._replies else None
            if arrival is not None and (due is None or arrival <= due) and arrival <= end:
                self.clock.now = max(self.clock.now, arrival)
                _, _, frames = heapq.heappop(self._replies)
                out += self._record(self.engine.receive(frames))
                continue
            if due is None or due > end:
                break
            self.clock.now = max(self.clock.now, due)
            out += self._record(self.engine.tick())
        self.clock.now = end
        return out

    # -- calls: fake servers on the fake clock ------------------------------------------

    def call(
        self, service: str, request: Any = None, *, timeout: float = 5.0, caller: str = "test"
    ) -> Any:
        """Call the actor's own *service* with *request*, as the caller *caller*; return the
        reply's value. What the handler raises comes back as on the wire: a CallError as
        itself, another exception as a RemoteError, a request of the wrong type as
        Rejected. A handler's own calls wait on the fake clock, as in any step. When no
        reply comes (the request held or dropped by a fault rule), the clock moves on
        to *timeout*: CallTimeout. LookupError when the actor does not serve *service*."""
        served = self.engine.rpc.serves()
        if service not in served:
            raise LookupError(
                f"actor {self.name!r} serves no {service!r} "
                f"(it serves: {', '.join(served) or 'nothing'})"
            )
        topic = SERVICE_PREFIX + service
        rid = next(self._order) + 1
        deadline = self.clock.now + timeout
        payload = request_payload(
            rid, self.clock.wall_ns() + int(timeout * 1e9), f"{caller}:{rid}", None, request
        )
        key = (caller, topic)
        self._seq[key] = self._seq.get(key, 0) + 1
        envelope = encode_envelope(caller, self._seq[key], self.clock.wall_ns(), payload)
        seen = len(self.published)
        self.feed_frames([topic.encode(), envelope])
        reply_topic = REPLY_PREFIX + caller
        while True:
            for message in self.published[seen:]:
                reply = decode_reply(message.envelope.payload)
                if message.topic == reply_topic and reply is not None and reply.id == rid:
                    if reply.ok:
                        return reply.body
                    raise reply.error
            seen = len(self.published)
            if self.clock.now >= deadline:
                raise CallTimeout(f"{service}: no reply within {timeout:g} s of the fake clock")
            due = self.engine.next_deadline()
            until = deadline if due is None or due > deadline else due
            self.advance(max(0.0, until - self.clock.now))

    def serve(self, service: str, handler: Any, *, delay: float = 0.0) -> None:
        """Answer *service* in the calls of the actor: *handler* is a function of the request
        (its return is the reply; a :class:`CallError` it raises goes back as that
        error, another exception as a ``remote`` one; :data:`NO_REPLY` answers nothing)
        or another :class:`Harness` whose actor serves it. Replies arrive *delay*
        seconds after the request. The directory of live servers then lists it."""
        self._servers[service] = (handler, delay)
        self._directory()

    def unserve(self, service: str) -> None:
        """*service*'s server is gone: the directory says so (calls to it fail at once)."""
        self._servers.pop(service, None)
        self._directory()

    def _directory(self) -> None:
        directory: dict[str, tuple[str, ...]] = {
            service: (f"fake:{service}",) for service in self._servers
        }
        for service, (handler, _) in self._servers.items():
            if isinstance(handler, Harness):
                directory[service] = (handler.name,)
        self.engine.calls.on_directory(directory)

    def _route(self, topic: bytes, payload: Any, trace: str | None) -> None:
        """A request from the actor: to its fake server, whose reply is put on its way."""
        frames = self.engine.publish(topic, payload, trace)
        service = topic.decode().removeprefix(SERVICE_PREFIX)
        request = decode_request(payload)
        assert request is not None
        self.requests.append((service, request.body))
        served = self._servers.get(service)
        if served is None:
            return  # nobody listens: the call times out
        handler, delay = served
        if isinstance(handler, Harness):
            out = handler.engine.receive(list(frames))
            handler._record(out)
            mine = (REPLY_PREFIX + self.name).encode()
            replies = [list(f) for f in out if f[0] == mine]
        else:
            try:
                value = handler(request.body)
            except CallError as exc:
                body: list[Any] | None = reply_payload(request.id, False, exc.encode())
            except Exception as exc:  # noqa: BLE001 - a fake server's failure goes to the caller
                error = RemoteError(str(exc), type=type(exc).__name__)
                body = reply_payload(request.id, False, error.encode())
            else:
                body = None if value is NO_REPLY else reply_payload(request.id, True, value)
            if body is None:
                return
            envelope = encode_envelope(f"fake:{service}", 1, self.clock.wall_ns(), body)
            replies = [[(REPLY_PREFIX + self.name).encode(), envelope]]
        for reply in replies:
            heapq.heappush(self._replies, (self.clock.now + delay, next(self._order), reply))

    def _block(self, done: Callable[[], bool], until: float) -> None:
        """A blocking call waits: replies arrive and the fake clock moves, up to *until*."""
        while not done():
            arrival = self._replies[0][0] if self._replies else None
            if arrival is None or arrival > until:
                self.clock.now = max(self.clock.now, until)
                return
            self.clock.now = max(self.clock.now, arrival)
            _, _, frames = heapq.heappop(self._replies)
            self.engine.rpc.call_traffic(frames)

    def run_reply_callback(self) -> list[Message]:
        """In a replay: run the callback of the next finished call (as it ran when recorded)."""
        pending = self.engine.calls.next_callback()
        if pending is None or pending.callback is None:
            return []
        callback = pending.callback
        return self._record(self.engine.callbacks.run("reply", lambda: callback(pending)))

    def deliver(self) -> list[Message]:
        """Deliver the replies due by now (for calls started without waiting)."""
        return self.advance(0.0)

    def ready(self, fd: int, readable: bool = True, writable: bool = False) -> list[Message]:
        """Run the actor's watch callbacks for *fd* as if a poll found it ready."""
        return self._record(self.engine.callbacks.io_ready(fd, readable, writable))

    def tick_now(self) -> list[Message]:
        """Run the periodic step once, now, whatever the period."""
        return self._record(self.engine.run_tick())

    def snapshot(self, reason: str = "on_demand") -> Snapshot:
        """A snapshot of the actor as it is now (its flight recorder included)."""
        return self.engine.keeper.snapshot(reason)

    def last(self, name_or_topic: str) -> Any:
        """Payload of the last message published on an Output (by name or topic)."""
        topic = self.topic_of(name_or_topic)
        for message in reversed(self.published):
            if message.topic == topic:
                return message.envelope.payload
        raise LookupError(f"nothing was published on {topic!r}")
