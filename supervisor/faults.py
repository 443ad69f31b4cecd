"""The site's fault ledger: every fault the actors injected, as they report it (shell).

Each actor with fault rules publishes one message per fault on ``$sys.fault``;
the supervisor's broker link reads them here, keeps a count per (rule, hop,
kind, actor) and the newest entries (bounded), and answers the ``faults``
control op with both and the site's rules. ``python -m supervisor faults
report`` holds that against what the site detected
(:mod:`supervisor.core.detection`).
"""

from __future__ import annotations

import collections
import time
from typing import Any, Final

from actors.core.faults import EDGES, KINDS, FaultError, FaultRule, fires, parse_rule
from actors.core.wire import WireError, decode_message
from actors.faulty import SYS_FAULT
from actors.site import SiteConfig

_TOPIC: Final = SYS_FAULT.encode()
#: Ledger entries kept, newest last (the counts cover every one).
KEEP: Final = 10_000
_FIELDS: Final = {"rule": int, "hop": str, "kind": str, "topic": str, "sender": str, "seq": int}


class FaultLedger:
    """Counts and the newest entries of the faults injected in the site."""

    def __init__(self, site: SiteConfig) -> None:
        self.seed = site.faults.seed
        #: The rules in force, as tables with their index (site.toml's, then ``ctl fault``).
        self.rules: list[dict[str, Any]] = [
            {"index": r.index, **r.describe()} for r in site.faults.rules
        ]
        self._next_index = len(self.rules)
        self.paused = False
        #: The rules changed at run time: starting actors are told, not only running ones.
        self.changed = False
        #: Control requests seen per op (their sequence numbers, for the control hop).
        self._requests: collections.Counter[str] = collections.Counter()
        #: The parsed rules of the hops the supervisor itself applies (control, spawn).
        self._own: list[FaultRule] = []
        self._parsed_for: list[dict[str, Any]] | None = None
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP)
        #: (rule, hop, kind, actor) -> faults injected.
        self.counts: collections.Counter[tuple[int, str, str, str]] = collections.Counter()
        #: Messages on $sys.fault that were not a fault report (counted, not kept).
        self.malformed = 0
        #: A rule limited per site fired in some actor: the running ones are to be told.
        self.spread = False

    def state(self) -> dict[str, Any]:
        """What every actor is sent when the rules change: seed, rules, paused, and the
        site's counts of the rules limited per site."""
        return {"seed": self.seed, "rules": self.rules, "paused": self.paused, "used": self.used()}

    def used(self) -> dict[str, int]:
        """Faults the site injected under each rule limited per site (its index as text;
        only rules that injected some): every actor's processes and the supervisor's own."""
        per_site = {t["index"] for t in self.rules if t.get("per") == "site"}
        used: collections.Counter[str] = collections.Counter()
        if per_site:
            for (rule, _, _, _), n in self.counts.items():
                if rule in per_site:
                    used[str(rule)] += n
        return dict(used)

    def add(self, table: dict[str, Any], actors: set[str]) -> dict[str, Any]:
        """Check and add a rule (FaultError names the bad key); return it with its index."""
        index = self._next_index
        rule = parse_rule(index, table, "rule")
        if rule.hop == "host":  # the brokers read them at start: one added now would do nothing
            raise FaultError(
                "rule.hop", "a host rule is applied by the brokers: put it in site.toml [faults]"
            )
        for key, name in (("to", rule.to), ("from", rule.sender)):
            if name is not None and name not in actors:
                raise FaultError(f"rule.{key}", f"names unknown actor {name!r}")
        self._next_index += 1
        added = {"index": index, **rule.describe()}
        self.rules = [*self.rules, added]  # a new list: the parsed control rules follow it
        self.changed = True
        return added

    def control_fault(self, op: str, elapsed: float) -> tuple[FaultRule, dict[str, Any]] | None:
        """The control hop: the rule that fires on this request to *op*, and its ledger
        entry (the caller publishes it), or None. *elapsed*: seconds since the site began."""
        if op.startswith("fault"):
            return None  # faults, fault_add...: always served, or no rule could be removed
        return self.supervisor_fault("control", op, "tool", elapsed)

    def supervisor_fault(
        self, hop: str, topic: str, sender: str, elapsed: float
    ) -> tuple[FaultRule, dict[str, Any]] | None:
        """A fault the supervisor injects itself (``control``: *topic* is the op;
        ``spawn``: the actor): the rule that fires, and its ledger entry, or None."""
        key = f"{hop}:{topic}"
        self._requests[key] += 1
        if self.paused:
            return None
        if self._parsed_for is not self.rules:
            self._parsed_for = self.rules
            self._own = [
                parse_rule(t["index"], {k: v for k, v in t.items() if k != "index"}, "rule")
                for t in self.rules
                if t.get("hop") in ("control", "spawn")
            ]
        seq = self._requests[key]
        for rule in self._own:
            if rule.hop != hop or not rule.active(elapsed):
                continue
            if rule.topic is not None and not rule.topic.matches(topic):
                continue
            done = self.counts[(rule.index, hop, rule.kind, "supervisor")]
            if rule.limit is not None and done >= rule.limit:
                continue
            if fires(rule, self.seed, sender, topic, seq):
                entry = {
                    "rule": rule.index,
                    "hop": hop,
                    "kind": rule.kind,
                    "topic": topic,
                    "sender": sender,
                    "seq": seq,
                    "actor": "supervisor",
                    "time": time.time(),
                }
                # On the ledger now, not when it comes back through the broker: a ``faults``
                # read right after sees it, and the rule's limit counts it at once.
                self._keep(entry)
                return rule, entry
        return None

    def clear(self) -> None:
        """No rule any more."""
        self.rules = []
        self.changed = True
        self._parsed_for = None

    def pause(self, paused: bool) -> None:
        """Keep the rules but inject nothing (or again)."""
        self.paused = paused
        self.changed = True

    def message(self, frames: list[bytes]) -> bool:
        """Take a ``$sys.fault`` message (False: not one)."""
        if frames[0] != _TOPIC:
            return False
        try:
            message = decode_message(frames)
        except WireError:
            self.malformed += 1
            return True
        entry = message.envelope.payload
        if message.envelope.sender == "supervisor":
            return True  # its own: kept when it was injected (supervisor_fault)
        if (
            not isinstance(entry, dict)
            or not all(type(entry.get(k)) is t for k, t in _FIELDS.items())
            or entry["kind"] not in KINDS
            or entry.get("actor") != message.envelope.sender  # an actor reports its own
        ):
            self.malformed += 1
            return True
        self._keep(entry)
        return True

    def _keep(self, entry: dict[str, Any]) -> None:
        """An entry on the ledger: kept (bounded) and counted."""
        kept = {k: entry[k] for k in (*_FIELDS, "actor")}
        kept["time"] = entry.get("time") if isinstance(entry.get("time"), float) else None
        edge = entry.get("edge")
        if edge in EDGES:
            kept["edge"] = edge
        self.entries.append(kept)
        if edge != "lost":  # a note about an entry before it, not a fault of its own
            self.counts[(kept["rule"], kept["hop"], kept["kind"], kept["actor"])] += 1
            if kept["actor"] != "supervisor" and any(
                t["index"] == kept["rule"] and t.get("per") == "site" for t in self.rules
            ):
                self.spread = True

    def result(self, newest: int = KEEP) -> dict[str, Any]:
        """What the ``faults`` op answers: the rules, the counts, the newest entries."""
        return {
            "seed": self.seed,
            "rules": self.rules,
            "paused": self.paused,
            "injected": [
                {"rule": rule, "hop": hop, "kind": kind, "actor": actor, "count": n}
                for (rule, hop, kind, actor), n in sorted(self.counts.items())
            ],
            "entries": list(self.entries)[-newest:],
            "malformed": self.malformed,
        }
