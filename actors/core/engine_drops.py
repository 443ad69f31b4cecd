"""What the engine does with a message it does not take: counted, and said once (pure core).

:class:`Drops` is the engine's collaborator for the messages that go wrong:
malformed frames, topics this actor does not read, values of the wrong type,
and the gaps its Inputs see in a sender's sequence numbers. Each is counted
(in the engine's counters, per Input and per topic) and logged once per
reason, sender and topic, so that a flood of bad messages costs a counter, not
a log line each. The engine's hot path counts duplicates itself (inline).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from actors.core.wire import MESSAGE_FRAMES, WireError, decode_message, sender_of

#: Distinct (reason, sender, topic) drops logged, at most: the counters go on.
_MAX_LOGGED: Final = 1000

#: ``on_gap(input, sender, topic, missed)``, the actor's hook for a gap.
OnGap = Callable[[str, str, str, int], None]


class Drops:
    """The messages one actor instance did not take, and the gaps it saw."""

    def __init__(self, counts: dict[str, int], inputs: list[str], log: Any) -> None:
        self._counts = counts
        self._log = log
        self._logged: set[tuple[str, str, str]] = set()
        #: Per Input: [gaps, duplicates] counted from sequence numbers.
        self.input_stats: dict[str, list[int]] = {name: [0, 0] for name in inputs}
        #: Messages missed per topic read (from sequence numbers).
        self.topic_gaps: dict[str, int] = {}
        #: The actor's ``on_gap`` hook, when it has one.
        self.on_gap: OnGap | None = None

    def gap(self, name: str, sender: str, topic: str, missed: int) -> None:
        """Input *name* missed *missed* messages of *sender* on *topic*."""
        self._counts["gaps"] += missed
        self.input_stats[name][0] += missed
        self.topic_gaps[topic] = self.topic_gaps.get(topic, 0) + missed
        if self.on_gap is not None:
            self.on_gap(name, sender, topic, missed)

    def not_ours(self, frames: list[bytes]) -> None:
        """Count a multipart that is malformed or on a topic this actor does not read."""
        try:
            decode_message(frames)
        except WireError as exc:
            self._counts[exc.reason] += 1
            sender = sender_of(frames[1]) if len(frames) == MESSAGE_FRAMES else None
            topic = frames[0][:64].decode("utf-8", "replace") if frames else ""
            self.warn_once(exc.reason, sender or "?", topic, str(exc))
            return
        self._counts["filtered"] += 1  # a ZeroMQ prefix match that is not ours

    def warn_once(self, reason: str, sender: str, topic: str, detail: str) -> None:
        """Log a drop once per *reason*, *sender* and *topic* (the counters go on)."""
        key = (reason, sender, topic)
        if key in self._logged or len(self._logged) > _MAX_LOGGED:
            return
        self._logged.add(key)
        self._log.warning(
            "message dropped",
            reason=reason,
            sender=sender,
            topic=topic,
            detail=detail,
            note="logged once per sender and topic; see counters",
        )
