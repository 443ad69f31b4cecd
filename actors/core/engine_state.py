"""What an engine hands over, snapshots and reports: its memory, sequences and recorder (pure core).

:class:`StateKeeper` is the engine's collaborator that a hot swap, a retained
value, a snapshot and the introspection of tests and heartbeats use: it owns
the flight recorder and is handed the actor, its memory, the sequence numbers,
the counters and the reply cache; the engine's hot path (receive, step,
publish) stays in :mod:`actors.core.engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from actors.core.actor import Actor
from actors.core.declarations import ActorSpec
from actors.core.engine_types import EngineConfig
from actors.core.memory import Memory
from actors.core.params import Route
from actors.core.recorder import FlightRecorder
from actors.core.requests import ReplyCache
from actors.core.sequences import Sequences
from actors.core.snapshot import Event, Snapshot, describe_exception
from actors.core.wire import WireError, decode_fields

#: A W3C traceparent is version-traceid-parentid-flags: the trace id sits between the
#: first two dashes.
_TRACE_ID_DASHES: Final = 2
_MESSAGE_FRAMES: Final = 2  # topic, envelope

#: Where an engine finds the Input of a message: its :data:`~actors.core.params.Route` or None.
InputOf = Callable[[list[bytes]], "Route | None"]
#: A served request's cached reply, by ``(caller, idempotency key)``: ``(ok, body)``.
Replies = ReplyCache[tuple[bool, Any]]


def _as_is(value: Any) -> Any:
    return value


class StateKeeper:
    """Memory, sequences, recorder and snapshots of one actor instance."""

    def __init__(  # noqa: PLR0913 - the parts it is handed, each by name
        self,
        config: EngineConfig,
        spec: ActorSpec,
        *,
        actor: Actor,
        params: dict[str, Any],
        period: float | None,
        memory: Memory,
        sequences: Sequences,
        counts: dict[str, int],
        replies: Replies,
        served: Mapping[bytes, Any],
        input_of: InputOf,
        wall_ns: Callable[[], int],
    ) -> None:
        self.name = config.name
        self.config = config
        self.spec = spec
        self.actor = actor
        self.params = params
        self.period = period
        self._memory = memory
        self._sequences = sequences
        self._counts = counts
        self._replies = replies
        self._served = served
        self._input_of = input_of
        self._wall_ns = wall_ns
        #: The flight recorder: the last events and the memory before each (snapshots).
        self.recorder: FlightRecorder[Any] = FlightRecorder(
            config.recorder, memory, self.expand, max_bytes=config.recorder_bytes
        )

    def _now(self) -> float:
        return self._wall_ns() / 1e9

    # -- hot swap and retained values ------------------------------------------------

    def sequences(self) -> dict[str, list[list[Any]]]:
        """The last sequence number seen per (sender, topic) and sent per topic, and the
        replies kept for retried requests."""
        replies = [[s, k, ok, body] for (s, k), (ok, body) in self._replies.items()]
        return {**self._sequences.export(), "replies": replies}

    def streams_in(self) -> list[tuple[str, str]]:
        """The (topic, sender) streams this engine has received from."""
        return [(topic, sender) for sender, topic in self._sequences.incoming]

    def adopt_sequences(self, seqs: Mapping[str, Any]) -> None:
        """Continue from another version's :meth:`sequences`: receivers see no gap, and a
        request the old version answered is answered again, not run again."""
        self._sequences.adopt(seqs)
        replies = seqs.get("replies")
        for item in replies if isinstance(replies, list) else []:
            if isinstance(item, list) and len(item) == 4:  # noqa: PLR2004 - [sender, key, ok, body]
                sender, key, ok, body = item
                self._replies.put((sender, key), (bool(ok), body))

    def handed_over(self, frames: list[bytes]) -> bool:
        """Whether the previous version already processed this message (by its sequence)."""
        entry = self._input_of(frames)
        if entry is not None:
            topic = entry[1]
        elif len(frames) == _MESSAGE_FRAMES and frames[0] in self._served:
            topic = frames[0].decode()
        else:
            return False
        try:
            sender, seq, _, _, _ = (entry[3] if entry else decode_fields)(frames[1])
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
        name, topic, check, decode = entry
        try:
            sender, seq, _, _, payload = decode(frames[1])
            value = check(payload)
        except WireError as exc:
            self._counts[exc.reason] += 1
            return None
        except TypeError:
            self._counts["type_rejected"] += 1
            return None
        self._sequences.prime(sender, topic, seq)
        self.actor.__dict__[name] = value
        return str(name)

    def expand(self, event: tuple[Any, ...]) -> Event:
        """A recorded event as an :class:`Event`: a message ``(arrival ns, topic, envelope)``
        decoded."""
        if type(event[0]) is not int:
            return Event(*event)
        now_ns, *frames = event
        entry = self._input_of(frames)
        check: Callable[[Any], Any] = _as_is
        if entry is None:  # a request to a service (its call envelope as the payload)
            topic = frames[0].decode()
            sender, seq, timestamp_ns, trace, payload = decode_fields(frames[1])
        else:
            _, topic, check, decode = entry
            sender, seq, timestamp_ns, trace, payload = decode(frames[1])
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
            topics=dict(self.config.actor.topics),
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

    def state(self) -> dict[str, Any]:
        """Current values of the declared State variables."""
        return {name: getattr(self.actor, name) for name in self.spec.states}

    def outputs(self) -> dict[str, Any]:
        """Last assigned value of each declared Output."""
        return {name: getattr(self.actor, name) for name in self.spec.outputs}

    def inputs(self) -> dict[str, Any]:
        """Latest value of each declared Input."""
        return {name: getattr(self.actor, name) for name in self.spec.inputs}
