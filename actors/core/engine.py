"""The actor engine: one actor instance and the rules that drive it (pure core, no IO).

:meth:`ActorEngine.receive` takes the frames the runtime read, decodes and
checks them, updates the Input and runs ``step()``; what the step assigns or
sends comes back as ``(topic, envelope)`` frames, numbered and encoded (in the
runtime they go out at once through :attr:`ActorEngine.emit`). Collaborators,
each owning its state, do the rest: ``engine.rpc`` (services and calls,
:mod:`~actors.core.engine_calls`), ``engine.limits`` (rate limits),
``engine.keeper`` (memory, sequences, flight recorder, snapshots) and
``engine.drops`` (what it does not take, gaps). No socket, no real clock: the
runtime and the test harness (fake clock) drive this same engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import structlog

from actors.core.actor import Actor, ActorContext, instantiate
from actors.core.declarations import MISSING, ActorSpec
from actors.core.engine_calls import Outgoing, Rpc, served_topics
from actors.core.engine_drops import Drops
from actors.core.engine_io import Callbacks
from actors.core.engine_limits import RateLimits
from actors.core.engine_reliable import Reliable
from actors.core.engine_state import StateKeeper
from actors.core.engine_types import COUNTERS, CURRENT_TRACE, EngineConfig, Statistics, Tracer
from actors.core.memory import Memory
from actors.core.params import Route, resolve_instance
from actors.core.reliable_wire import HEARTBEAT_PREFIX
from actors.core.requests import ReplyCache
from actors.core.schedule import Schedule
from actors.core.sequences import Sequences
from actors.core.topics import check_topic
from actors.core.types import type_name
from actors.core.wire import (
    MESSAGE_FRAMES,
    WireError,
    envelope_encoder,
    sender_of,
)

__all__ = ["ActorEngine", "Outgoing"]

#: Replies kept per actor for retried requests (by caller and idempotency key).
REPLY_CACHE: Final = 1024


#: The first bytes of a reliable writer's heartbeat's topic.
_HEARTBEATS: Final = HEARTBEAT_PREFIX.encode()


class ActorEngine:
    """Drives one actor instance: deliver frames, run steps, collect outgoing frames.

    Methods that run a hook (``start``, ``receive``, ``tick``, ``stop``) let the
    hook's exception propagate unchanged: the caller decides what a failure
    means (exit and snapshot in the runtime, a raised exception in tests).
    """

    def __init__(
        self,
        cls: type[Actor],
        config: EngineConfig,
        *,
        wall_ns: Callable[[], int],
        monotonic: Callable[[], float],
        log: Any = None,
    ) -> None:
        self.cls = cls
        self.spec: ActorSpec = cls._enlil_spec
        self.name = config.name
        self.config = config
        memory = Memory(self.spec)
        self._encode = envelope_encoder()
        self._recording = config.recorder > 0
        site = config.actor  # the site's record of this actor
        self.period = site.period if site.period is not None else cls.period
        self._wall_ns = wall_ns
        self._monotonic = monotonic
        self._log = log if log is not None else structlog.get_logger().bind(actor=config.name)
        params, routes = resolve_instance(cls, config.name, config.params, site.topics)
        self.routes = routes
        self.topics = routes.topics
        #: Every topic (or family) each Input reads and each Output may publish on.
        self.all_topics = routes.all_topics
        self._inputs_b = routes.inputs
        self._input_patterns = routes.input_patterns
        self._output_patterns = routes.output_patterns
        self._step_on_input = cls.step_on_input
        self._output_topics = {name: self.topics[name].encode() for name in self.spec.outputs}
        self._required = {name for name, var in self.spec.inputs.items() if var.default is MISSING}
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._late_ns = int(site.late_after * 1e9)
        self._sequences = Sequences()
        self._seq_out = self._sequences.outgoing
        self._seq_in = self._sequences.incoming
        self._outbox: list[Outgoing] = []
        #: What it does not take (malformed, not its topic, a wrong type) and the gaps it sees.
        self.drops = Drops(self._counts, list(self.spec.inputs), self._log)
        #: Per Input: [gaps, duplicates] counted from sequence numbers.
        self.input_stats = self.drops.input_stats
        #: Messages missed per topic read (from sequence numbers).
        self.topic_gaps = self.drops.topic_gaps
        #: Timers and watched descriptors; the runtime polls the descriptors with its sockets.
        self.schedule = Schedule(monotonic)
        #: ``self.enlil.watch`` and ``self.enlil.call_later`` (see :class:`Schedule`).
        self.watch = self.schedule.watch
        self.call_later = self.schedule.call_later
        #: Where ``send()`` hands each message at once (the runtime's socket); when None,
        #: messages wait in the outbox until the hook returns (the harness). Either way
        #: the engine itself does no IO.
        self.emit: Callable[[bytes, bytes], None] | None = None
        #: Accepted messages per input topic and published per output topic (metrics).
        self.topic_in: dict[str, int] = {}
        self.topic_out: dict[bytes, int] = {}
        #: When a list, each step's duration (seconds) is appended for the metrics to take.
        self.step_times: list[float] | None = None
        #: Spans for sampled steps (:class:`actors.telemetry.Tracing`); None: no tracing.
        self.tracing: Tracer | None = None
        #: The traceparent of the hook running now, when it is traced.
        self.trace: str | None = None
        self._next_period: float | None = None
        self.last_step_ns = 0
        self.params = params
        self._dirty: set[str] = set()
        context = ActorContext(
            name=self.name, log=self._log, now=lambda: self._wall_ns() / 1e9, send=self.send
        )
        context.log_dir, context.run_dir = config.log_dir, config.run_dir
        context.watch, context.call_later, context.seed = self.watch, self.call_later, config.seed
        self.actor = actor = instantiate(cls, params, context, self._dirty)
        memory.values = actor.__dict__
        replies: ReplyCache[tuple[bool, Any]] = ReplyCache(REPLY_CACHE)
        served = served_topics(self.spec, self.name)
        self.keeper = StateKeeper(
            config,
            self.spec,
            actor=actor,
            params=params,
            period=self.period,
            memory=memory,
            sequences=self._sequences,
            counts=self._counts,
            replies=replies,
            served=served,
            input_of=routes.input_of,
            wall_ns=wall_ns,
        )
        self.recorder = recorder = self.keeper.recorder
        #: A HAL actor's watched descriptors and timers, run like steps.
        self.callbacks = Callbacks(
            self.schedule,
            record=recorder.record,
            context=actor.enlil,
            now=self._now,
            flush=self._flush,
        )
        self._record_message = recorder.record_message
        self.rpc = Rpc(
            self,
            self.spec,
            config,
            actor=actor,
            counts=self._counts,
            sequences=self._sequences,
            replies=replies,
            served=served,
            recorder=recorder if self._recording else None,
            monotonic=monotonic,
            wall_ns=wall_ns,
            log=self._log,
        )
        #: The call lines (``self.<call>``) and their counters, breakers and directory.
        self.calls = self.rpc.calls
        #: Reliable Outputs and Inputs: what is kept, acknowledged, resent and put in order.
        self.reliable = Reliable(
            self,
            self.spec,
            self.name,
            self.topics,
            input_of=routes.input_of,
            counts=self._counts,
            seq_out=self._seq_out,
            monotonic=monotonic,
            wall_ns=wall_ns,
            log=self._log,
        )
        self._reliable_out = self.reliable.output_topics
        self._reliable_in = self.reliable.inputs
        self.rpc.special.update(self.reliable.special())
        #: Topics that are neither Inputs nor patterns: requests, replies, the directory,
        #: and the Acks and Gaps of reliable topics.
        self._special = self.rpc.special
        self.limits = RateLimits(
            self.spec,
            site.rate_limits,
            schedule=self.schedule,
            monotonic=monotonic,
            values=actor.__dict__,
            dirty=self._dirty,
            step=self._step,
            ready=self.ready_to_step,
            send=self.send,
        )
        self._input_limits = self.limits.inputs
        self._output_limits = self.limits.outputs
        if type(self.actor).on_gap is not Actor.on_gap:
            self.drops.on_gap = self.actor.on_gap

    # -- set-up --------------------------------------------------------------

    def subscriptions(self) -> list[str]:
        """The exact topics this actor subscribes to."""
        return self.routes.subscribed() + self.rpc.call_topics() + self.reliable.subscriptions()

    # -- publishing ------------------------------------------------------------

    def publish(self, topic: bytes, payload: Any, trace: str | None = None) -> Outgoing:
        """Encode *payload* for *topic* with the next sequence number; return the frames."""
        seq = self._seq_out.get(topic, 0) + 1
        envelope = self._encode(self.name, seq, self._wall_ns(), payload, trace)
        if topic in self._reliable_out:
            self._keep(topic, seq, envelope)
        self._seq_out[topic] = seq
        self._counts["published"] += 1
        self.topic_out[topic] = self.topic_out.get(topic, 0) + 1
        return topic, envelope

    def _keep(self, topic: bytes, seq: int, envelope: bytes) -> None:
        """A reliable message about to go out: room in its window first (WindowFull, and
        its sequence number not taken, when there is none), then kept until acknowledged."""
        self.reliable.wait_room(topic, len(envelope))
        self.reliable.sent(topic, seq, envelope)

    def send(self, output: str, value: Any, topic: str | None = None) -> None:
        """Publish one value of the declared Output *output* now (``self.enlil.send``).

        An Output declared on a ``prefix.*`` family needs the *topic* to publish
        on, one of that family.
        """
        var = self.spec.outputs.get(output)
        if var is None:
            raise KeyError(f"{self.spec.cls_name} declares no Output {output!r}")
        family = self._output_patterns.get(output)
        if family is not None:
            if topic is None or not any(f.matches(check_topic(topic)) for f in family):
                texts = ", ".join(repr(f.text) for f in family) or "no topic"
                raise ValueError(
                    f"{self.spec.cls_name}.{output} publishes on {texts}: "
                    f"send() needs a topic among those, got {topic!r}"
                )
        elif topic is not None and topic != self.topics[output]:
            raise ValueError(
                f"{self.spec.cls_name}.{output} publishes on "
                f"{self.topics[output]!r} only, not {topic!r}"
            )
        try:
            value = var.check(value)
        except TypeError as exc:
            raise TypeError(
                f"{self.spec.cls_name}.{output} (Output {var.topic!r}): {exc}"
            ) from None
        limited = self._output_limits
        if (
            limited is not None
            and output in limited
            and not self.limits.admit_send(output, value, topic)
        ):
            return
        topic_b = topic.encode() if family is not None and topic else self._output_topics[output]
        seq = self._seq_out.get(topic_b, 0) + 1
        envelope = self._encode(self.name, seq, self._wall_ns(), value, self.trace)
        if topic_b in self._reliable_out:
            self._keep(topic_b, seq, envelope)
        self._seq_out[topic_b] = seq
        self._counts["published"] += 1
        self.topic_out[topic_b] = self.topic_out.get(topic_b, 0) + 1
        if self.reliable.holding and topic_b in self._reliable_out:
            self.reliable.hold((topic_b, envelope))  # sent once the outbox is stored
        elif self.emit is not None:
            self.emit(topic_b, envelope)
        else:
            self._outbox.append((topic_b, envelope))

    def put_out(self, frames: Outgoing) -> None:
        """Send *frames* now (:attr:`emit`) or keep them with the running hook's outputs."""
        if self.emit is not None:
            self.emit(*frames)
        else:
            self._outbox.append(frames)

    def flush(self) -> list[Outgoing]:
        """What the hook that ran published: the Outputs it assigned, after what it sent."""
        return self._flush() if self._outbox or self._dirty else []

    def _flush(self) -> list[Outgoing]:
        dirty = self._dirty
        for name in sorted(dirty) if len(dirty) > 1 else dirty:
            if name in self._output_patterns:
                dirty.clear()
                raise ValueError(
                    f"{self.spec.cls_name}.{name} publishes on several topics "
                    f"({', '.join(self.all_topics[name])}): use self.enlil.send({name!r}, "
                    "value, topic=...)"
                )
            limited = self._output_limits
            if limited is not None and name in limited and not self.limits.admit_output(name):
                continue
            frames = self.publish(self._output_topics[name], self.actor.__dict__[name], self.trace)
            if self.reliable.holding and frames[0] in self._reliable_out:
                self.reliable.hold(frames)
            else:
                self._outbox.append(frames)
        dirty.clear()
        out, self._outbox = self._outbox, []
        return out

    # -- hooks -----------------------------------------------------------------

    def start(self) -> list[Outgoing]:
        """Run ``on_start`` and return what it published; arms the period timer."""
        self.recorder.record(("start", self._now()))
        self.actor.on_start()
        if self.period:
            self._next_period = self._monotonic() + self.period
        return self._flush()

    def resume(self) -> None:
        """Arm the period timer without running ``on_start`` (a swapped-in version)."""
        if self.period:
            self._next_period = self._monotonic() + self.period

    def stop(self) -> list[Outgoing]:
        """Run ``on_stop`` and return what it published."""
        self.recorder.record(("stop", self._now()))
        self.actor.on_stop()
        return self._flush()

    def ready_to_step(self) -> bool:
        """Whether every Input without a default has received a value."""
        if not self._required:
            return True
        values = self.actor.__dict__
        self._required = {name for name in self._required if name not in values}
        return not self._required

    def _step(self) -> None:
        self._counts["steps"] += 1
        self.last_step_ns = self._wall_ns()
        times = self.step_times
        if times is None:
            self.actor.step()
            return
        start = time.perf_counter()
        try:
            self.actor.step()
        finally:
            times.append(time.perf_counter() - start)

    def receive(self, frames: list[bytes]) -> list[Outgoing]:
        """Deliver one received multipart; run ``step()`` if it changed an Input."""
        counts = self._counts
        counts["received"] += 1
        entry = self._inputs_b.get(frames[0]) if len(frames) == MESSAGE_FRAMES else None
        if entry is None and len(frames) == MESSAGE_FRAMES:
            special = self._special.get(frames[0])
            if special is not None:
                return special(frames) + self.rpc.calls_due()
            if self._input_patterns:
                entry = self.routes.match_pattern(frames[0])
        if entry is None:
            if self._reliable_in and frames[0].startswith(_HEARTBEATS):
                return self.reliable.heartbeat(frames)
            self.drops.not_ours(frames)
            return []
        name, topic, _, decode = entry
        try:
            sender, seq, sent_ns, trace, payload = decode(frames[1])
        except WireError as exc:
            counts[exc.reason] += 1
            self.drops.warn_once(exc.reason, sender_of(frames[1]) or "?", topic, str(exc))
            return []
        now_ns = self._wall_ns()
        if now_ns - sent_ns > self._late_ns:
            counts["late"] += 1  # late, whether it is taken or then dropped as a duplicate
        if self._reliable_in and name in self._reliable_in:
            # Held, dropped or delivered in order (with what it frees) by the reader.
            return self.reliable.receive(
                entry, sender, seq, sent_ns, trace, payload, frames, now_ns
            )
        # Gaps are counted, duplicates dropped (inline: this runs for every message).
        key = (sender, topic)
        last = self._seq_in.get(key)
        if last is not None and seq > 1:
            if seq <= last:
                counts["duplicates"] += 1
                self.input_stats[name][1] += 1
                return []
            if seq > last + 1:
                self.drops.gap(name, sender, topic, seq - last - 1)
        return self.deliver(entry, sender, seq, trace, payload, frames, now_ns)

    def deliver(  # noqa: PLR0913, PLR0917 - a message's own fields
        self,
        route: Route,
        sender: str,
        seq: int,
        trace: str | None,
        payload: Any,
        frames: list[bytes],
        now_ns: int,
    ) -> list[Outgoing]:
        """Take message *seq* of *sender* on the Input of *route* (its sequence number
        checked): its type checked, recorded, the Input set and ``step()`` run."""
        counts = self._counts
        name, topic, check, _ = route
        self._seq_in[(sender, topic)] = seq
        try:
            value = check(payload)
        except TypeError as exc:
            counts["type_rejected"] += 1
            tp = type_name(self.spec.inputs[name].type)
            detail = f"input {name!r} wants {tp}: {exc}"
            self.drops.warn_once("type_rejected", sender, topic, detail)
            return []
        counts["accepted"] += 1
        self.topic_in[topic] = self.topic_in.get(topic, 0) + 1
        actor = self.actor
        if self._recording:
            # Kept as received, decoded again only if a snapshot is taken (see _expand);
            # frames in a tuple of their own, not their list: the garbage collector
            # stops tracking a tuple of atomic values, so a long window costs it nothing.
            self._record_message(now_ns, frames[0], frames[1])
        limited = self._input_limits
        if limited is not None and name in limited and not self.limits.admit_input(name, value):
            return []  # shed, or kept for the step the limit allows next
        actor.__dict__[name] = value
        if not (self._step_on_input and (not self._required or self.ready_to_step())):
            return self._flush() if self._outbox or self._dirty else []
        context = actor.enlil
        context.trigger, context.topic, context.sender, context.seq = name, topic, sender, seq
        tracing = self.tracing
        if tracing is None or (trace is None and not tracing.sample_root()):
            # The unsampled path: no span, no SDK call, nothing but this test.
            if self.step_times is None:
                counts["steps"] += 1
                self.last_step_ns = now_ns
                actor.step()
            else:
                self._step()
            return self._flush() if self._outbox or self._dirty else []
        attributes = {
            "enlil.actor": self.name,
            "messaging.destination.name": topic,
            "enlil.sender": sender,
            "enlil.seq": seq,
        }
        return self._traced(tracing, f"{self.name} {topic}", trace, attributes)

    def _traced(
        self, tracing: Tracer, span_name: str, parent: str | None, attributes: dict[str, Any]
    ) -> list[Outgoing]:
        """Run the step in a span; what it publishes carries the span as trace context."""
        span = tracing.start(span_name, parent, attributes)
        self.trace = tracing.traceparent(span)
        token = CURRENT_TRACE.set(self.trace)
        try:
            self._step()
            out = self._flush()
        except BaseException as exc:
            tracing.end(span, exc)
            raise
        finally:
            self.trace = None
            CURRENT_TRACE.reset(token)
        tracing.end(span)
        return out

    def next_deadline(self) -> float | None:
        """Monotonic time of the next periodic step, timer or call timer, or None."""
        first = self.schedule.next_due()
        calls = self.calls.next_due() if self.calls.invocations else None
        if calls is not None:
            first = calls if first is None else min(first, calls)
        if self._reliable_out or self._reliable_in:
            kept = self.reliable.next_due()
            if kept is not None:
                first = kept if first is None else min(first, kept)
        if first is None:
            return self._next_period
        return first if self._next_period is None else min(first, self._next_period)

    def tick(self) -> list[Outgoing]:
        """Run due timers, then the periodic step if it is due; return what they published."""
        out = self.callbacks.run_timers() if self.schedule.timers else []
        if self.calls.invocations or self.calls.ready:
            out += self.rpc.calls_due()
        if self._reliable_out or self._reliable_in:
            out += self.reliable.due()
        if self._next_period is None or self.period is None:
            return out
        now = self._monotonic()
        if now < self._next_period:
            return out
        # Keep the phase; skip missed periods rather than running a burst of steps.
        missed = int((now - self._next_period) // self.period)
        self._next_period += (missed + 1) * self.period
        return out + self.run_tick() if out else self.run_tick()

    def run_tick(self) -> list[Outgoing]:
        """Run the periodic step now (if the required Inputs have values)."""
        if self.ready_to_step():
            self.recorder.record(("tick", self._now()))
            self.actor.enlil.trigger = self.actor.enlil.topic = None
            tracing = self.tracing
            if tracing is not None and tracing.sample_root():
                return self._traced(tracing, f"{self.name} tick", None, {"enlil.actor": self.name})
            self._step()
        return self._flush()

    def statistics(self) -> Statistics:
        """A frozen copy of the counters."""
        return Statistics(**self._counts)

    def _now(self) -> float:
        return self._wall_ns() / 1e9

    def run_callback(self, kind: str, callback: Callable[[], None]) -> list[Outgoing]:
        """Run an IO, timer or reply *callback* like a step (see :class:`Callbacks`)."""
        return self.callbacks.run(kind, callback)
