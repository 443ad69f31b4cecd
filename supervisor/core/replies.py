"""What the supervisor's control ops answer, as typed records (pure core).

Each op builds its record and the reply's map is made at the edge only
(:func:`~supervisor.core.protocol.encode_result` calls ``encode()``): the keys a
tool reads are named once, here and in :mod:`supervisor.core.status` (what
``status``, ``start``, ``stop``, ``restart`` and ``add`` answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supervisor.core.status import ChildStatus


@dataclass(frozen=True, slots=True)
class FaultRulesChanged:
    """``fault_add``, ``fault_clear``, ``fault_pause``, ``fault_resume``: what changed, and
    how many running actors were told at once."""

    told: int
    #: The rule added (``fault_add``), as the ledger keeps it.
    rule: dict[str, Any] | None = None
    #: Whether the rules are paused now (``fault_pause``, ``fault_resume``).
    paused: bool | None = None
    #: Every rule was removed (``fault_clear``).
    cleared: bool = False

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        out: dict[str, Any] = {"told": self.told}
        if self.rule is not None:
            out["rule"] = self.rule
        if self.paused is not None:
            out["paused"] = self.paused
        if self.cleared:
            out["rules"] = []
        return out


@dataclass(frozen=True, slots=True)
class Rights:
    """``rights``: an identity's role and, on a checked site, what it may publish and
    subscribe to."""

    identity: str
    #: ``read``, ``operate`` or ``admin`` (None: an identity with no role, an actor's).
    role: str | None
    checked: bool
    rights: dict[str, Any] | None

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            "identity": self.identity,
            "role": self.role,
            "checked": self.checked,
            "rights": self.rights,
        }


@dataclass(frozen=True, slots=True)
class StateReset:
    """``state_reset``: whether the actor's stored durable State was there to forget."""

    actor: str
    reset: bool

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {"actor": self.actor, "reset": self.reset}


@dataclass(frozen=True, slots=True)
class ShuttingDown:
    """``shutdown``: answered at once, then the site stops."""

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {"state": "shutting_down"}


@dataclass(frozen=True, slots=True)
class ActorAnswered:
    """A request forwarded to an actor (``snapshot``, ``loglevel`` of an actor): its name
    and what it answered."""

    actor: str
    result: dict[str, Any]

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire (the actor's answer beside its name)."""
        return {"actor": self.actor, **self.result}


@dataclass(frozen=True, slots=True)
class Swapped:
    """``swap``: the new version runs; its status, the old process and what was handed."""

    status: ChildStatus
    etag: str
    old_pid: int | None
    #: Messages the new version processed at the takeover, and the State names it dropped.
    processed: int
    dropped: list[str]

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            **self.status.encode(),
            "etag": self.etag,
            "old_pid": self.old_pid,
            "processed": self.processed,
            "dropped": self.dropped,
        }


@dataclass(frozen=True, slots=True)
class Reloaded:
    """``reload``: what the new site.toml changed, by actor, and its version."""

    added: list[str]
    removed: list[str]
    unchanged: list[str]
    etag: str
    #: Actors whose table changed and were swapped to it, and those that failed (why).
    swapped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            "added": self.added,
            "removed": self.removed,
            "swapped": self.swapped,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "etag": self.etag,
        }
