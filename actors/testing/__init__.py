"""The enlil test kit: an in-process harness, snapshot replay and real meshes for pytest.

* :class:`Harness` drives one actor without sockets, on a fake clock;
* :func:`replay` re-runs a failure snapshot in-process (an exception propagates);
* the ``mesh`` pytest fixture (:class:`MeshFactory`) starts a real site -
  supervisor, broker and actor processes - in a temporary run directory and
  guarantees on teardown that every process is gone and no socket file is left.
"""

from actors.testing.harness import FakeClock, Harness
from actors.testing.mesh import Mesh, MeshError, MeshFactory, wait_gone
from actors.testing.replay import ReplayResult, replay

__all__ = [
    "FakeClock",
    "Harness",
    "Mesh",
    "MeshError",
    "MeshFactory",
    "ReplayResult",
    "replay",
    "wait_gone",
]
