"""Durable State: which values of an actor are kept, their stored form, and recovery (pure).

An actor's durable values (``State(..., durable=True)``) are stored as one
record: a msgpack map of name -> value, with the class's ``version`` and the
epoch of the process that wrote it. :class:`DurableState` packs the values of
a running actor (the packed bytes tell whether anything changed since the
last write: no hook runs on an assignment) and :func:`recover` turns a stored
record into values for this class, through ``migrate_state`` when the
version differs. Besides the State, the record holds the framework's *journals*
under names that start with ``$`` (no State name can): a reliable reader's inbox,
so that what it processed and the State it changed are stored in one transaction.
Reading and writing the database is the shell's (:mod:`actors.durability`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import msgpack

from actors.core.declarations import ActorSpec
from actors.core.types import coerce, pack_default


class DurableError(ValueError):
    """Stored state cannot be read or migrated; the message names the actor and why."""


@dataclass(frozen=True)
class Stored:
    """One actor's stored record."""

    data: bytes
    version: int
    epoch: int
    #: Wall-clock seconds of the write.
    written: float


def durable_names(spec: ActorSpec) -> tuple[str, ...]:
    """The names of the spec's durable State, in declaration order."""
    return tuple(n for n, var in spec.states.items() if getattr(var, "durable", False))


#: The first character of a journal's name in a stored record.
JOURNAL: Final = "$"


class Journal(Protocol):
    """What the framework stores with an actor's State, in the same write."""

    def take(self) -> Any:
        """The value to store now (msgpack-able)."""
        ...

    def stored(self, value: Any) -> None:
        """*value* (from :meth:`take`) is stored."""
        ...

    def restore(self, value: Any) -> None:
        """*value* was stored by the process before this one (check it: a bad one is
        ValueError, and the journal starts empty)."""
        ...


#: Messages to store, as (topic, seq, envelope); stored ones that are gone, as (topic,
#: first, last) ranges of sequence numbers.
Rows = list[tuple[str, int, bytes]]
Ranges = list[tuple[str, int, int]]


class Outbox(Journal, Protocol):
    """A journal whose messages are rows of their own (an outbox: too many to rewrite at
    each write), added and removed in the same transaction as the State."""

    def changes(self) -> tuple[Rows, Ranges]:
        """The rows to add, and the ranges to remove, since the last write."""
        ...

    def restore_rows(self, rows: Rows) -> None:
        """The rows the process before this one stored (after :meth:`restore`)."""
        ...


class DurableState:
    """The durable values of one actor instance, with its journals, packed for the store."""

    def __init__(
        self,
        spec: ActorSpec,
        values: dict[str, Any],
        journals: dict[str, Journal] | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.names = durable_names(spec)
        #: The actor's attribute dict (its State values live there).
        self.values = values
        #: Journal name (``$...``) -> the journal.
        self.journals = journals or {}
        #: The journal whose messages are rows of their own, if any (one of *journals*).
        self.outbox = outbox
        #: What was last written (or read): a pack equal to it needs no write.
        self.last: bytes | None = None
        #: The journals' values in the last pack, and the outbox's rows.
        self._taken: dict[str, Any] = {}
        self.rows: tuple[Rows, Ranges] = ([], [])

    def pack(self) -> bytes:
        """The current durable values and journals as the stored msgpack map."""
        get = self.values.get
        record = {n: get(n) for n in self.names}
        if self.journals:
            self._taken = {key: j.take() for key, j in self.journals.items()}
            record.update(self._taken)
            if self.outbox is not None:
                self.rows = self.outbox.changes()
        packed: bytes = msgpack.packb(record, use_bin_type=True, default=pack_default)
        return packed

    def stored(self) -> None:
        """The last pack is stored: its journals are told."""
        for key, value in self._taken.items():
            self.journals[key].stored(value)

    def changed(self) -> bytes | None:
        """The packed values if they differ from what was last written, else None."""
        packed = self.pack()
        return None if packed == self.last else packed


def journals_of(data: bytes) -> dict[str, Any]:
    """The journals in a stored record's *data* (none when it is not readable)."""
    try:
        values = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        return {}
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(k, str) and k.startswith(JOURNAL)}


def recover(
    stored: Stored,
    spec: ActorSpec,
    version: int,
    migrate: Callable[[dict[str, Any], int], dict[str, Any]],
    actor: str,
) -> dict[str, Any]:
    """The durable values of *stored* for this class (``version``), migrated when the
    stored version differs; DurableError names *actor* and what is wrong."""
    try:
        values = msgpack.unpackb(stored.data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise DurableError(f"actor {actor!r}: its stored state is not readable: {exc}") from None
    if not isinstance(values, dict):
        raise DurableError(f"actor {actor!r}: its stored state is not a map")
    if stored.version != version:
        try:
            values = migrate(dict(values), stored.version)
        except Exception as exc:
            raise DurableError(
                f"actor {actor!r}: migrate_state from version {stored.version} to {version} "
                f"failed: {exc!r}"
            ) from exc
        if not isinstance(values, Mapping):
            raise DurableError(f"actor {actor!r}: migrate_state did not return a map")
    names = set(durable_names(spec))
    out = {}
    for name, value in values.items():
        if name not in names:
            continue  # no longer durable (or renamed without a migration): left out
        try:
            out[name] = coerce(value, spec.states[name].type)
        except TypeError as exc:
            raise DurableError(
                f"actor {actor!r}: stored State {name!r} does not fit its declaration ({exc}); "
                "raise the class's version and write migrate_state"
            ) from None
    return out


#: Highest class ``version`` a stored record may name (SQLite integers are 64-bit).
MAX_VERSION: Final = 2**31 - 1


def import_problems(values: Any, version: Any, cls: Any, actor: str) -> list[tuple[str, str]]:
    """Every reason why *values* (stored as *version*) would not start *actor* of class
    *cls* (its declarations, ``version`` and ``migrate_state``), as ``(field, reason)``:
    what its start would refuse is refused before it is written. Empty when sound."""
    spec: ActorSpec = cls._enlil_spec
    class_version: int = cls.version
    if not isinstance(values, dict):
        return [("values", "must be a map of durable State names to values")]
    names = durable_names(spec)
    if not names:
        return [("", f"{spec.cls_name} declares no durable State (State(..., durable=True))")]
    if type(version) is not int or not 1 <= version <= MAX_VERSION:
        return [("version", f"must be an integer from 1 to {MAX_VERSION}, got {version!r}")]
    if version > class_version:
        return [
            (
                "version",
                f"{version} is newer than {spec.cls_name}.version ({class_version}): a class "
                "cannot read State written by a later one",
            )
        ]
    out: list[tuple[str, str]] = []
    if version == class_version:
        for name, value in values.items():
            if name not in names:
                known = ", ".join(names)
                out.append((f"values.{name}", f"not a durable State of {spec.cls_name} ({known})"))
                continue
            try:
                coerce(value, spec.states[name].type)
            except TypeError as exc:
                out.append((f"values.{name}", f"does not fit its declaration: {exc}"))
    try:
        packed = msgpack.packb(values, use_bin_type=True, default=pack_default)
    except (ValueError, TypeError, OverflowError) as exc:
        return [*out, ("values", f"cannot be stored: {exc}")]
    if not out:
        try:
            recover(Stored(packed, version, 0, 0.0), spec, class_version, cls.migrate_state, actor)
        except DurableError as exc:
            out.append(("values", str(exc)))
    return out
