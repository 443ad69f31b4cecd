"""What an actor process and its supervisor say to each other (pure core, no IO).

The supervisor's requests go to ``$sys.control.<name>``, the actor's answers to
``$sys.reply.<name>``, and its heartbeats to ``$sys.heartbeat.<name>``, each as
the payload of an ordinary envelope. On the wire a message is a msgpack map
keyed by ``op``; in the code it is one of the frozen records below, made by
:func:`decode_control` at the edge (``None`` for anything else: a peer's map is
never trusted) and turned back into a map by ``encode()``.

The exit codes and file-name conventions both sides rely on are here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Final


class Exit(IntEnum):
    """An actor process's exit codes (BSD sysexits where one fits)."""

    OK = 0
    #: Its stored durable State cannot be read, fitted or migrated (and the class does not
    #: fall back to its defaults): starting again would fail the same way.
    STATE = 65
    #: The broker did not answer in time.
    BROKER = 69
    #: An unanticipated exception escaped a hook: a failure snapshot was written.
    FAILURE = 70
    #: The broker could not bind its endpoints (address in use, no permission).
    CANNOT_BIND = 71
    #: The actor needed more memory than its max_rss_mb: the kernel refused it.
    MEMORY_LIMIT = 74
    #: Another process already runs as this actor of this site.
    ALREADY_RUNNING = 75
    #: The actor could not be loaded or configured.
    CONFIG = 78


#: Name prefix of the stack dump file (in the actor's snapshot folder) for hung steps.
STACK_PREFIX: Final = ".stack-"
#: Suffix of a swap's new version's control and reply topics until it takes over.
SWAP_SUFFIX: Final = ":swap"


class Op(StrEnum):
    """The ops of control messages between supervisor and actor."""

    SNAPSHOT = "snapshot"
    LOGLEVEL = "loglevel"
    RETAINED = "retained"
    STANDBY = "standby"
    HANDOVER = "handover"
    TAKEOVER = "takeover"
    RESUME = "resume"
    COMMIT = "commit"
    #: The site's fault rules changed at run time (``ctl fault``): ``faults`` has them.
    FAULTS = "faults"
    #: Who must get each of the actor's reliable topics (no answer: it is said again).
    READERS = "readers"
    #: Send the kept undeliverable messages again (``ctl redeliver``).
    REDELIVER = "redeliver"


#: Ops that belong to a hot swap's protocol (supervisor/swap.py).
SWAP_OPS: Final = frozenset({Op.STANDBY, Op.HANDOVER, Op.TAKEOVER, Op.RESUME, Op.COMMIT})


@dataclass(frozen=True, slots=True)
class Request:
    """A supervisor's request to one actor process.

    ``pid``, when set, names the process meant (a swap runs two versions of one
    actor); ``memory``, ``sequences`` and ``version`` travel with ``takeover``.
    """

    op: Op
    id: int
    pid: int | None = None
    level: str | None = None
    otel: str | None = None
    memory: dict[str, Any] | None = None
    sequences: dict[str, Any] | None = None
    version: int = 1
    faults: dict[str, Any] | None = None

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire (unset fields left out)."""
        out: dict[str, Any] = {"op": str(self.op), "id": self.id}
        for key in ("pid", "level", "otel", "memory", "sequences", "faults"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.op is Op.TAKEOVER:
            out["version"] = self.version
        return out


@dataclass(frozen=True, slots=True)
class Reply:
    """An actor's answer to a :class:`Request` (``ok`` or ``error``, plus what the op gives)."""

    op: str
    id: Any
    ok: bool
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        out: dict[str, Any] = {"id": self.id, "op": self.op, "ok": self.ok, **self.result}
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class Retained:
    """The supervisor's answer to a starting actor: the last message of its retained topics."""

    messages: list[list[bytes]]

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {"op": str(Op.RETAINED), "messages": self.messages}


@dataclass(frozen=True, slots=True)
class Readers:
    """The supervisor's word to a reliable writer: the expected readers of each of its
    reliable topics (the actors meant to run that read it reliably). Said again whenever
    it changes and every few seconds, so it needs no answer."""

    readers: dict[str, list[str]]

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {"op": str(Op.READERS), "readers": self.readers}


@dataclass(frozen=True, slots=True)
class Standby:
    """A swap's new version: loaded, subscribed and holding, ready for the takeover."""

    pid: int
    version: Any
    token: str

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            "op": str(Op.STANDBY),
            "pid": self.pid,
            "version": self.version,
            "token": self.token,
        }


@dataclass(frozen=True, slots=True)
class TookOver:
    """A swap's new version reports: it runs now (``ok``), or why it cannot."""

    ok: bool
    pid: int | None = None
    processed: int = 0
    error: str = ""
    #: State the old version had that the new one does not keep (after migrate_state).
    dropped: tuple[str, ...] = ()

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        out: dict[str, Any] = {"op": str(Op.TAKEOVER), "ok": self.ok}
        if self.ok:
            out.update(pid=self.pid, processed=self.processed, dropped=list(self.dropped))
        else:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What an actor process says about itself every heartbeat interval."""

    state: str
    pid: int
    uptime: float = 0.0
    last_step: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: What the process reads and writes: ``subscribed`` and ``published`` topic lists.
    topics: dict[str, Any] = field(default_factory=dict)
    #: Calls made (``calls``: per Call, counters and breaker) and requests served
    #: (``services``: per service handler, counters).
    calls: dict[str, Any] = field(default_factory=dict)
    #: Faults injected by this process, per rule index (``[faults]``).
    faults: dict[str, Any] = field(default_factory=dict)
    #: Reliable topics: what the writer keeps and its readers acknowledged (``out``),
    #: what the reader recovered, lost and dropped as redelivered (``in``).
    reliable: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        """The map that goes on the wire."""
        return {
            "calls": self.calls,
            "faults": self.faults,
            "reliable": self.reliable,
            "state": self.state,
            "pid": self.pid,
            "uptime": self.uptime,
            "last_step": self.last_step,
            "stats": self.stats,
            "inputs": self.inputs,
            "metrics": self.metrics,
            "topics": self.topics,
        }

    @classmethod
    def decode(cls, payload: Any) -> Heartbeat | None:
        """A heartbeat from a peer's payload, or None when it is not one."""
        if not isinstance(payload, dict) or type(payload.get("pid")) is not int:
            return None
        maps = {
            k: payload.get(k)
            for k in ("stats", "inputs", "metrics", "topics", "calls", "faults", "reliable")
        }
        last_step = payload.get("last_step")
        uptime = payload.get("uptime")
        return cls(
            state=str(payload.get("state", "")),
            pid=payload["pid"],
            uptime=float(uptime) if isinstance(uptime, int | float) else 0.0,
            last_step=float(last_step) if isinstance(last_step, int | float) else None,
            **{k: _text_keys(v) if isinstance(v, dict) else {} for k, v in maps.items()},
        )


def _text_keys(value: Any, depth: int = 8) -> Any:
    """*value* with every map key as text (a peer may send any msgpack key; a control reply
    and a JSON page take text keys only); what lies deeper than *depth* is dropped."""
    if depth <= 0:
        return None
    if isinstance(value, dict):
        return {str(k): _text_keys(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_keys(v, depth - 1) for v in value]
    return value


def _op(payload: Any) -> Op | None:
    if not isinstance(payload, dict):
        return None
    try:
        return Op(str(payload.get("op")))
    except ValueError:
        return None


def decode_request(payload: Any) -> Request | Retained | Readers | None:
    """A supervisor's message to an actor, or None when it is not one we know."""
    op = _op(payload)
    if op is None:
        return None
    if op is Op.READERS:
        return _readers(payload.get("readers"))
    if op is Op.RETAINED:
        messages = payload.get("messages") or []
        if not isinstance(messages, list):
            return None
        return Retained(
            messages=[
                m for m in messages if isinstance(m, list) and all(isinstance(f, bytes) for f in m)
            ]
        )
    if op in (Op.STANDBY,):
        return None
    pid, version = payload.get("pid"), payload.get("version", 1)
    memory, sequences = payload.get("memory"), payload.get("sequences")
    level, otel = payload.get("level"), payload.get("otel")
    return Request(
        op=op,
        id=payload.get("id"),
        pid=pid if type(pid) is int else None,
        level=level if isinstance(level, str) else None,
        otel=otel if isinstance(otel, str) else None,
        memory=memory if isinstance(memory, dict) else None,
        sequences=sequences if isinstance(sequences, dict) else None,
        version=version,
        faults=payload.get("faults") if isinstance(payload.get("faults"), dict) else None,
    )


def _readers(readers: Any) -> Readers | None:
    if not isinstance(readers, dict) or not all(
        isinstance(t, str) and isinstance(n, list) and all(isinstance(x, str) for x in n)
        for t, n in readers.items()
    ):
        return None
    return Readers(readers=readers)


def decode_reply(payload: Any) -> Reply | Standby | TookOver | None:
    """An actor's message to the supervisor on its reply topic, or None."""
    op = _op(payload)
    if op is Op.STANDBY:
        token = payload.get("token")
        if type(payload.get("pid")) is not int or not isinstance(token, str):
            return None
        return Standby(pid=payload["pid"], version=payload.get("version", 1), token=token)
    if op is Op.TAKEOVER and "id" not in payload:
        processed = payload.get("processed", 0)
        pid = payload.get("pid")
        dropped = payload.get("dropped")
        return TookOver(
            ok=bool(payload.get("ok")),
            pid=pid if type(pid) is int else None,
            processed=processed if type(processed) is int else 0,
            error=str(payload.get("error") or ("" if payload.get("ok") else "failed")),
            dropped=tuple(map(str, dropped)) if isinstance(dropped, list) else (),
        )
    if not isinstance(payload, dict) or type(payload.get("id")) is not int:
        return None
    result = {k: v for k, v in payload.items() if k not in ("id", "op", "ok", "error")}
    return Reply(
        op=str(payload.get("op", "")),
        id=payload["id"],
        ok=bool(payload.get("ok")),
        error=str(payload.get("error") or ""),
        result=result,
    )


def swap_failure_name(actor: str, token: str) -> str:
    """The file (under ``<run_dir>/actors/``) where a swap's new version that cannot take
    over writes why, before it exits: the supervisor reads it when it sees the exit, so the
    reason never depends on which of the two arrives first."""
    return f"{actor}.swap-{token}.failure"
