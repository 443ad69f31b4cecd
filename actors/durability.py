"""Durable State in the site's state database: SQLite in WAL mode, one file per host (shell).

One table, one row per actor: its durable values (msgpack), the class
``version`` that wrote them, the writer's ``epoch`` and the time of the
write. Each write is one transaction (atomic for the actor) with
``synchronous = FULL``: once a write returns, a kill -9 or a power cut keeps
it. An actor writes at most every ``[persistence] interval`` (only when a
durable value changed) and at every stop, so a kill -9 or a power cut loses
at most the changes of the last interval.

Claiming: a process that starts as an actor takes the next epoch of its row
(:meth:`StateStore.claim`), and writes only while the row still has its
epoch; a second process claiming the same actor (a copy started by hand
against the same database) is refused while the first holds the actor's name
lock, and a process whose epoch was taken over (by a swap's new version) has
its writes refused (:class:`Superseded`), never interleaved.

Failures (a full or read-only disk, a locked database) are exceptions the
caller counts and retries at the next interval; the actor never stops for
them.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from actors.core.durable import (
    DurableError,
    DurableState,
    Journal,
    Ranges,
    Rows,
    Stored,
    journals_of,
    recover,
)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS state (
    actor TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    version INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    written REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    actor TEXT NOT NULL,
    topic TEXT NOT NULL,
    seq INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    PRIMARY KEY (actor, topic, seq)
) WITHOUT ROWID;
"""
#: Milliseconds a write waits for another process's transaction before it counts as failed
#: (and is tried again at the next interval): short, since the actor's loop waits meanwhile.
BUSY_MS: Final = 50


class Superseded(RuntimeError):
    """Another process claimed this actor's state since this one did."""


def connect(path: Path) -> sqlite3.Connection:
    """The database at *path* (made owner-only, in WAL mode, if new)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    db = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.executescript(_SCHEMA)
    return db


class StateStore:
    """One process's connection to the state database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = connect(path)

    def load(self, actor: str) -> Stored | None:
        """*actor*'s stored record, or None."""
        row = self.db.execute(
            "SELECT data, version, epoch, written FROM state WHERE actor = ?", (actor,)
        ).fetchone()
        return Stored(bytes(row[0]), int(row[1]), int(row[2]), float(row[3])) if row else None

    def claim(self, actor: str) -> int:
        """Take the next epoch of *actor*'s row (made empty if none); return it."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT INTO state (actor, data, version, epoch, written) "
                "VALUES (?, x'80', 0, 0, 0) ON CONFLICT(actor) DO UPDATE SET epoch = epoch + 1",
                (actor,),
            )
            (epoch,) = self.db.execute(
                "SELECT epoch FROM state WHERE actor = ?", (actor,)
            ).fetchone()
        return int(epoch)

    def write(
        self,
        actor: str,
        epoch: int,
        version: int,
        data: bytes,
        rows: tuple[Rows, Ranges] = ([], []),
    ) -> None:
        """Write *actor*'s values under *epoch*, and its outbox's changed *rows*, in one
        transaction; Superseded (nothing written) if another process claimed it."""
        db = self.db
        with db:  # one transaction: rolled back if anything in it fails
            db.execute("BEGIN IMMEDIATE")
            done = db.execute(
                "UPDATE state SET data = ?, version = ?, written = ? WHERE actor = ? AND epoch = ?",
                (data, version, time.time(), actor, epoch),
            ).rowcount
            if done != 1:
                raise Superseded(
                    f"actor {actor!r}: another process claimed its state (epoch > {epoch})"
                )
            add, gone = rows
            if gone:
                db.executemany(
                    "DELETE FROM outbox WHERE actor = ? AND topic = ? AND seq BETWEEN ? AND ?",
                    [(actor, topic, low, high) for topic, low, high in gone],
                )
            if add:
                db.executemany(
                    "INSERT OR REPLACE INTO outbox (actor, topic, seq, envelope) "
                    "VALUES (?, ?, ?, ?)",
                    [(actor, topic, seq, envelope) for topic, seq, envelope in add],
                )

    def outbox(self, actor: str) -> Rows:
        """*actor*'s stored outbox: (topic, seq, envelope), in order."""
        return [
            (str(r[0]), int(r[1]), bytes(r[2]))
            for r in self.db.execute(
                "SELECT topic, seq, envelope FROM outbox WHERE actor = ? ORDER BY topic, seq",
                (actor,),
            )
        ]

    def reset(self, actor: str) -> bool:
        """Forget *actor*'s stored values; whether there were any."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM outbox WHERE actor = ?", (actor,))
            return self.db.execute("DELETE FROM state WHERE actor = ?", (actor,)).rowcount > 0

    def rows(self) -> list[tuple[str, Stored]]:
        """Every actor's record."""
        return [
            (str(r[0]), Stored(bytes(r[1]), int(r[2]), int(r[3]), float(r[4])))
            for r in self.db.execute(
                "SELECT actor, data, version, epoch, written FROM state ORDER BY actor"
            )
        ]

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


class Durability:
    """An actor process's durable State: read before ``on_start``, written when due.

    *clock* is the monotonic clock; writes happen at most every *interval*
    seconds (:meth:`due`), and always at :meth:`flush` with ``force``.
    """

    def __init__(  # noqa: PLR0913, PLR0917 - the actor, its values and version, the store
        self,
        actor: str,
        state: DurableState,
        version: int,
        path: Path,
        interval: float,
        log: Any,
    ) -> None:
        self.actor = actor
        self.state = state
        self.version = version
        self.path = path
        self.interval = interval
        self.log = log
        self.store: StateStore | None = None
        self.epoch = -1
        #: When the next write may happen (monotonic seconds).
        self.next_at = float("inf")
        self.written = 0
        self.failed = 0
        self.last_error = ""

    def restore(self, migrate: Any, spec: Any, now: float) -> dict[str, Any]:
        """Open the store, claim the actor's state and return its stored values (migrated;
        {} when none). DurableError when they cannot be read or migrated; OSError or
        sqlite3.Error when the database cannot be opened."""
        self.store = StateStore(self.path)
        stored = self.store.load(self.actor)
        self.epoch = self.store.claim(self.actor)
        self.next_at = now + self.interval
        if stored is None or stored.written == 0:
            return {}
        values = recover(stored, spec, self.version, migrate, self.actor)
        kept = journals_of(stored.data)
        for key, journal in self.state.journals.items():
            if key in kept:
                try:
                    journal.restore(kept[key])
                except ValueError as exc:
                    self.log.error("stored journal not used", journal=key, error=str(exc))
        if self.state.outbox is not None:
            self.state.outbox.restore_rows(self.store.outbox(self.actor))
        return values

    def taken(self, values: dict[str, Any]) -> None:
        """The values now in the actor (restored, or the defaults): the base for changes."""
        self.state.last = self.state.pack() if values else None

    def due(self, now: float) -> None:
        """Write if the interval has passed and a durable value changed."""
        if now >= self.next_at:
            self.next_at = now + self.interval
            self.flush()

    def commit(self, now: float) -> bool:
        """Write now, whether or not a value changed (an outbox's messages wait for it);
        whether the store holds them. After a failure, tried again an interval later."""
        if self.last_error and now < self.next_at:
            return False
        self.next_at = now + self.interval
        return self.flush(force=True)

    def flush(self, *, force: bool = False) -> bool:
        """Write the durable values if they changed (with *force*: even if they did not);
        whether the store holds them now. A failure is counted and logged, never raised."""
        if self.store is None:
            return False
        packed = self.state.pack() if force else self.state.changed()
        if packed is None:
            return True
        try:
            self.store.write(self.actor, self.epoch, self.version, packed, self.state.rows)
        except (sqlite3.Error, OSError, Superseded) as exc:
            self.failed += 1
            if str(exc) != self.last_error:  # once per kind of failure, not each interval
                self.log.error("durable state not written", actor=self.actor, error=str(exc))
            self.last_error = str(exc)
            return False
        self.state.last = packed
        self.state.stored()
        self.written += 1
        self.last_error = ""
        return True

    def close(self) -> None:
        """Close the store's connection."""
        if self.store is not None:
            self.store.close()
            self.store = None


def durable_for(
    name: str, engine: Any, path: Path | None, interval: float, log: Any
) -> Durability | None:
    """The durability of actor *name* run by *engine*, or None when its class declares no
    durable State (nothing is opened then). The engine's journals (a reliable reader's
    inbox) are stored with the State."""
    journals: dict[str, Journal] = engine.reliable.journals()
    state = DurableState(engine.spec, engine.actor.__dict__, journals, engine.reliable.outbox())
    if not state.names or path is None:
        return None
    engine.reliable.journaled(True)
    return Durability(name, state, getattr(engine.cls, "version", 1), path, interval, log)


def start_durable(durable: Durability, engine: Any, now: float, swapped: bool) -> None:
    """Before ``on_start`` (or a swapped-in version's first step): claim the actor's state
    and put its stored values in the actor; DurableError (why it may not start) when they
    cannot be read or migrated and the class does not fall back to its defaults.

    A swapped-in version keeps what it was handed and writes it at once. A store that
    cannot be opened is logged and counted: the actor runs without durability then."""
    try:
        values = durable.restore(engine.cls.migrate_state, engine.spec, now)
    except DurableError as exc:
        if not getattr(engine.cls, "durable_fallback", False):
            raise
        durable.log.error("durable state not used: starting from the defaults", error=str(exc))
        values = {}
    except (OSError, sqlite3.Error) as exc:
        durable.failed += 1
        durable.log.error("durable state unavailable", actor=durable.actor, error=str(exc))
        durable.close()
        engine.reliable.journaled(False)  # nothing stored: a reader acknowledges as it takes
        return
    if swapped:
        durable.flush(force=True)
        return
    engine.actor.__dict__.update(values)
    durable.taken(values)
    if values:
        durable.log.info("durable state restored", names=sorted(values))


__all__ = [
    "Durability",
    "DurableError",
    "StateStore",
    "Superseded",
    "connect",
    "durable_for",
    "start_durable",
]
