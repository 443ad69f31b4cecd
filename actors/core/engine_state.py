"""What an engine hands over, snapshots and reports: its memory, sequences and counters (pure core).

The part of :class:`~actors.core.engine.ActorEngine` that a hot swap, a
retained value, a snapshot and the introspection of tests and heartbeats use;
the engine's hot path (receive, step, publish) stays in :mod:`actors.core.engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from actors.core.actor import Actor
from actors.core.declarations import ActorSpec
from actors.core.engine_types import EngineConfig, Statistics
from actors.core.memory import Memory
from actors.core.recorder import FlightRecorder
from actors.core.sequences import Sequences
from actors.core.snapshot import Event, Snapshot, describe_exception
from actors.core.wire import WireError, decode_fields

#: A W3C traceparent is version-traceid-parentid-flags: the trace id sits between the
#: first two dashes.
_TRACE_ID_DASHES: Final = 2


def _as_is(value: Any) -> Any:
    return value


class EngineState:
    """Memory, sequences, snapshots and counters of one actor instance (a mixin of the engine)."""

    name: str
    config: EngineConfig
    spec: ActorSpec
    actor: Actor
    params: dict[str, Any]
    period: float | None
    recorder: FlightRecorder[Any]
    _memory: Memory
    _sequences: Sequences
    _counts: dict[str, int]
    _next_period: float | None
    _monotonic: Callable[[], float]
    _wall_ns: Callable[[], int]
    served: dict[bytes, Any]
    # Given by the engine's calls part (:mod:`actors.core.engine_calls`).
    replies: Callable[[], list[list[Any]]]
    adopt_replies: Callable[[Any], None]

    def _input_of(self, frames: list[bytes]) -> tuple[str, str, Callable[[Any], Any]] | None:
        raise NotImplementedError

    def _now(self) -> float:
        return self._wall_ns() / 1e9

    # -- hot swap and retained values ------------------------------------------------

    def sequences(self) -> dict[str, list[list[Any]]]:
        """The last sequence number seen per (sender, topic) and sent per topic, and the
        replies kept for retried requests."""
        return {**self._sequences.export(), "replies": self.replies()}

    def streams_in(self) -> list[tuple[str, str]]:
        """The (topic, sender) streams this engine has received from."""
        return [(topic, sender) for sender, topic in self._sequences.incoming]

    def adopt_sequences(self, seqs: Mapping[str, Any]) -> None:
        """Continue from another version's :meth:`sequences`: receivers see no gap, and a
        request the old version answered is answered again, not run again."""
        self._sequences.adopt(seqs)
        self.adopt_replies(seqs.get("replies"))

    def handed_over(self, frames: list[bytes]) -> bool:
        """Whether the previous version already processed this message (by its sequence)."""
        entry = self._input_of(frames)
        if entry is not None:
            topic = entry[1]
        elif len(frames) == 2 and frames[0] in self.served:  # noqa: PLR2004 - topic, envelope
            topic = frames[0].decode()
        else:
            return False
        try:
            sender, seq, _, _, _ = decode_fields(frames[1])
        except WireError:
            return False
        return self._sequences.seen(sender, topic, seq)

    def prime(self, frames: list[bytes]) -> str | None:
        """Put a retained message's value in its Input without running a step.

        For a starting actor (before ``on_start``): the value and its sequence
        number are taken as if received, so the next message from the same
        sender continues the sequence. Returns the Input's name, or None when
        the message is not for this actor or not valid (it is counted then).
        """
        entry = self._input_of(frames)
        if entry is None:
            return None
        name, topic, check = entry
        try:
            sender, seq, _, _, payload = decode_fields(frames[1])
            value = check(payload)
        except WireError as exc:
            self._counts[exc.reason] += 1
            return None
        except TypeError:
            self._counts["type_rejected"] += 1
            return None
        self._sequences.prime(sender, topic, seq)
        self.actor.__dict__[name] = value
        return name

    def _expand(self, event: tuple[Any, ...]) -> Event:
        """A recorded event as an :class:`Event`: a message ``(arrival ns, topic, envelope)``
        decoded."""
        if type(event[0]) is not int:
            return Event(*event)
        now_ns, *frames = event
        entry = self._input_of(frames)
        sender, seq, timestamp_ns, trace, payload = decode_fields(frames[1])
        check: Callable[[Any], Any] = _as_is
        if entry is None:  # a request to a service (its call envelope as the payload)
            topic = frames[0].decode()
        else:
            _, topic, check = entry
        return Event(
            "message", now_ns / 1e9, topic, sender, seq, timestamp_ns, check(payload), trace
        )

    # -- memory, snapshots and restore -------------------------------------------

    def memory(self) -> dict[str, Any]:
        """What restores the actor: State values, and the Inputs/Outputs that have values."""
        return self._memory.now()

    def restore(self, memory: Mapping[str, Any]) -> None:
        """Put State, Input and Output values back as :meth:`memory` gave them."""
        self._memory.restore(memory)

    def snapshot(self, reason: str, exc: BaseException | None = None) -> Snapshot:
        """A snapshot of the recorder; with *exc*, of the failure of the last event."""
        events = self.recorder.events()
        # The failing event is the newest whole one: the outcomes of calls its step made
        # (recorded aside) come after it.
        failed = len(events) - 1 - self.recorder.asides_after_last
        failing = exc is not None and failed >= 0
        trace = events[failed].trace if failing else None
        return Snapshot(
            actor=self.name,
            class_path=self.config.class_path,
            reason=reason,
            time=self._now(),
            params=dict(self.params),
            topics=dict(self.config.topics),
            period=self.period,
            initial=self.recorder.initial(),
            events=events,
            failed_event=failed if failing else None,
            state=self.recorder.last_memory() if failing else self.memory(),
            exception=describe_exception(exc) if exc is not None else None,
            trace_id=trace.split("-")[1]
            if trace and trace.count("-") >= _TRACE_ID_DASHES
            else None,
        )

    # -- introspection ---------------------------------------------------------

    def statistics(self) -> Statistics:
        """A frozen copy of the counters."""
        return Statistics(**self._counts)

    def state(self) -> dict[str, Any]:
        """Current values of the declared State variables."""
        return {name: getattr(self.actor, name) for name in self.spec.states}

    def outputs(self) -> dict[str, Any]:
        """Last assigned value of each declared Output."""
        return {name: getattr(self.actor, name) for name in self.spec.outputs}

    def inputs(self) -> dict[str, Any]:
        """Latest value of each declared Input."""
        return {name: getattr(self.actor, name) for name in self.spec.inputs}
