"""The enlil test kit: an in-process harness, snapshot replay and real meshes for pytest.

* :class:`Harness` drives one actor without sockets, on a fake clock;
* :func:`replay` re-runs a failure snapshot in-process (an exception propagates);
* the ``mesh`` pytest fixture (:class:`MeshFactory`) starts a real site -
  supervisor, broker and actor processes - in a temporary run directory and
  guarantees on teardown that every process is gone and no socket file is left;
* :class:`Hosts` makes network namespaces joined by veth links (root), and
  :class:`HostSite` runs a site of several hosts in them, a supervisor per host.

Names are imported on first use, so that importing one part (the replay, for
the command line) does not load the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actors.testing.harness import NO_REPLY, FakeClock, Harness
    from actors.testing.hosts import HostSite
    from actors.testing.mesh import Mesh, MeshError, MeshFactory, wait_gone
    from actors.testing.netns import Hosts
    from actors.testing.replayer import ReplayResult, replay

_WHERE = {
    "FakeClock": "harness",
    "Harness": "harness",
    "NO_REPLY": "harness",
    "Mesh": "mesh",
    "MeshError": "mesh",
    "MeshFactory": "mesh",
    "wait_gone": "mesh",
    "HostSite": "hosts",
    "Hosts": "netns",
    "ReplayResult": "replayer",
    "replay": "replayer",
}

__all__ = [
    "NO_REPLY",
    "FakeClock",
    "Harness",
    "HostSite",
    "Hosts",
    "Mesh",
    "MeshError",
    "MeshFactory",
    "ReplayResult",
    "replay",
    "wait_gone",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'actors.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"actors.testing.{_WHERE[name]}"), name)
