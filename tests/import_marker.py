"""An actor module that writes the pid of every process importing it (to the file named by
``ENLIL_IMPORT_MARKER``): which processes run a site's user code."""

from __future__ import annotations

import os

from actors import Actor, Input

_MARKER = os.environ.get("ENLIL_IMPORT_MARKER")
if _MARKER:
    with open(_MARKER, "a") as _out:
        _out.write(f"{os.getpid()}\n")


class Marked(Actor):
    """Does nothing; importing its module is what counts."""

    value = Input("marked.in", int, doc="Unused", default=0)

    def step(self) -> None:
        """Runs in the actor's process; nothing to do."""
