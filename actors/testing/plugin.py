"""The enlil pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

``mesh``
    a :class:`~actors.testing.mesh.MeshFactory`; ``mesh.start(config)`` runs a
    real site whose actor modules are found beside the test file. On teardown
    every process is gone and every socket file removed, or the test fails.

At the end of the session, the plugin fails the run if any process started
under it (a child of the pytest process) is still running.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from actors.testing.mesh import MeshFactory, end_processes


@pytest.fixture
def mesh(request: pytest.FixtureRequest) -> Iterator[MeshFactory]:
    """Start real meshes for this test; check that nothing is left behind."""
    factory = MeshFactory(python_path=[Path(str(request.path)).parent])
    try:
        yield factory
    finally:
        problems = factory.close()
        if problems:
            pytest.fail("the mesh left things behind:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _enlil_no_leftover_processes() -> Iterator[None]:
    """Fail the session if a process started during it is still running at its end."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    problems = end_processes(left, timeout=5.0)
    if problems:
        pytest.fail(
            "processes left running at the end of the session:\n" + "\n".join(problems),
            pytrace=False,
        )
