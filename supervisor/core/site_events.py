"""The site's events: one record type per kind (pure core, no IO).

Every event the supervisor publishes on ``$sys.event`` is made as one of these
records and turned into its map only at the edge (:meth:`SiteEvent.payload`):
``{"event": KIND, ...its fields}``. The parts of the supervisor that listen
(the service directory, membership, fault injection) get the record and tell
kinds apart by type. :data:`EVENT_KINDS`, the list README documents and the
tests check, is read from the types.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Final


@dataclass(frozen=True, kw_only=True)
class SiteEvent:
    """One event on ``$sys.event``."""

    KIND: ClassVar[str] = ""
    #: Fields left out of the map when they are None (others always go, None or not).
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    def payload(self) -> dict[str, Any]:
        """The map that goes out: ``event`` and the fields, in their order (``from_`` as
        ``from``)."""
        out: dict[str, Any] = {"event": self.KIND}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None or f.name not in self.OPTIONAL:
                out[f.name.rstrip("_")] = value
        return out


@dataclass(frozen=True, kw_only=True)
class ChildEvent(SiteEvent):
    """An event about one child: *actor* names it, *kind* says ``actor`` or ``broker``."""

    actor: str
    kind: str

    def log_fields(self) -> dict[str, Any]:
        """Its fields as the supervisor's log line has them (the child's pid as
        ``actor_pid``: the line's own ``pid`` is the supervisor's)."""
        return {
            ("actor_pid" if f.name == "pid" else f.name): getattr(self, f.name)
            for f in fields(self)
            if f.name != "kind"
        }


@dataclass(frozen=True, kw_only=True)
class Spawned(ChildEvent):
    """A process of the child was started."""

    KIND: ClassVar[str] = "spawned"
    pid: int | None


@dataclass(frozen=True, kw_only=True)
class Ready(ChildEvent):
    """The child's process answered: it runs."""

    KIND: ClassVar[str] = "ready"
    pid: int | None
    startup_ms: float


@dataclass(frozen=True, kw_only=True)
class Exited(ChildEvent):
    """The child's process ended without being asked to (``record``: the failure record the
    supervisor wrote, if any)."""

    KIND: ClassVar[str] = "exited"
    pid: int | None
    exit: str
    code: int | None
    signal: int | None
    record: str | None


@dataclass(frozen=True, kw_only=True)
class Restarting(ChildEvent):
    """The restart policy will start the child (and its *group*) again after *delay*."""

    KIND: ClassVar[str] = "restarting"
    attempt: int
    delay: float
    group: list[str]


@dataclass(frozen=True, kw_only=True)
class Restarted(ChildEvent):
    """A restarted child is ready again."""

    KIND: ClassVar[str] = "restarted"
    pid: int | None
    restarts: int


@dataclass(frozen=True, kw_only=True)
class Stopped(ChildEvent):
    """The child's process ended as it was asked to."""

    KIND: ClassVar[str] = "stopped"
    pid: int | None
    exit: str


@dataclass(frozen=True, kw_only=True)
class GaveUp(ChildEvent):
    """The policy restarts the child no more (the site goes on)."""

    KIND: ClassVar[str] = "gave_up"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Escalated(ChildEvent):
    """The child failed beyond its policy: the site stops."""

    KIND: ClassVar[str] = "escalated"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Added(ChildEvent):
    """An actor joined the running site (``ctl add``, ``ctl reload``)."""

    KIND: ClassVar[str] = "added"
    cls: str


@dataclass(frozen=True, kw_only=True)
class Removed(ChildEvent):
    """An actor left the running site."""

    KIND: ClassVar[str] = "removed"


@dataclass(frozen=True, kw_only=True)
class Swapped(ChildEvent):
    """A hot swap ended: the new version (*pid*, *cls*) runs, the old one (*old_pid*) goes."""

    KIND: ClassVar[str] = "swapped"
    pid: int | None
    old_pid: int | None
    cls: str


@dataclass(frozen=True, kw_only=True)
class ChildWriteFailed(ChildEvent):
    """A process started losing writes (*what*: ``log_lost``, ``snapshots_failed``...)."""

    KIND: ClassVar[str] = "write_failed"
    what: str
    count: int


@dataclass(frozen=True, kw_only=True)
class Control(ChildEvent):
    """An actor (*by*) had the supervisor start, stop or restart this one (*op*)."""

    KIND: ClassVar[str] = "control"
    op: str
    by: str


@dataclass(frozen=True, kw_only=True)
class SwapFailed(SiteEvent):
    """A hot swap of *actor* was rolled back: the running version was kept."""

    KIND: ClassVar[str] = "swap_failed"
    actor: str
    error: str


@dataclass(frozen=True, kw_only=True)
class WriteFailed(SiteEvent):
    """The supervisor itself could not write (*what*: ``records``, its failure records)."""

    KIND: ClassVar[str] = "write_failed"
    what: str
    error: str


@dataclass(frozen=True, kw_only=True)
class ShuttingDown(SiteEvent):
    """The site stops (*reason*)."""

    KIND: ClassVar[str] = "shutting_down"
    reason: str


@dataclass(frozen=True, kw_only=True)
class Forbidden(SiteEvent):
    """A control request its sender's role (or an actor's rights, then *actor* names the
    target) does not allow."""

    KIND: ClassVar[str] = "forbidden"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"actor"})
    identity: str
    op: str
    actor: str | None = None
    reason: str


@dataclass(frozen=True, kw_only=True)
class Denied(SiteEvent):
    """A message, subscription or reply refused for its sender's rights."""

    KIND: ClassVar[str] = "denied"
    identity: str
    what: str
    topic: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Breaker(ChildEvent):
    """Published by an actor (*actor*), not the supervisor: a call's circuit breaker moved
    from one state to another, and why (``actors.core.engine_calls`` makes the map)."""

    KIND: ClassVar[str] = "breaker"
    call: str
    from_: str
    to: str
    why: str


@dataclass(frozen=True, kw_only=True)
class HostLost(SiteEvent):
    """This host (*by*) takes nothing from another host's broker (*host*): a cut link, a
    host down, or (``reason`` says) one never reached since the start: a wrong address,
    a firewall, a key it does not accept."""

    KIND: ClassVar[str] = "host_lost"
    host: str
    by: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class HostBack(SiteEvent):
    """This host (*by*) takes another host's messages again, after *down_s* seconds."""

    KIND: ClassVar[str] = "host_back"
    host: str
    by: str
    down_s: float


@dataclass(frozen=True, kw_only=True)
class ClockSkew(SiteEvent):
    """Another host's clock (*host*) is *skew_s* seconds ahead of this host's (*by*; behind
    when negative), past ``[supervisor] clock_skew``: timestamps of the two disagree."""

    KIND: ClassVar[str] = "clock_skew"
    host: str
    by: str
    skew_s: float


#: Every record type of an event on ``$sys.event``.
EVENT_TYPES: Final[tuple[type[SiteEvent], ...]] = (
    Spawned,
    Ready,
    Exited,
    Restarting,
    Restarted,
    Stopped,
    GaveUp,
    Escalated,
    Added,
    Removed,
    Swapped,
    SwapFailed,
    ChildWriteFailed,
    WriteFailed,
    ShuttingDown,
    Breaker,
    Forbidden,
    Denied,
    Control,
    HostLost,
    HostBack,
    ClockSkew,
)
#: Every kind of event on ``$sys.event`` (its ``event`` field), from the types.
EVENT_KINDS: Final[tuple[str, ...]] = tuple(dict.fromkeys(t.KIND for t in EVENT_TYPES))
#: Events after which a child's process is gone.
GONE: Final = (Exited, Stopped, Removed, GaveUp)
