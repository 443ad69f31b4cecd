"""The failure snapshot format and the memory captures it is made of (pure core, no IO).

The engine keeps a :class:`~actors.core.recorder.FlightRecorder`: the last
*events* it handled (an input message, a periodic tick, the start) and
checkpoints of the actor's *memory* (State, Input and Output values;
immutable values are kept as they are, mutable ones msgpack-encoded).
When a hook raises, the recorder and the exception become a
:class:`Snapshot`: enough to rebuild the actor as it was before the oldest
recorded event and feed it the same events again.

Snapshot file format, version 1: one msgpack map (see :meth:`Snapshot.to_dict`)
with these keys:

==================  =============================================================
key                 meaning
==================  =============================================================
format, version     ``"enlil-snapshot"``, :data:`SNAPSHOT_VERSION`
actor, class_path   the actor's name and ``module:Class``
source_hash         sha256 of the class's module source when captured
params, topics      the params and topic remaps in force
period              the period in force, or nil
reason              ``exception``, ``on_demand``, ``hung``, ``killed``, ``limit``...
initial             memory before the first recorded event: ``{state, inputs, outputs}``
events              the recorded events, oldest first (see :class:`Event`)
failed_event        index in ``events`` of the event whose hook raised, or nil
state               memory just before the failing event (or now, on demand); nil
                    when no checkpoint was taken right then (a large memory):
                    replay rebuilds it from ``initial`` and the events
exception           ``{type, module, message, traceback, where}`` or nil
host, pid, time     where and when (Unix seconds) it was captured
trace_id            W3C trace id of the failing message, if any
detail              free-form facts (signal, last heartbeat age...) for supervisor records
==================  =============================================================

Values that msgpack cannot carry are stored as ``{"$repr": "..."}``; such a
snapshot still documents the failure but cannot restore that value.
"""

from __future__ import annotations

import base64
import math
import traceback
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
import msgspec

from actors.core.types import is_record_value, to_builtins

SNAPSHOT_FORMAT: Final = "enlil-snapshot"
SNAPSHOT_VERSION: Final = 1


class SnapshotError(ValueError):
    """A snapshot file cannot be read: wrong format, version or shape."""


#: What an event records (see :class:`Event`).
EVENT_KINDS: Final = ("message", "tick", "start", "stop", "io", "timer", "call", "reply")
_MISSING: Final = object()


def _field(data: dict[str, Any], key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    """``data[key]``, which must be a *kind* (bool is no int); SnapshotError otherwise."""
    value = data.get(key, default)
    if value is _MISSING:
        raise SnapshotError(f"{where} has no {key!r}")
    if value is default and default is not _MISSING:
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SnapshotError(
            f"{where} field {key!r} must be {kind.__name__}, got {type(value).__name__} "
            f"{value!r:.40}"
        )
    return value


def _finite(data: dict[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SnapshotError(f"{where} field {key!r} must be a finite number, got {value!r:.40}")
    return float(value)


#: The latest time a snapshot may name (the end of year 9999 UTC, in Unix seconds): a
#: crafted file's 1e300 must be a clear error, not a traceback from the calendar.
LATEST: Final = 253_402_300_799.0


def _when(data: dict[str, Any], key: str, where: str) -> float:
    """A time in Unix seconds, from 1970 to the end of year 9999; SnapshotError otherwise."""
    value = _finite(data, key, where)
    if not 0.0 <= value <= LATEST:
        raise SnapshotError(
            f"{where} field {key!r} must be a time from 1970 to 9999 (Unix seconds), "
            f"got {value!r:.40}"
        )
    return value


def _optional_map(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise SnapshotError(f"snapshot field {key!r} must be a map, got {type(value).__name__}")
    return value


def _memory(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A memory map (``state``, ``inputs``, ``outputs``: maps of names), or None."""
    memory = _optional_map(data, key)
    for part, values in (memory or {}).items():
        if part in ("state", "inputs", "outputs") and not isinstance(values, dict | None):
            raise SnapshotError(f"snapshot field {key}.{part} must be a map of names")
    return memory


def _exception(data: dict[str, Any]) -> dict[str, Any] | None:
    exc = _optional_map(data, "exception")
    if exc is None:
        return None
    for key in ("type", "message"):
        _field(exc, key, str, "exception")
    _field(exc, "traceback", str, "exception", "")
    where = exc.get("where")
    if where is not None:
        if not isinstance(where, dict):
            raise SnapshotError("exception field 'where' must be a map")
        _field(where, "file", str, "exception.where")
        _field(where, "line", int, "exception.where")
        _field(where, "function", str, "exception.where")
    return exc


def _fallback(obj: Any) -> Any:
    if is_record_value(obj):
        return to_builtins(obj)  # a record as the map of its fields (restored by its type)
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    return {"$repr": repr(obj)[:1000]}


def pack_value(value: Any) -> bytes:
    """msgpack *value*, turning what msgpack cannot carry into ``{"$repr": ...}``."""
    packed: bytes = msgpack.packb(value, use_bin_type=True, default=_fallback)
    return packed


def unpack_value(data: bytes) -> Any:
    """The inverse of :func:`pack_value`."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing the actor handled: ``message``, ``tick``, ``start``, ``stop``, ``io``,
    ``timer``, ``call`` or ``reply``.

    ``io`` and ``timer`` events are callbacks of a HAL actor (``topic`` names
    the callback); a replay cannot repeat what a device did and skips them.
    ``call`` is the outcome of a call (``topic``: the Call; ``payload``: when it
    began, whether it succeeded, the reply or the error map): a replay gives it
    back to the call instead of calling anyone. ``reply`` is the callback of a
    call started without waiting (``topic`` names it): a replay runs it there.

    ``time`` is the actor's clock (seconds since the epoch) when it was handled;
    message events also carry topic, sender, seq, the envelope timestamp,
    the payload and the trace context.
    """

    kind: str
    time: float
    topic: str = ""
    sender: str = ""
    seq: int = 0
    timestamp_ns: int = 0
    payload: Any = None
    trace: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain map for the snapshot file."""
        if self.kind in ("io", "timer", "reply"):
            return {"kind": self.kind, "time": self.time, "topic": self.topic}
        if self.kind == "call":
            return {
                "kind": self.kind,
                "time": self.time,
                "topic": self.topic,
                "payload": self.payload,
            }
        if self.kind != "message":
            return {"kind": self.kind, "time": self.time}
        return {
            "kind": self.kind,
            "time": self.time,
            "topic": self.topic,
            "sender": self.sender,
            "seq": self.seq,
            "timestamp_ns": self.timestamp_ns,
            "payload": self.payload,
            "trace": self.trace,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Event:
        """Rebuild an event; raises SnapshotError on a bad shape."""
        if not isinstance(data, dict):
            raise SnapshotError(f"an event must be a map, got {type(data).__name__}")
        kind = _field(data, "kind", str, "event")
        if kind not in EVENT_KINDS:
            raise SnapshotError(f"event kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
        trace = data.get("trace")
        if trace is not None and not isinstance(trace, str):
            raise SnapshotError(f"event trace must be a string, got {type(trace).__name__}")
        return cls(
            kind=kind,
            time=_when(data, "time", "event"),
            topic=_field(data, "topic", str, "event", ""),
            sender=_field(data, "sender", str, "event", ""),
            seq=_field(data, "seq", int, "event", 0),
            timestamp_ns=_field(data, "timestamp_ns", int, "event", 0),
            payload=data.get("payload"),
            trace=trace,
        )


class _Absent:
    """Type of :data:`ABSENT`."""

    def __repr__(self) -> str:
        return "ABSENT"


#: Marks a variable that had no value yet in a recorder capture.
ABSENT: Final = _Absent()
#: Types whose values a capture may keep by reference (ABSENT's among them; a memoryview
#: is an Input's read-only view of a received frame).
IMMUTABLE: Final = frozenset({int, float, str, bytes, memoryview, bool, type(None), _Absent})


class Packed(bytes):
    """A mutable value frozen by :func:`freeze` (its msgpack bytes)."""


def freeze(value: Any) -> Any:
    """*value* itself when immutable, else a :class:`Packed` copy: cheap and safe to keep."""
    tp = type(value)
    if tp in IMMUTABLE:
        return value
    if tp is not dict and tp is not list and is_record_value(value):
        # msgspec packs a record in half a microsecond (its fields left at a default the
        # class holds are left out: a restore fills them in again).
        return Packed(_RECORDS.encode(value))
    return Packed(pack_value(value))


_RECORDS: Final = msgspec.msgpack.Encoder()


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`."""
    return unpack_value(value) if type(value) is Packed else value


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """Type, message, formatted traceback and the innermost frame of *exc*."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = None
    if frames:
        last = frames[-1]
        where = {"file": last.filename, "line": last.lineno, "function": last.name}
    return {
        "type": type(exc).__qualname__,
        "module": type(exc).__module__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        "where": where,
    }


@dataclass(frozen=True)
class Snapshot:
    """A failure (or on-demand) snapshot of one actor; see the module docstring."""

    actor: str
    class_path: str
    reason: str
    time: float
    source_hash: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    period: float | None = None
    initial: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)
    failed_event: int | None = None
    state: dict[str, Any] | None = None
    exception: dict[str, Any] | None = None
    host: str = ""
    pid: int = 0
    trace_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as the plain map stored in the file."""
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "actor": self.actor,
            "class_path": self.class_path,
            "source_hash": self.source_hash,
            "params": self.params,
            "topics": self.topics,
            "period": self.period,
            "reason": self.reason,
            "initial": self.initial,
            "events": [e.to_dict() for e in self.events],
            "failed_event": self.failed_event,
            "state": self.state,
            "exception": self.exception,
            "host": self.host,
            "pid": self.pid,
            "time": self.time,
            "trace_id": self.trace_id,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Snapshot:
        """Rebuild a snapshot from its map; SnapshotError names what is wrong."""
        if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError("not an enlil snapshot (no format = 'enlil-snapshot')")
        if data.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(
                f"snapshot version {data.get('version')!r} (this build reads {SNAPSHOT_VERSION})"
            )
        where = "snapshot"
        events_data = _field(data, "events", list, where, [])
        events = [Event.from_dict(e) for e in events_data]
        failed = data.get("failed_event")
        if failed == len(events) and not isinstance(failed, bool):
            failed = None  # the failing event was edited out of an export: none failed
        if failed is not None and (
            isinstance(failed, bool) or not isinstance(failed, int) or not 0 <= failed < len(events)
        ):
            raise SnapshotError(
                f"snapshot field 'failed_event' must be the index of one of its "
                f"{len(events)} events, got {failed!r:.40}"
            )
        period = data.get("period")
        if period is not None:
            period = _finite(data, "period", where)
        trace_id = data.get("trace_id")
        if trace_id is not None and not isinstance(trace_id, str):
            raise SnapshotError("snapshot field 'trace_id' must be a string")
        detail = _optional_map(data, "detail") or {}
        paths = detail.get("import_paths", [])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise SnapshotError("snapshot field 'detail.import_paths' must be a list of folders")
        topics = _optional_map(data, "topics") or {}
        if not all(isinstance(v, str) for v in topics.values()):
            raise SnapshotError("snapshot field 'topics' must map names to topics")
        return cls(
            actor=_field(data, "actor", str, where),
            class_path=_field(data, "class_path", str, where),
            reason=_field(data, "reason", str, where),
            time=_when(data, "time", where),
            source_hash=_field(data, "source_hash", str, where, ""),
            params=_optional_map(data, "params") or {},
            topics=topics,
            period=period,
            initial=_memory(data, "initial"),
            events=events,
            failed_event=failed,
            state=_memory(data, "state"),
            exception=_exception(data),
            host=_field(data, "host", str, where, ""),
            pid=_field(data, "pid", int, where, 0),
            trace_id=trace_id,
            detail=detail,
        )

    def encode(self) -> bytes:
        """The file contents (msgpack)."""
        return pack_value(self.to_dict())

    @classmethod
    def decode(cls, data: bytes) -> Snapshot:
        """Read file contents; SnapshotError on anything that is not a valid snapshot."""
        try:
            obj = unpack_value(data)
        except (ValueError, TypeError, RecursionError, msgpack.UnpackException) as exc:
            raise SnapshotError(f"not msgpack: {exc}") from None
        return cls.from_dict(obj)


# -- readable forms (JSON and TOML) -------------------------------------------------
# JSON has no bytes and TOML has neither bytes nor nil: both are tagged.


def to_readable(value: Any, *, toml: bool = False) -> Any:
    """*value* with bytes as ``{"$bytes": base64}`` (and, for TOML, nil as ``{"$nil": true}``)."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if value is None and toml:
        return {"$nil": True}
    if isinstance(value, list):
        return [to_readable(v, toml=toml) for v in value]
    if isinstance(value, dict):
        return {str(k): to_readable(v, toml=toml) for k, v in value.items()}
    return value


def from_readable(value: Any) -> Any:
    """The inverse of :func:`to_readable`."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        if set(value) == {"$nil"}:
            return None
        return {k: from_readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_readable(v) for v in value]
    return value
