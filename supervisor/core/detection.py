"""The detection report: the faults injected, held against what the site counted (pure core).

Each fault has a counter that should show it: a message dropped on its way to
an actor is a ``gap`` of that actor, a duplicate a ``duplicate``, a corrupted
envelope ``malformed``, a delayed message ``late`` (older than the receiver's
``late_after`` when delivered; one delayed past a later one is also a
``duplicate``: receivers keep order and drop it), a crash in a step or a
failed spawn an exit of the actor, a hang a ``hung`` exit, a dropped request
or reply a resend of the caller, a duplicated reply a ``stray`` one, a failed
write ``snapshots_failed`` or ``log_lost``, an unplugged link a reconnect. A
message dropped on its way to a reader of a *reliable* topic (one that takes the
writer's heartbeats) is sent again and shows as ``recovered``, not as a gap: each
message once, however often its copies were dropped (a dropped resend of a
message the reader had is no loss at all). For the topic's at-most-once
subscribers such a drop is unseeable: the resend reaches them too, late or after
a gap.
The faults are grouped by the actor and counter that should show them; a
group whose counter is below its count, less the faults no counter can show,
names what was missed.

Counters are an actor's totals over all its processes (the supervisor sums
them at each exit; an injected crash sends its counters just before it
goes). A message lost before the first one of its stream that a receiving
process got cannot show as a gap, nor can a delayed or duplicated copy that
was still held when an injected crash ended its process: the ledger marks
both (``edge``), and they count as unseeable rather than missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from actors.core.engine_types import COUNTERS
from actors.core.topics import TopicError, parse_pattern

#: The counters of a process that are summed over an actor's processes (its totals).
CARRIED: Final = (
    *COUNTERS,
    "log_lost",
    "snapshots_failed",
    "deferred_dropped",
    "resent",
    "stray",
)

#: (hop, kind) -> (where the fault shows: "receiver", "subscribers", "servers",
#: "callers", "actor", "spawned", "host": the subscribers of one host; the counter), or
#: None when nothing counts it.
SHOWN_BY: Final[dict[tuple[str, str], tuple[str, str] | None]] = {
    ("deliver", "drop"): ("receiver", "gaps"),
    ("deliver", "partition"): ("receiver", "gaps"),
    ("deliver", "duplicate"): ("receiver", "duplicates"),
    ("deliver", "corrupt"): ("receiver", "malformed"),
    ("deliver", "delay"): ("receiver", "late"),
    ("deliver", "reorder"): ("receiver", "duplicates"),
    ("deliver", "slow"): None,
    ("publish", "drop"): ("subscribers", "gaps"),
    ("publish", "partition"): ("subscribers", "gaps"),
    ("publish", "duplicate"): ("subscribers", "duplicates"),
    ("publish", "corrupt"): ("subscribers", "malformed"),
    ("publish", "delay"): ("subscribers", "late"),
    ("publish", "reorder"): ("subscribers", "duplicates"),
    ("request", "drop"): ("callers", "resent"),
    ("request", "duplicate"): ("receiver", "duplicates"),
    ("request", "corrupt"): ("receiver", "malformed"),
    ("request", "delay"): None,
    ("reply", "drop"): ("receiver", "resent"),
    ("reply", "duplicate"): ("receiver", "stray"),
    ("reply", "corrupt"): ("receiver", "malformed"),
    ("reply", "delay"): None,
    ("step", "crash"): ("actor", "exits"),
    ("step", "hang"): ("actor", "hung"),
    ("step", "delay"): None,
    ("spawn", "crash"): ("spawned", "exits"),
    ("spawn", "delay"): None,
    # A chunk lost or flipped may or may not break a frame: nothing counts it for sure.
    ("link", "drop"): None,
    ("link", "corrupt"): None,
    ("link", "partition"): ("actor", "reconnects"),
    ("write", "crash"): ("actor", "write"),
    ("control", "drop"): None,
    ("control", "delay"): None,
    # What a host's broker took from another host (``actor``: ``host:<that host>``): a
    # message lost or held for every subscriber of that host.
    ("host", "drop"): ("host", "gaps"),
    ("host", "partition"): ("host", "gaps"),
    ("host", "delay"): ("host", "late"),
}


def counters(heartbeat: Mapping[str, Any]) -> dict[str, int]:
    """The summable counters of one heartbeat map (or status record): see
    :func:`counters_of`."""
    return counters_of(heartbeat.get("stats"), heartbeat.get("calls"))


def counters_of(stats: Any, calls: Any) -> dict[str, int]:
    """The summable counters of one heartbeat's *stats* and *calls*: its engine and write
    counters and the resends of its calls (non-zero ones; anything odd is left out)."""
    stats = stats if isinstance(stats, dict) else {}
    out = {k: v for k in CARRIED if type(v := stats.get(k)) is int and v > 0}
    table = calls.get("calls") if isinstance(calls, dict) else None
    if isinstance(table, dict):
        resent = sum(
            c["resent"]
            for c in list(table.values())[:1000]
            if isinstance(c, dict) and type(c.get("resent")) is int and c["resent"] > 0
        )
        if resent:
            out["resent"] = resent
    stray = calls.get("stray") if isinstance(calls, dict) else None
    if type(stray) is int and stray > 0:
        out["stray"] = stray
    return out


@dataclass(frozen=True)
class Detection:
    """Faults that one actor's counter should show, and what it shows."""

    actor: str
    counter: str
    injected: int
    detected: int | None
    kinds: tuple[str, ...]
    #: Of *injected*, those no counter can show (at a stream's start, or held by a
    #: process that an injected crash ended).
    unseeable: int = 0
    #: Whether the group's newest fault is too recent to be held against its counter yet
    #: (a dropped message shows as a gap only when the next one comes).
    recent: bool = False

    @property
    def verdict(self) -> str:
        """``detected``, ``missed``, ``pending`` (short, but its newest fault is recent:
        its detection may still be on its way) or ``not counted`` (no counter shows such
        a fault)."""
        if self.detected is None:
            return "not counted"
        if self.detected >= self.injected - self.unseeable:
            return "detected"
        return "pending" if self.recent else "missed"

    def encode(self) -> dict[str, Any]:
        """A plain record (``--json``)."""
        return {
            "actor": self.actor,
            "counter": self.counter,
            "injected": self.injected,
            "unseeable": self.unseeable,
            "detected": self.detected,
            "kinds": list(self.kinds),
            "verdict": self.verdict,
        }


def _counter(record: dict[str, Any], counter: str, counts: dict[str, Any]) -> int:
    if counter in ("exits", "hung"):
        exits = counts.get(record["name"]) or {}
        if counter == "hung":
            return int(exits.get("hung", 0))
        return sum(int(n) for k, n in exits.items() if k not in ("normal", "stopped", "restart"))
    totals = record.get("totals")
    if not isinstance(totals, dict):
        totals = counters(record)
    if counter in totals or counter in CARRIED:
        return int(totals.get(counter, 0))
    metric = (record.get("metrics") or {}).get(counter)  # a HAL link's reconnects
    return metric if type(metric) is int else 0


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


#: A reader subscribes to this prefix plus a topic it reads reliably (the heartbeats).
_HEARTBEATS: Final = "$sys.hb."


def _reliably(record: dict[str, Any] | None, topic: str) -> bool:
    """Whether the actor of *record* reads *topic* reliably (takes its heartbeats)."""
    if record is None:
        return False
    for text in (record.get("topics") or {}).get("subscribed", []):
        if isinstance(text, str) and text.startswith(_HEARTBEATS):
            try:
                if parse_pattern(text[len(_HEARTBEATS) :]).matches(topic):
                    return True
            except TopicError:
                continue
    return False


def _where(
    entry: dict[str, Any], records: list[dict[str, Any]]
) -> list[tuple[str, str, bool]] | None:
    """The (actor, counter, unseeable) that should show *entry*, or None (nothing counts
    it). A message dropped on a topic that some actor reads reliably is sent again to
    every subscriber once a reliable reader asks: an at-most-once subscriber may then get
    it late, or see a gap; its counters cannot tell which, so the drop is unseeable for
    it."""
    shown = SHOWN_BY.get((entry["hop"], entry["kind"]))
    if shown is None:
        return None
    where, counter = shown
    if counter == "write":
        counter = "snapshots_failed" if entry["topic"] == "snapshot" else "log_lost"
    if where == "subscribers":
        actors = _subscribers(records, entry["topic"], entry["actor"])
    elif where == "host":  # the subscribers on the host that took it (a site of several)
        host = entry["actor"].removeprefix("host:")
        on_host = [r for r in records if r.get("host") == host]
        actors = _subscribers(on_host, entry["topic"], entry["sender"])
    elif where == "callers":
        actors = [entry["sender"]]
    elif where == "spawned":
        actors = [entry["topic"]]
    else:
        actors = [entry["actor"]]
    if counter != "gaps":
        return [(a, counter, False) for a in actors]
    by_name = {r["name"]: r for r in records}
    reliably = {a: _reliably(by_name.get(a), entry["topic"]) for a in actors}
    resent = any(_reliably(r, entry["topic"]) for r in records)
    return [(a, "recovered", False) if reliably[a] else (a, counter, resent) for a in actors]


def _lost_notes(entries: list[dict[str, Any]]) -> dict[tuple[Any, ...], int]:
    """How many ``lost`` notes name each fault (by its identity)."""
    notes: dict[tuple[Any, ...], int] = {}
    for entry in entries:
        if entry.get("edge") == "lost":
            key = _identity(entry)
            notes[key] = notes.get(key, 0) + 1
    return notes


def _identity(entry: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(entry.get(k) for k in ("rule", "hop", "kind", "topic", "sender", "seq", "actor"))


def detect(
    faults: dict[str, Any], status: dict[str, Any], recent_since: float | None = None
) -> list[Detection]:
    """Group the faults injected (the ``faults`` op's ``entries``) by the actor and
    counter that should show them, against the ``status`` reply. A group with a fault
    injected after *recent_since* (wall seconds) that its counter does not show yet is
    ``pending``, not ``missed``."""
    records = [a for a in status.get("actors", []) if a.get("kind") == "actor"]
    by_name = {a["name"]: a for a in records}
    counts = status.get("counts") or {}
    entries = faults.get("entries", [])
    notes = _lost_notes(entries)
    groups: dict[tuple[str, str], list[Any]] = {}
    quiet: dict[tuple[str, str], list[Any]] = {}
    recovering: set[tuple[str, tuple[Any, ...]]] = set()
    for entry in entries:
        if entry.get("edge") == "lost":
            continue
        kind = f"{entry['hop']} {entry['kind']}"
        unseeable = entry.get("edge") == "start"
        key = _identity(entry)
        if notes.get(key):
            notes[key] -= 1
            unseeable = True
        found = _where(entry, records)
        if found is None:
            group = quiet.setdefault((entry["actor"], "-"), [0, set(), 0])
            group[0] += 1
            group[1].add(kind)
            continue
        when = entry.get("time")
        is_recent = recent_since is not None and isinstance(when, float) and when >= recent_since
        message = (entry.get("topic"), entry.get("sender"), entry.get("seq"))
        for actor, counter, resent in found:
            if counter == "recovered":
                # One recovery per message: its first copy lost (a resend lost too is
                # the same message; a lost resend of one the reader had, no loss).
                if entry.get("attempt", 0) or (actor, message) in recovering:
                    continue
                recovering.add((actor, message))
            group = groups.setdefault((actor, counter), [0, set(), 0, False])
            group[0] += 1
            group[1].add(kind)
            group[2] += int(unseeable or resent)
            group[3] = group[3] or is_recent
    out = []
    for (actor, counter), (n, kinds, unseen, recent) in sorted(groups.items()):
        record = by_name.get(actor)
        seen = _counter(record, counter, counts) if record is not None else 0
        out.append(Detection(actor, counter, n, seen, tuple(sorted(kinds)), unseen, recent))
    for (actor, _), (n, kinds, _) in sorted(quiet.items()):
        out.append(Detection(actor, "-", n, None, tuple(sorted(kinds))))
    return out


def format_report(rows: list[Detection]) -> str:
    """The report for people: one line per actor and counter."""
    if not rows:
        return "no fault injected"
    lines = [
        f"{'ACTOR':16} {'COUNTER':16} {'INJECTED':>8} {'UNSEEABLE':>9} {'DETECTED':>8}  "
        "VERDICT  (KINDS)"
    ]
    for r in rows:
        seen = "-" if r.detected is None else str(r.detected)
        lines.append(
            f"{r.actor:16} {r.counter:16} {r.injected:>8} {r.unseeable:>9} {seen:>8}  "
            f"{r.verdict}  ({', '.join(r.kinds)})"
        )
    return "\n".join(lines)
