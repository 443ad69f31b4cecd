"""What each host's supervisor tells the others, on ``$sys.host.<host>`` (pure core, no IO).

On a site of several hosts, every supervisor publishes a :class:`HostReport` each
heartbeat interval: its actors (state, pid, restarts), the reliable Inputs of
those meant to run (so that a writer on another host keeps its messages for
them, also through a cut link), the services its running actors serve (each
host's directory of servers lists the whole site's), and where its control port
is. The envelope's
timestamp is the sending host's clock: the receiver holds it against its own to
tell a clock skew (:func:`skew_of`). Everything decoded here comes from another
machine: sizes are bounded and types checked, and a report that fails is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

#: The topic prefix of the host reports (the host's name follows).
HOST_PREFIX: Final = "$sys.host."
#: Actors (and reliable Input patterns of one) a report may carry, at most.
MAX_ACTORS: Final = 10_000
_MAX_PATTERNS: Final = 256
_MAX_TEXT: Final = 255
_BRIEF_FIELDS: Final = 3


@dataclass(frozen=True)
class ActorBrief:
    """One actor of another host, as its report says."""

    state: str
    pid: int | None
    restarts: int

    def encode(self) -> list[Any]:
        return [self.state, self.pid, self.restarts]


@dataclass(frozen=True)
class HostReport:
    """One host's word to the others (see the module docstring)."""

    host: str
    #: Where its supervisor answers tools (``tcp://address:control_port``).
    control: str
    actors: dict[str, ActorBrief]
    #: Actor meant to run -> the topics (or families) of its reliable Inputs.
    reads: dict[str, tuple[str, ...]]
    #: Running actor -> the services it serves (the site's directory of servers).
    serves: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The topics (or families) of its actors' retained Outputs: every host keeps their
    #: last values for its own actors that start later.
    retained: tuple[str, ...] = ()

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            "host": self.host,
            "control": self.control,
            "actors": {n: a.encode() for n, a in self.actors.items()},
            "reads": {n: list(p) for n, p in self.reads.items()},
            "serves": {n: list(p) for n, p in self.serves.items()},
            "retained": list(self.retained),
        }

    @classmethod
    def decode(cls, payload: Any) -> HostReport | None:
        """The report in *payload*, or None when it is not one (or too big)."""
        if not isinstance(payload, dict):
            return None
        host, control = payload.get("host"), payload.get("control")
        if not (isinstance(host, str) and _text(host) and isinstance(control, str)):
            return None
        briefs, reads = _briefs(payload.get("actors")), _reads(payload.get("reads"))
        serves, retained = _reads(payload.get("serves", {})), _texts(payload.get("retained", []))
        if briefs is None or reads is None or serves is None or retained is None:
            return None
        return (
            cls(host, control, briefs, reads, serves, retained)
            if len(control) <= _MAX_TEXT
            else None
        )


def _briefs(actors: Any) -> dict[str, ActorBrief] | None:
    if not isinstance(actors, dict) or len(actors) > MAX_ACTORS:
        return None
    briefs = {}
    for name, entry in actors.items():
        brief = _brief(entry)
        if not _text(name) or brief is None:
            return None
        briefs[name] = brief
    return briefs


def _reads(reads: Any) -> dict[str, tuple[str, ...]] | None:
    if not isinstance(reads, dict) or len(reads) > MAX_ACTORS:
        return None
    patterns = {}
    for name, topics in reads.items():
        texts = _texts(topics)
        if not _text(name) or texts is None:
            return None
        patterns[name] = texts
    return patterns


def _texts(topics: Any) -> tuple[str, ...] | None:
    """A list of topics (or patterns), bounded, as a tuple (None when it is not one)."""
    if not isinstance(topics, list) or len(topics) > _MAX_PATTERNS:
        return None
    return tuple(topics) if all(_text(t) for t in topics) else None


def _text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_TEXT


def _brief(entry: Any) -> ActorBrief | None:
    if not isinstance(entry, list) or len(entry) != _BRIEF_FIELDS:
        return None
    state, pid, restarts = entry
    if not _text(state) or not (pid is None or type(pid) is int) or type(restarts) is not int:
        return None
    return ActorBrief(state, pid, restarts)


def skew_of(sent_ns: int, received_ns: int) -> float:
    """How far the sender's clock is ahead of the receiver's, in seconds, as one message
    tells (its transit, a millisecond or less on a LAN, counts as the sender being
    behind)."""
    return (sent_ns - received_ns) / 1e9
