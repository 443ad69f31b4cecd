"""What ``ctl status`` says about a child and about the site, as typed records (pure core).

The supervisor builds these records and turns them into the reply's map at the
edge only (:meth:`ChildStatus.encode`, :meth:`SiteStatus.encode`): the keys a
tool reads are named once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """One child (the broker or an actor) as ``ctl status`` shows it."""

    name: str
    kind: str
    cls: str
    state: str
    pid: int | None
    restarts: int
    #: Seconds since its process started (None: no process).
    uptime: float | None
    last_exit: str | None
    #: Seconds since its last heartbeat (None: none yet).
    heartbeat_age: float | None
    #: From its last heartbeat: counters, declared metrics, topics, inputs, calls, faults.
    stats: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    #: Its reliable topics: kept, acknowledged, resent; recovered, lost, redelivered.
    reliable: dict[str, Any] = field(default_factory=dict)
    #: Its counters over every process it has had.
    totals: dict[str, int] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            "name": self.name,
            "kind": self.kind,
            "class": self.cls,
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "uptime": self.uptime,
            "last_exit": self.last_exit,
            "stats": self.stats,
            "heartbeat_age": self.heartbeat_age,
            "metrics": self.metrics,
            "topics": self.topics,
            "inputs": self.inputs,
            "calls": self.calls,
            "faults": self.faults,
            "reliable": self.reliable,
            "totals": self.totals,
        }


@dataclass(frozen=True, slots=True)
class ActorStatus:
    """An actor in the site's status: its :class:`ChildStatus` and what the site knows of
    its class and version."""

    child: ChildStatus
    #: The version's tag (changes with a swap).
    etag: str
    #: Declared metrics by variable: kind, doc, unit, class.
    declared_metrics: dict[str, dict[str, str]]
    #: Whether its class owns hardware (a HAL actor).
    hal: bool

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            **self.child.encode(),
            "etag": self.etag,
            "declared_metrics": self.declared_metrics,
            "hal": self.hal,
        }


@dataclass(frozen=True, slots=True)
class SupervisorStatus:
    """The supervisor process itself."""

    pid: int
    uptime: float
    #: ``running`` or ``shutting_down``.
    state: str
    #: Log lines and failure records it could not write.
    log_lost: int
    records_failed: int

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            "pid": self.pid,
            "uptime": self.uptime,
            "state": self.state,
            "log_lost": self.log_lost,
            "records_failed": self.records_failed,
        }


@dataclass(frozen=True, slots=True)
class SiteStatus:
    """The whole site, as ``ctl status`` answers."""

    site: str
    config: str
    config_etag: str
    supervisor: SupervisorStatus
    broker: ChildStatus
    actors: list[ActorStatus]
    #: Restarts and exits per actor and kind, for the site metrics.
    counts: dict[str, dict[str, int]]
    #: On a site of several hosts: this host, each other host (its link, report age and
    #: clock skew), and the other hosts' actors as their reports say.
    host: str = ""
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    elsewhere: list[dict[str, Any]] = field(default_factory=list)

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire (the broker first among the children)."""
        out = {
            "site": self.site,
            "config": self.config,
            "config_etag": self.config_etag,
            "supervisor": self.supervisor.encode(),
            "actors": [self.broker.encode(), *(a.encode() for a in self.actors)],
            "counts": self.counts,
        }
        if self.host:
            out |= {"host": self.host, "hosts": self.hosts, "elsewhere": self.elsewhere}
        return out
