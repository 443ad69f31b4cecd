"""``state name`` and ``state_reset name``: an actor's durable State as stored (shell).

The supervisor reads the site's state database (data only: no actor code);
a reset forgets the stored values of a stopped actor, which then starts from
its defaults. :func:`stored_state` is what ``add`` and ``remove`` ask before
they go on (see :mod:`supervisor.core.protocol`).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import msgpack

from actors.core.snapshot import to_readable
from actors.durability import StateStore
from supervisor.core.lifecycle import ChildState
from supervisor.core.protocol import ProtocolError, Request, encode_result
from supervisor.core.replies import StateReset

if TYPE_CHECKING:
    from pathlib import Path

    from supervisor.control.server import Controller


def read_state(path: Path, actor: str) -> dict[str, Any]:
    """*actor*'s stored record, readable (``values`` None when nothing is stored)."""
    if not path.exists():
        return {"actor": actor, "values": None, "version": None, "epoch": None, "written": None}
    try:
        store = StateStore(path)
        try:
            record = store.load(actor)
        finally:
            store.close()
    except (sqlite3.Error, OSError) as exc:
        raise ProtocolError("failed", f"the state database {path} cannot be read: {exc}") from None
    if record is None or record.written == 0:
        return {"actor": actor, "values": None, "version": None, "epoch": None, "written": None}
    try:
        values = to_readable(msgpack.unpackb(record.data, raw=False, strict_map_key=False))
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        values = {"unreadable": str(exc)}
    return {
        "actor": actor,
        "values": values,
        "version": record.version,
        "epoch": record.epoch,
        "written": record.written,
    }


def stored_state(ctl: Controller, name: str, choice: str | None, what: str) -> bool:
    """Refuse *what* (``add``, ``remove``) of *name* while it has stored durable State and
    no ``state`` choice; whether it is to be dropped (:func:`drop`)."""
    path = ctl.supervision.site.persistence.path
    record = read_state(path, name)
    if record["values"] is None:
        return False
    if choice is None:
        raise ProtocolError(
            "failed",
            f"actor {name!r} has stored durable State (written at {record['written']:.0f}): "
            f"{what} it with --keep-state (a later actor {name!r} starts from it) or "
            "--drop-state",
        )
    return choice == "drop"


def drop(ctl: Controller, name: str) -> None:
    """Forget *name*'s stored durable State (once its process is gone: called from the
    loop, so a database that cannot be written is logged, never raised)."""
    try:
        _reset(ctl.supervision.site.persistence.path, name)
    except ProtocolError as exc:
        ctl.supervision.events.log.error("durable state not dropped", actor=name, error=str(exc))


def _reset(path: Path, name: str) -> bool:
    try:
        store = StateStore(path)
        try:
            return store.reset(name)
        finally:
            store.close()
    except (sqlite3.Error, OSError) as exc:
        raise ProtocolError(
            "failed", f"the state database {path} cannot be written: {exc}"
        ) from None


def show(ctl: Controller, identity: bytes, req: Request) -> None:
    """Reply with the actor's stored durable State (also of an actor no longer in the
    site: what ``remove --keep-state`` kept)."""
    name = str(req.name)
    path = ctl.supervision.site.persistence.path
    ctl.reply(identity, encode_result(req.id, read_state(path, name)))


def reset(ctl: Controller, identity: bytes, req: Request) -> None:
    """Forget a stopped (or removed) actor's stored durable State."""
    name = str(req.name)
    child = ctl.supervision.actors.get(name)
    if child is not None and child.state is not ChildState.STOPPED:
        raise ProtocolError(
            "failed",
            f"actor {child.name!r} is {child.state}: stop it first (ctl stop {child.name}), "
            "or it writes its values again",
        )
    done = _reset(ctl.supervision.site.persistence.path, name)
    ctl.reply(identity, encode_result(req.id, StateReset(name, done)))
