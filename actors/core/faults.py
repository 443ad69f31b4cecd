"""Fault rules: what to break, where, and whether a given message is hit (pure core, no IO).

A rule names a *hop* (where a message or an action can fail), a *kind* (what
happens to it), which messages it matches (a topic or service pattern, the
receiving actor ``to`` or the sending actor ``from``), how often it fires
(``probability`` or ``every``), an optional window (``after`` seconds after
the site started, ``for`` seconds long) and an optional ``limit``: how many
faults the rule injects in each process (``per = "process"``, the default) or in
the whole site, restarts included (``per = "site"``).

Whether a rule fires on a message is a pure function of the seed, the rule's
index and the message's identity (sender, topic, sequence number):
:func:`fires` hashes them, so the same traffic gets the same faults whatever
the timing, and two runs with one seed give the same ledger. The ledger is
the list of :class:`Injected` records, one per fault actually injected.
"""

from __future__ import annotations

import functools
import hashlib
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from actors.core.topics import Pattern, TopicError, parse_pattern

#: Where a fault can be injected.
HOPS: Final = (
    "control",
    "publish",
    "deliver",
    "step",
    "request",
    "reply",
    "link",
    "spawn",
    "write",
    "host",
)
#: What a fault does.
KINDS: Final = (
    "drop",
    "delay",
    "duplicate",
    "reorder",
    "corrupt",
    "partition",
    "crash",
    "hang",
    "slow",
)
#: The kinds each hop takes.
KINDS_AT: Final[dict[str, tuple[str, ...]]] = {
    "publish": ("drop", "delay", "duplicate", "reorder", "corrupt", "partition"),
    "deliver": ("drop", "delay", "duplicate", "reorder", "corrupt", "partition", "slow"),
    # A call's request where its server receives it (topic: the service), and its reply
    # where the caller receives it (a reply names no service: match it by from and to).
    "request": ("drop", "delay", "duplicate", "corrupt"),
    "reply": ("drop", "delay", "duplicate", "corrupt"),
    # The step itself, on the message that triggers it (topic, from) or on a periodic
    # step (topic "tick", its count as the sequence number).
    "step": ("crash", "hang", "delay"),
    # A tool's request to the supervisor's control endpoint (topic: the op); the fault
    # ops themselves are never faulted (a rule must stay removable).
    "control": ("drop", "delay"),
    # A HAL link's bytes (topic ``rx`` or ``tx``, ``to``: the link actor): a chunk lost
    # or with a byte flipped, or the device unplugged for the rule's window.
    "link": ("drop", "corrupt", "partition"),
    # The supervisor's spawn of an actor (topic: the actor's name): the new process dies
    # at once (a spawn that fails), or is held stopped for the rule's delay (a slow one).
    "spawn": ("crash", "delay"),
    # An actor's write of a snapshot (topic ``snapshot``) or of a line of its log file
    # (topic ``log``): it fails as on a full disk.
    "write": ("crash",),
    # The link between two hosts of a site (``from``, ``to``: host names), applied by the
    # broker of the host that takes the messages: each one lost or held, or the two
    # hosts cut apart both ways for the rule's window (``to`` or ``from`` alone: that
    # host cut off from every other).
    "host": ("drop", "delay", "partition"),
}
#: What a link fault asks of the link: the device is gone (reconnect as after an unplug).
UNPLUG: Final = "unplug"
#: How a ``crash`` at the step happens: an exception in the step, the process exiting
#: (status 70), or the process killed by SIGKILL.
CRASHES: Final = ("raise", "exit", "kill")
#: What a rule's ``limit`` counts: the faults of each process of an actor (a restarted
#: process starts again from 0), or those of the whole site (every actor the rule matches,
#: every process of each, the supervisor's own).
LIMIT_PER: Final = ("process", "site")
#: The topic a periodic step is matched and counted under.
TICK: Final = "tick"
#: The keys of a rule, with their types (``for`` and ``from`` are Python keywords: the
#: rule's attributes are ``window`` and ``sender``).
RULE_KEYS: Final[dict[str, tuple[type, ...]]] = {
    "hop": (str,),
    "kind": (str,),
    "topic": (str,),
    "to": (str,),
    "from": (str,),
    "probability": (int, float),
    "every": (int,),
    "after": (int, float),
    "for": (int, float),
    "limit": (int,),
    "per": (str,),
    "delay": (int, float),
    "jitter": (int, float),
    "how": (str,),
}
#: Faults no receiver can count, as the ledger marks them: ``start``, a message lost
#: before the first of its stream that this receiving process got (nothing earlier to
#: compare its sequence number with); ``lost``, a note that a message held by a delay,
#: duplicate or reorder fault died with its process (an injected crash came first).
#: A ``lost`` entry is a note about the entry of the same identity, not a fault.
EDGES: Final = ("start", "lost")
#: Seconds a message held for ``reorder`` waits for the next one, at most.
REORDER_WAIT: Final = 0.1
_UNIT: Final = 2.0**64
_MASK: Final = 2**64 - 1


class FaultError(ValueError):
    """A rule is invalid; ``key`` names the offending key (``faults.rules[2].kind``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class FaultRule:
    """One rule, checked. ``index`` is its place in the site's list (part of the seed)."""

    index: int
    hop: str
    kind: str
    topic: Pattern | None = None
    to: str | None = None
    sender: str | None = None
    probability: float | None = None
    every: int | None = None
    after: float = 0.0
    window: float | None = None
    limit: int | None = None
    #: What the limit counts (see :data:`LIMIT_PER`).
    per: str = "process"
    delay: float = 0.0
    jitter: float = 0.0
    how: str = "raise"

    def matches(self, topic: str, sender: str, receiver: str) -> bool:
        """Whether a message on *topic* from *sender* to *receiver* is one this rule is about."""
        if self.to is not None and self.to != receiver:
            return False
        if self.sender is not None and self.sender != sender:
            return False
        return self.topic is None or self.topic.matches(topic)

    def between(self, source: str, target: str) -> bool:
        """Whether a host rule is about messages from host *source* to host *target* (a
        partition cuts both ways)."""
        if self.kind != "partition":
            return self.matches_hosts(source, target)
        return self.matches_hosts(source, target) or self.matches_hosts(target, source)

    def matches_hosts(self, source: str, target: str) -> bool:
        """Whether ``from`` and ``to`` (each may be left out) name *source* and *target*."""
        return (self.sender is None or self.sender == source) and (
            self.to is None or self.to == target
        )

    def active(self, since_start: float) -> bool:
        """Whether the rule's window holds *since_start* seconds after the site started."""
        if since_start < self.after:
            return False
        return self.window is None or since_start < self.after + self.window

    def describe(self) -> dict[str, Any]:
        """The rule as site.toml writes it."""
        out: dict[str, Any] = {"hop": self.hop, "kind": self.kind}
        for key, value in (
            ("topic", self.topic.text if self.topic else None),
            ("to", self.to),
            ("from", self.sender),
            ("probability", self.probability),
            ("every", self.every),
            ("after", self.after or None),
            ("for", self.window),
            ("limit", self.limit),
            ("per", self.per if self.per != "process" else None),
            ("delay", self.delay or None),
            ("jitter", self.jitter or None),
            ("how", self.how if self.kind == "crash" else None),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Injected:
    """One fault injected: the ledger's entry (``time`` aside, a pure function of the
    seed and the traffic)."""

    rule: int
    hop: str
    kind: str
    topic: str
    sender: str
    seq: int
    actor: str
    time: float = 0.0
    #: Why no counter can show this fault (see :data:`EDGES`; "" for most).
    edge: str = ""
    #: The message's send it hit: 0 the first, 1 and up a resend (a reliable topic's).
    attempt: int = 0

    def encode(self) -> dict[str, Any]:
        """The map published on ``$sys.fault``."""
        out = {
            "rule": self.rule,
            "hop": self.hop,
            "kind": self.kind,
            "topic": self.topic,
            "sender": self.sender,
            "seq": self.seq,
            "actor": self.actor,
            "time": self.time,
        }
        if self.edge:
            out["edge"] = self.edge
        if self.attempt:
            out["attempt"] = self.attempt
        return out

    def identity(self) -> tuple[int, str, str, str, str, int, str]:
        """What two runs with one seed and one traffic agree on (the time aside)."""
        return (self.rule, self.hop, self.kind, self.topic, self.sender, self.seq, self.actor)


def parse_rule(index: int, table: Mapping[str, Any], where: str) -> FaultRule:
    """Check one ``[[faults.rules]]`` table; raise FaultError naming the key."""
    if not isinstance(table, Mapping):
        raise FaultError(where, f"must be a table, got {type(table).__name__}")
    for key, value in table.items():
        if key not in RULE_KEYS:
            raise FaultError(f"{where}.{key}", f"unknown key (known: {', '.join(RULE_KEYS)})")
        types = RULE_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, types):
            names = " or ".join("number" if t is float else t.__name__ for t in types if t)
            raise FaultError(f"{where}.{key}", f"must be a {names}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise FaultError(f"{where}.{key}", f"must be finite, got {value}")
    hop, kind = table.get("hop"), table.get("kind")
    if hop is None:
        raise FaultError(f"{where}.hop", f"is required (one of {', '.join(HOPS)})")
    if hop not in HOPS:
        raise FaultError(f"{where}.hop", f"{hop!r} is not one of {', '.join(HOPS)}")
    if kind is None:
        raise FaultError(f"{where}.kind", f"is required (one of {', '.join(KINDS)})")
    if kind not in KINDS:
        raise FaultError(f"{where}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if kind not in KINDS_AT[hop]:
        raise FaultError(
            f"{where}.kind", f"hop {hop!r} takes {', '.join(KINDS_AT[hop])}, not {kind!r}"
        )
    topic = None
    if hop == "control" and ("to" in table or "from" in table):
        key = "to" if "to" in table else "from"
        raise FaultError(f"{where}.{key}", "a control request has no actor: choose it by topic")
    if hop == "host" and kind != "partition" and "to" not in table and "from" not in table:
        raise FaultError(f"{where}.to", "a host fault names the host it hits: to, from or both")
    if hop == "reply" and "topic" in table:
        raise FaultError(f"{where}.topic", "a reply names no service: choose it with from and to")
    if "topic" in table:
        try:
            topic = parse_pattern(table["topic"])
        except TopicError as exc:
            raise FaultError(f"{where}.topic", str(exc)) from None
    probability, every = table.get("probability"), table.get("every")
    if probability is not None and every is not None:
        raise FaultError(f"{where}.every", "give probability or every, not both")
    if probability is None and every is None and kind != "partition":
        raise FaultError(f"{where}.probability", "is required (or every = N)")
    if probability is not None and not 0 <= probability <= 1:
        raise FaultError(f"{where}.probability", f"must be in [0, 1], got {probability}")
    if every is not None and every < 1:
        raise FaultError(f"{where}.every", f"must be at least 1, got {every}")
    for key in ("after", "for", "delay", "jitter"):
        if table.get(key, 0) < 0:
            raise FaultError(f"{where}.{key}", f"must not be negative, got {table[key]}")
    if "for" in table and table["for"] <= 0:
        raise FaultError(f"{where}.for", f"must be positive, got {table['for']}")
    if "limit" in table and table["limit"] < 1:
        raise FaultError(f"{where}.limit", f"must be at least 1, got {table['limit']}")
    if "per" in table and table["per"] not in LIMIT_PER:
        raise FaultError(f"{where}.per", f"is one of {', '.join(LIMIT_PER)}, got {table['per']!r}")
    if "per" in table and "limit" not in table:
        raise FaultError(f"{where}.per", "says what limit counts: give limit = N too")
    if kind in ("delay", "slow") and not table.get("delay"):
        raise FaultError(f"{where}.delay", f"kind {kind!r} needs delay = seconds (> 0)")
    if "how" in table and (kind != "crash" or table["how"] not in CRASHES):
        raise FaultError(
            f"{where}.how", f"a crash's how is one of {', '.join(CRASHES)}, got {table['how']!r}"
        )
    if kind == "partition" and "for" not in table:
        raise FaultError(f"{where}.for", "a partition needs for = seconds (how long it lasts)")
    return FaultRule(
        index=index,
        hop=hop,
        kind=kind,
        topic=topic,
        to=table.get("to"),
        sender=table.get("from"),
        probability=None if probability is None else float(probability),
        every=every,
        after=float(table.get("after", 0.0)),
        window=None if "for" not in table else float(table["for"]),
        limit=table.get("limit"),
        per=table.get("per", "process"),
        delay=float(table.get("delay", 0.0)),
        jitter=float(table.get("jitter", 0.0)),
        how=table.get("how", "raise"),
    )


def parse_faults(data: Any, where: str = "faults") -> tuple[int, list[FaultRule]]:
    """``[faults]`` (seed, rules) checked; raises FaultError naming the first bad key."""
    if data is None:
        return 0, []
    if not isinstance(data, Mapping):
        raise FaultError(where, f"must be a table, got {type(data).__name__}")
    for key in data:
        if key not in ("seed", "rules"):
            raise FaultError(f"{where}.{key}", "unknown key (known: seed, rules)")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FaultError(f"{where}.seed", f"must be an integer, got {seed!r}")
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise FaultError(f"{where}.rules", "must be an array of tables ([[faults.rules]])")
    return seed, [parse_rule(i, r, f"{where}.rules[{i}]") for i, r in enumerate(rules)]


@functools.lru_cache(maxsize=4096)
def _stream(seed: int, rule: int, sender: str, topic: str, salt: int) -> int:
    """The 64-bit start of one (seed, rule, sender, topic) stream of draws."""
    key = struct.pack("<qii", seed, rule, salt) + sender.encode() + b"\0" + topic.encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def draw(seed: int, rule: int, sender: str, topic: str, seq: int, salt: int = 0) -> float:
    """A number in [0, 1) that depends only on its arguments (the fault's dice).

    Each (seed, rule, sender, topic) has its own stream (hashed once, then kept); the
    sequence number picks a draw of it through SplitMix64's mixing, a few integer
    operations per message.
    """
    x = (_stream(seed, rule, sender, topic, salt) + seq * 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return (x ^ (x >> 31)) / _UNIT


def used_up(rule: FaultRule, own: int, site: int) -> bool:
    """Whether *rule* may inject no more: *own* faults this process injected under it,
    *site* those the whole site is known to have injected (for ``per = "site"``)."""
    if rule.limit is None:
        return False
    return (own if rule.per == "process" else site) >= rule.limit


def fires(rule: FaultRule, seed: int, sender: str, topic: str, seq: int, attempt: int = 0) -> bool:
    """Whether *rule* hits message *seq* of *sender* on *topic* (its window and limit
    aside): a pure function of these, so the same traffic gets the same faults. A
    message sent again (*attempt* 1, 2...: a reliable topic's resend) is a throw of its
    own, as a retransmission over a lossy link is."""
    if rule.every is not None:
        offset = int(draw(seed, rule.index, sender, topic, 0) * rule.every)
        return (seq + attempt + offset) % rule.every == 0
    if rule.probability is None:  # a partition: everything in its window
        return True
    salt = 0 if attempt == 0 else 1 + attempt  # salt 1 is the delays' own
    return draw(seed, rule.index, sender, topic, seq, salt) < rule.probability


def delay_of(rule: FaultRule, seed: int, sender: str, topic: str, seq: int) -> float:
    """Seconds a ``delay`` or ``slow`` fault holds message *seq*: delay plus a jitter that
    is a pure function of the message too."""
    return rule.delay + rule.jitter * draw(seed, rule.index, sender, topic, seq, salt=1)


def used_of(faults: Mapping[str, Any]) -> dict[int, int]:
    """The site's counts of its rules limited per site in *faults* (``"used"``: rule
    index, as text, to faults injected); ValueError if they are not that."""
    used = faults.get("used") or {}
    if not isinstance(used, Mapping):
        raise ValueError(f"faults.used must be a table, got {type(used).__name__}")
    out = {}
    for index, n in used.items():
        if not isinstance(index, str) or not index.isdigit() or type(n) is not int or n < 0:
            raise ValueError(f"faults.used: {index!r} = {n!r} is not a rule's count")
        out[int(index)] = n
    return out
