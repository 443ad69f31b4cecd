"""The detection report: the faults injected, held against what the site counted (pure core).

Each fault has a counter that should show it: a message dropped on its way to
an actor is a ``gap`` of that actor, a duplicate a ``duplicate``, a corrupted
envelope ``malformed``, a message delayed past a later one a ``duplicate``
(receivers keep order and drop it), a crash in a step an exit of the actor,
a hang a ``hung`` exit, a dropped request or reply a resend of the caller.
The faults are grouped by the actor and counter that should show them; a
group whose counter is below its count names what was missed.

Counters are those of each actor's current process (a restart starts them
again), and a sender's very first or very last messages lost look like no
gap at all: read a miss with that in mind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from actors.core.topics import TopicError, parse_pattern

#: (hop, kind) -> (where the fault shows: "receiver", "subscribers", "servers",
#: "callers", "actor"; the counter), or None when nothing counts it.
SHOWN_BY: Final[dict[tuple[str, str], tuple[str, str] | None]] = {
    ("deliver", "drop"): ("receiver", "gaps"),
    ("deliver", "partition"): ("receiver", "gaps"),
    ("deliver", "duplicate"): ("receiver", "duplicates"),
    ("deliver", "corrupt"): ("receiver", "malformed"),
    ("deliver", "delay"): ("receiver", "duplicates"),
    ("deliver", "reorder"): ("receiver", "duplicates"),
    ("deliver", "slow"): None,
    ("publish", "drop"): ("subscribers", "gaps"),
    ("publish", "partition"): ("subscribers", "gaps"),
    ("publish", "duplicate"): ("subscribers", "duplicates"),
    ("publish", "corrupt"): ("subscribers", "malformed"),
    ("publish", "delay"): ("subscribers", "duplicates"),
    ("publish", "reorder"): ("subscribers", "duplicates"),
    ("request", "drop"): ("callers", "resent"),
    ("request", "duplicate"): ("receiver", "duplicates"),
    ("request", "corrupt"): ("receiver", "malformed"),
    ("request", "delay"): None,
    ("reply", "drop"): ("receiver", "resent"),
    ("reply", "duplicate"): None,
    ("reply", "corrupt"): ("receiver", "malformed"),
    ("reply", "delay"): None,
    ("step", "crash"): ("actor", "exits"),
    ("step", "hang"): ("actor", "hung"),
    ("step", "delay"): None,
}


@dataclass(frozen=True)
class Detection:
    """Faults that one actor's counter should show, and what it shows."""

    actor: str
    counter: str
    injected: int
    detected: int | None
    kinds: tuple[str, ...]

    @property
    def verdict(self) -> str:
        """``detected``, ``missed`` or ``not counted`` (no counter shows such a fault)."""
        if self.detected is None:
            return "not counted"
        return "detected" if self.detected >= self.injected else "missed"

    def encode(self) -> dict[str, Any]:
        """A plain record (``--json``)."""
        return {
            "actor": self.actor,
            "counter": self.counter,
            "injected": self.injected,
            "detected": self.detected,
            "kinds": list(self.kinds),
            "verdict": self.verdict,
        }


def _counter(record: dict[str, Any], counter: str, counts: dict[str, Any]) -> int:
    stats = record.get("stats") or {}
    if counter == "resent":
        calls = (record.get("calls") or {}).get("calls") or {}
        return sum(int(c.get("resent", 0)) for c in calls.values() if isinstance(c, dict))
    if counter in ("exits", "hung"):
        exits = counts.get(record["name"]) or {}
        if counter == "hung":
            return int(exits.get("hung", 0))
        return sum(int(n) for k, n in exits.items() if k not in ("normal", "stopped", "restart"))
    return int(stats.get(counter, 0))


def _subscribers(records: list[dict[str, Any]], topic: str, sender: str) -> list[str]:
    out = []
    for record in records:
        if record["name"] == sender:
            continue
        for text in (record.get("topics") or {}).get("subscribed", []):
            try:
                if parse_pattern(text).matches(topic):
                    out.append(record["name"])
                    break
            except TopicError:
                continue
    return out


def detect(faults: dict[str, Any], status: dict[str, Any]) -> list[Detection]:
    """Group the faults injected (the ``faults`` op's ``injected`` and ``entries``) by the
    actor and counter that should show them, against the ``status`` reply."""
    records = [a for a in status.get("actors", []) if a.get("kind") == "actor"]
    by_name = {a["name"]: a for a in records}
    counts = status.get("counts") or {}
    groups: dict[tuple[str, str], list[Any]] = {}
    quiet: dict[tuple[str, str], list[Any]] = {}
    for entry in faults.get("entries", []):
        shown = SHOWN_BY.get((entry["hop"], entry["kind"]))
        kind = f"{entry['hop']} {entry['kind']}"
        if shown is None:
            quiet.setdefault((entry["actor"], "-"), [0, set()])
            quiet[(entry["actor"], "-")][0] += 1
            quiet[(entry["actor"], "-")][1].add(kind)
            continue
        where, counter = shown
        if where == "subscribers":
            actors = _subscribers(records, entry["topic"], entry["actor"])
        elif where == "callers":
            actors = [entry["sender"]]
        else:
            actors = [entry["actor"]]
        for actor in actors:
            group = groups.setdefault((actor, counter), [0, set()])
            group[0] += 1
            group[1].add(kind)
    out = []
    for (actor, counter), (n, kinds) in sorted(groups.items()):
        record = by_name.get(actor)
        seen = _counter(record, counter, counts) if record is not None else 0
        out.append(Detection(actor, counter, n, seen, tuple(sorted(kinds))))
    for (actor, _), (n, kinds) in sorted(quiet.items()):
        out.append(Detection(actor, "-", n, None, tuple(sorted(kinds))))
    return out


def format_report(rows: list[Detection]) -> str:
    """The report for people: one line per actor and counter."""
    if not rows:
        return "no fault injected"
    lines = [f"{'ACTOR':16} {'COUNTER':11} {'INJECTED':>8} {'DETECTED':>8}  VERDICT  (KINDS)"]
    for r in rows:
        seen = "-" if r.detected is None else str(r.detected)
        lines.append(
            f"{r.actor:16} {r.counter:11} {r.injected:>8} {seen:>8}  {r.verdict}  "
            f"({', '.join(r.kinds)})"
        )
    return "\n".join(lines)
