"""Sequence numbers: the last one seen per (sender, topic) and sent per topic (pure core).

Receivers detect gaps and duplicates with them; a hot swap hands them from
the old version to the new one, so that the cut between the two is exact
and the new version's first message continues the old one's numbering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Sequences:
    """The two tables; the engine reads and writes ``incoming`` and ``outgoing`` inline."""

    def __init__(self) -> None:
        self.incoming: dict[tuple[str, str], int] = {}
        self.outgoing: dict[bytes, int] = {}

    def export(self) -> dict[str, list[list[Any]]]:
        """Both tables as plain lists (what a handover carries)."""
        return {
            "in": [[sender, topic, seq] for (sender, topic), seq in self.incoming.items()],
            "out": [[topic.decode(), seq] for topic, seq in self.outgoing.items()],
        }

    def adopt(self, seqs: Mapping[str, Any]) -> None:
        """Continue from another version's :meth:`export`: receivers see no gap."""
        for sender, topic, seq in seqs.get("in", []):
            self.incoming[(sender, topic)] = seq
        for topic, seq in seqs.get("out", []):
            self.outgoing[topic.encode()] = seq

    def seen(self, sender: str, topic: str, seq: int) -> bool:
        """Whether message *seq* of *sender* on *topic* was processed already."""
        last = self.incoming.get((sender, topic))
        # A sender that restarted begins again at 1: that is new, unless it was the last seen.
        return last is not None and seq <= last and not (seq == 1 and last > 1)

    def prime(self, sender: str, topic: str, seq: int) -> None:
        """Take *seq* as received (a retained value), unless a later one was."""
        self.incoming[(sender, topic)] = max(seq, self.incoming.get((sender, topic), 0))
