"""What the web view shows, computed from what a tool sees of a site (pure core, no IO).

:class:`SiteView` takes the supervisor's ``status`` replies (one per second or
so) and turns them into the rows of the site table (with message rates from
the counters' deltas) and the live dataflow graph (actors, topics, services,
each edge with its rate, gaps and the faults injected on it). :func:`event_row`
turns a ``$sys.event``, ``$sys.fault`` or ``$sys.log.*`` message into a line of
the events feed. :class:`Tap` keeps a bounded sample of one topic's messages
and its rate, so that a fast topic cannot flood a page.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Final

#: Events kept for a page that connects (the newest).
EVENTS_KEPT: Final = 500
#: Messages of a tapped topic kept and sent per push, at most.
TAP_KEPT: Final = 20
#: Log records shown in the feed: warnings and worse.
FEED_LEVELS: Final = frozenset({"warning", "error", "critical"})
#: Seconds an actor's row and node stay marked after its process ended (a restart can take
#: less than a status period: the mark is how a page sees it at all).
FLASH: Final = 2.0
#: Counters of rejected messages (a row's "rejected").
REJECTED: Final = ("malformed", "unsupported_version", "type_rejected")
#: Seconds of status replies a rate is taken over.
RATE_WINDOW: Final = 5.0
#: Calls and services drawn per actor, at most (a bound on what a heartbeat can cost).
_EDGES: Final = 1000


def _int(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _rate(now: int, before: int | None, seconds: float) -> float:
    """Per second between two readings of a counter (a reset counts from zero)."""
    if before is None or seconds <= 0:
        return 0.0
    delta = now - before if now >= before else now
    return round(delta / seconds, 2)


@dataclass
class SiteView:
    """The site table and the live graph, from successive ``status`` replies."""

    #: (actor, counter or "in:topic"/"out:topic") -> the value at the last reply.
    _last: dict[tuple[str, str], int] = field(default_factory=dict)
    _last_at: float | None = None
    #: Faults injected, per (hop, topic, actor), from the ledger's messages.
    faults: collections.Counter[tuple[str, str, str]] = field(default_factory=collections.Counter)
    #: Faults injected in each actor, every process of it (a crashed one's included).
    actor_faults: collections.Counter[str] = field(default_factory=collections.Counter)
    #: When each actor's process last ended (monotonic), from ``exited`` events.
    exits: dict[str, float] = field(default_factory=dict)
    #: The counters of the replies of the last :data:`RATE_WINDOW` seconds (rates).
    _history: collections.deque[tuple[float, dict[tuple[str, str], int]]] = field(
        default_factory=collections.deque
    )
    _now: float = 0.0
    #: The services each actor serves, as its last status said.
    _serves: dict[str, list[Any]] = field(default_factory=dict)
    #: (actor, messages missed since the last reply, its total): for the events feed.
    new_gaps: list[tuple[str, int, int]] = field(default_factory=list)

    def exited(
        self, actor: str, now: float, latest: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """An ``exited`` event: *latest* (the last ``site`` message) with *actor* marked
        as ended now (a new message, for the pages), or None if there was none."""
        self.exits[actor] = now
        if latest is None or not latest.get("actors"):
            return None
        rows = [
            {**r, "state": "exited", "recent_exit": True} if r.get("name") == actor else r
            for r in latest["actors"]
        ]
        graph = latest.get("graph") or {}
        nodes = [
            {**n, "state": "exited", "recent_exit": True} if n.get("id") == f"a:{actor}" else n
            for n in graph.get("nodes", [])
        ]
        return {**latest, "actors": rows, "graph": {**graph, "nodes": nodes}}

    def take_fault(self, entry: dict[str, Any]) -> None:
        """Count a ``$sys.fault`` entry against its edge."""
        if entry.get("edge") == "lost":
            return
        key = (str(entry.get("hop")), str(entry.get("topic")), str(entry.get("actor")))
        self.faults[key] += 1
        self.actor_faults[key[2]] += 1

    def _rate(self, key: tuple[str, str], value: int, seconds: float) -> float:
        """Per second, over the last :data:`RATE_WINDOW` seconds of replies (a call every
        2 s is 0.5/s, not 1 and 0 in turn); since the last reply when the counter reset."""
        if self._history:
            at, counts = self._history[0]
            before = counts.get(key)
            if before is not None and value >= before and self._now > at:
                return round((value - before) / (self._now - at), 2)
        return _rate(value, self._last.get(key), seconds)

    def update(self, status: dict[str, Any], now: float) -> dict[str, Any]:
        """The page's ``site`` message for *status*, taken at *now* (monotonic seconds)."""
        seconds = now - self._last_at if self._last_at is not None else 0.0
        self._now = now
        last, current = self._last, {}
        rows: list[dict[str, Any]] = []
        nodes: dict[str, dict[str, Any]] = {}
        edges: list[dict[str, Any]] = []
        hal: set[str] = set()
        for record in status.get("actors", []):
            name = str(record.get("name"))
            stats = record.get("stats") or {}
            topics = record.get("topics") or {}
            recent = now - self.exits.get(name, -FLASH) < FLASH
            row = {
                "name": name,
                "recent_exit": recent,
                "kind": record.get("kind"),
                "class": record.get("class"),
                "state": record.get("state"),
                "pid": record.get("pid"),
                "restarts": record.get("restarts"),
                "uptime": record.get("uptime"),
                "last_exit": record.get("last_exit"),
                "gaps": _int(stats.get("gaps")),
                "duplicates": _int(stats.get("duplicates")),
                "late": _int(stats.get("late")),
                "rejected": sum(_int(stats.get(k)) for k in REJECTED),
                # The ledger's count covers the processes a crash ended; the heartbeat's,
                # the faults of a process from before the view began.
                "faults": max(
                    sum(_int(n) for n in (record.get("faults") or {}).values()),
                    self.actor_faults[name],
                ),
            }
            gaps = row["gaps"]
            before = last.get((name, "gaps"))
            current[(name, "gaps")] = gaps
            if before is not None and gaps > before:
                self.new_gaps.append((name, gaps - before, gaps))
            for counter, key in (("received", "in_rate"), ("published", "out_rate")):
                value = _int(stats.get(counter))
                current[(name, counter)] = value
                row[key] = self._rate((name, counter), value, seconds)
            rows.append(row)
            if record.get("kind") != "actor":
                continue
            nodes[f"a:{name}"] = {
                "id": f"a:{name}",
                "kind": "actor",
                "label": name,
                "state": record.get("state"),
                "recent_exit": recent,
            }
            edges += self._edges(name, topics, (current, seconds), nodes)
            edges += self._calls(name, record.get("calls"), (current, seconds), nodes)
            if record.get("hal") is True:
                hal.add(name)
        rows += [_elsewhere(record) for record in status.get("elsewhere", [])[:10_000]]
        behind = _behind(status.get("actors", []))
        for edge in edges:  # a reliable topic's reader: what its writers still keep for it
            lag = behind.get((edge["topic"], edge["to"]))
            if lag is not None:
                edge["behind"] = lag
        self._last, self._last_at = current, now
        self._history.append((now, current))
        while len(self._history) > 1 and self._history[0][0] < now - RATE_WINDOW:
            self._history.popleft()
        _fold_hardware_status(nodes, edges, hal)
        return {
            "type": "site",
            "site": status.get("site"),
            # A site of several hosts: this one (whose clock the times are) and the others.
            **(
                {"host": status["host"], "hosts": status.get("hosts")} if status.get("host") else {}
            ),
            "supervisor": status.get("supervisor"),
            "actors": rows,
            "graph": {"nodes": list(nodes.values()), "edges": edges},
        }

    def _edges(
        self,
        name: str,
        topics: dict[str, Any],
        now: tuple[dict[tuple[str, str], int], float],
        nodes: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The edges of actor *name*; *now*: the counters read so far and the seconds since
        the last reply."""
        current, seconds = now
        counts_in, counts_out, gaps = (_map(topics.get(k)) for k in ("in", "out", "gaps"))
        serves = topics.get("serves")
        self._serves[name] = serves[:_EDGES] if isinstance(serves, list) else []
        actor = f"a:{name}"
        edges = []
        for direction, counts in (("in", counts_in), ("out", counts_out)):
            for topic, n in counts.items():
                if not isinstance(topic, str) or topic.startswith("$"):
                    continue
                key = (name, f"{direction}:{topic}")
                current[key] = _int(n)
                node = _node(nodes, "t", "topic", topic)
                rate = self._rate(key, _int(n), seconds)
                if direction == "in":
                    faults = self.faults[("deliver", topic, name)]
                    edge = _edge((node, actor), topic, faults, rate, _int(n))
                    edge["gaps"] = _int(gaps.get(topic))
                else:
                    faults = self.faults[("publish", topic, name)]
                    edge = _edge((actor, node), topic, faults, rate, _int(n))
                edges.append(edge)
        for pattern in topics.get("subscribed") or []:  # read, but nothing came yet
            if isinstance(pattern, str) and pattern[:1] != "$" and pattern not in counts_in:
                node = _node(nodes, "t", "topic", pattern)
                edges.append(_edge((node, actor), pattern, self.faults[("deliver", pattern, name)]))
        return edges

    def _calls(
        self,
        name: str,
        calls: Any,
        now: tuple[dict[tuple[str, str], int], float],
        nodes: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Actor *name*'s call edges (to each service it calls, at its rate of calls) and
        serve edges (from each service it serves, at its rate of requests)."""
        current, seconds = now
        actor = f"a:{name}"
        edges = []
        table = calls if isinstance(calls, dict) else {}
        lines = _map(table.get("calls"))
        for line in list(lines.values())[:_EDGES]:
            service = line.get("service") if isinstance(line, dict) else None
            if not isinstance(service, str):
                continue
            key = (name, f"call:{service}")
            n = current[key] = current.get(key, 0) + _int(line.get("calls"))
            node = _node(nodes, "s", "service", service)
            edges.append(_edge((actor, node), service, 0, 0.0, n, kind="call"))
        requests: dict[str, int] = {}
        for counts in list(_map(table.get("services")).values())[:_EDGES]:
            if isinstance(counts, dict) and isinstance(counts.get("service"), str):
                service = counts["service"]
                requests[service] = requests.get(service, 0) + _int(counts.get("requests"))
        for service in [s for s in (self._serves.get(name) or []) if isinstance(s, str)]:
            n = requests.get(service, 0)
            current[(name, f"serve:{service}")] = n
            node = _node(nodes, "s", "service", service)
            faults = self.faults[("request", service, name)]
            edges.append(_edge((node, actor), service, faults, 0.0, n, kind="serve"))
        for edge in edges:  # the rates, now that each key's count is whole
            key = (name, f"{edge['kind']}:{edge['topic']}")
            edge["rate"] = self._rate(key, current[key], seconds)
        return edges


def _behind(records: list[Any]) -> dict[tuple[str, str], int]:
    """(topic, ``a:<reader>``) -> messages its reliable writers sent that the reader has not
    acknowledged yet, summed over the writers (from each writer's ``reliable.out``)."""
    out: dict[tuple[str, str], int] = {}
    for record in records:
        reliable = record.get("reliable") if isinstance(record, dict) else None
        written = reliable.get("out") if isinstance(reliable, dict) else None
        for topic, kept in _map(written).items():
            if not isinstance(kept, dict) or not isinstance(kept.get("readers"), dict):
                continue
            last = _int(kept.get("last"))
            for reader, acked in kept["readers"].items():
                key = (str(topic), f"a:{reader}")
                out[key] = out.get(key, 0) + max(0, last - _int(acked))
    return out


def _node(nodes: dict[str, dict[str, Any]], prefix: str, kind: str, label: str) -> str:
    """The id of the graph's node for *label* (added if new)."""
    ident = f"{prefix}:{label}"
    nodes.setdefault(ident, {"id": ident, "kind": kind, "label": label})
    return ident


def _edge(  # noqa: PLR0913 - an edge's fields
    ends: tuple[str, str],
    topic: str,
    faults: int,
    rate: float = 0.0,
    count: int = 0,
    *,
    kind: str = "topic",
) -> dict[str, Any]:
    return {
        "from": ends[0],
        "to": ends[1],
        "kind": kind,
        "topic": topic,
        "rate": rate,
        "count": count,
        "gaps": 0,
        "faults": faults,
    }


def _fold_hardware_status(
    nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]], hal: set[str]
) -> None:
    """Mark the status topics of HAL actors (published by one HAL actor, read by no actor)
    with the family they fold into (``fold``: ``room.*``), for the page to draw as one
    node when asked."""
    writers: dict[str, set[str]] = {}
    read: set[str] = set()
    for edge in edges:
        if edge["to"].startswith("t:"):
            writers.setdefault(edge["to"], set()).add(edge["from"])
        if edge["from"].startswith("t:"):
            read.add(edge["from"])
    for ident, by in writers.items():
        node = nodes.get(ident)
        (writer,) = by if len(by) == 1 else ("",)
        if node is None or ident in read or writer.removeprefix("a:") not in hal:
            continue
        label = str(node["label"])
        if "." in label:
            node["fold"] = label.rsplit(".", 1)[0] + ".*"


def _elsewhere(record: Any) -> dict[str, Any]:
    """A row of another host's actor, as its host's report says (what this host does not
    count is None: shown as "-"); its actions go to that host's supervisor."""
    record = _map(record)
    counters = ("gaps", "duplicates", "late", "rejected", "faults", "in_rate", "out_rate")
    return {
        "name": str(record.get("name")),
        "host": record.get("host"),
        "recent_exit": False,
        "kind": "actor",
        "class": None,
        "state": record.get("state"),
        "pid": record.get("pid"),
        "restarts": record.get("restarts"),
        "uptime": None,
        "last_exit": None,
        **dict.fromkeys(counters),
    }


def _map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def event_row(topic: str, sender: str, payload: Any, time: float) -> dict[str, Any] | None:
    """A line of the events feed from a message on *topic*, or None (not one to show)."""
    if not isinstance(payload, dict):
        return None
    if topic == "$sys.event":
        kind = str(payload.get("event", "event"))
        actor = str(payload.get("actor", sender))
        detail = {k: v for k, v in payload.items() if k not in ("event", "actor")}
        level = "error" if kind in ("exited", "gave_up", "hung") else "info"
        if kind == "exited" and payload.get("exit") in ("normal", "stopped"):
            level = "info"
        category = "breaker" if kind == "breaker" else "lifecycle"
        return _row(time, (category, level), actor, kind, detail)
    if topic == "$sys.fault":
        text = f"{payload.get('hop')} {payload.get('kind')} {payload.get('topic')}"
        detail = {k: payload.get(k) for k in ("rule", "sender", "seq", "edge") if k in payload}
        return _row(time, ("fault", "warning"), str(payload.get("actor", sender)), text, detail)
    if topic.startswith("$sys.log."):
        level = str(payload.get("level", "info"))
        if level not in FEED_LEVELS:
            return None
        process = str(payload.get("process", topic.removeprefix("$sys.log.")))
        actor = str(payload.get("actor", process))
        detail = {
            k: v
            for k, v in payload.items()
            if k not in ("event", "level", "actor", "process", "timestamp", "pid")
        }
        return _row(time, ("log", level), actor, str(payload.get("event", "")), detail)
    return None


def gap_row(actor: str, missed: int, total: int, time: float) -> dict[str, Any]:
    """A feed line: *actor* saw *missed* more messages missing (sequence gaps)."""
    return _row(time, ("gap", "warning"), actor, f"{missed} message(s) missed", {"total": total})


def _row(
    time: float, what: tuple[str, str], actor: str, text: str, detail: dict[str, Any]
) -> dict[str, Any]:
    """A feed line; *what*: its category and level."""
    category, level = what
    return {
        "time": time,
        "category": category,
        "level": level,
        "actor": actor[:64],
        "text": text[:200],
        "detail": {str(k)[:40]: _short(v) for k, v in list(detail.items())[:12]},
    }


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value[:300]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return repr(value)[:300]


@dataclass
class Tap:
    """One topic's messages for the pages that watch it: a bounded sample and a rate."""

    topic: str
    kept: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=TAP_KEPT)
    )
    count: int = 0
    _count_at: tuple[float, int] | None = None
    rate: float = 0.0

    def take(self, sender: str, seq: int, payload: Any, time: float) -> None:
        """One message (the oldest kept falls out past :data:`TAP_KEPT`)."""
        self.count += 1
        self.kept.append({"time": time, "sender": sender, "seq": seq, "payload": payload})

    def drain(self, now: float) -> dict[str, Any]:
        """What a push sends: the messages since the last push (at most the kept ones), the
        count so far and the rate over the last push interval."""
        if self._count_at is not None:
            since, before = self._count_at
            self.rate = round((self.count - before) / max(now - since, 1e-6), 2)
        self._count_at = (now, self.count)
        messages = list(self.kept)
        self.kept.clear()
        return {
            "type": "tap",
            "topic": self.topic,
            "count": self.count,
            "rate": self.rate,
            "messages": messages,
        }
