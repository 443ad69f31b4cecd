"""The control endpoint: one module per command, and the registry that lists them (shell).

Each command module defines ``handle(ctl, identity, req)``, which answers the
request (now, or later through a waiter or a forwarded request) or raises
:class:`~supervisor.core.protocol.ProtocolError`. :data:`COMMANDS` maps each op
of the protocol (:data:`supervisor.core.protocol.OPS`) to its handler; a test
holds the two against each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from supervisor.control import (
    add,
    fault,
    faults,
    lifecycle,
    loglevel,
    reload,
    remove,
    rights,
    shutdown,
    snapshot,
    snapshots,
    state,
    status,
    swap,
    undeliverable,
)
from supervisor.core.protocol import Request

if TYPE_CHECKING:
    from supervisor.control.server import Controller

Handler = Callable[["Controller", bytes, Request], None]

#: op -> handler, for every op of the control protocol.
COMMANDS: dict[str, Handler] = {
    "status": status.handle,
    "start": lifecycle.start,
    "stop": lifecycle.stop,
    "restart": lifecycle.restart,
    "shutdown": shutdown.handle,
    "snapshot": snapshot.handle,
    "snapshots": snapshots.handle,
    "loglevel": loglevel.handle,
    "swap": swap.handle,
    "add": add.handle,
    "remove": remove.handle,
    "reload": reload.handle,
    "faults": faults.handle,
    "fault_add": fault.add,
    "fault_clear": fault.clear,
    "fault_pause": fault.pause,
    "fault_resume": fault.resume,
    "state": state.show,
    "state_reset": state.reset,
    "rights": rights.handle,
    "undeliverable": undeliverable.handle,
    "redeliver": undeliverable.redeliver,
}
#: Ops served while the site shuts down (the others are refused with ``shutting_down``).
DURING_SHUTDOWN: frozenset[str] = frozenset(
    {"status", "shutdown", "snapshots", "loglevel", "faults", "rights"}
)
