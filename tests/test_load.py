"""The site under a flood of control requests: supervision is never starved."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from actors.testing import MeshFactory

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
CLIENTS = 200
PROCESSES = 4
SECONDS = 20.0
IN_FLIGHT = 4  # requests each client keeps in flight: the control socket never runs dry


def test_two_hundred_control_clients_starve_no_actor(mesh: MeshFactory) -> None:
    """200 clients polling status for 20 s: no actor killed, every request answered,
    heartbeats still read on time, the supervisor's memory and descriptors flat.

    Before the control socket was read in bounded turns after the broker's, the
    replies showed the actors' last heartbeats 20 s old: none was read under the load.
    """
    site = mesh.start(
        {
            "actors": {
                "a": {"class": "mesh_actors:Doubler"},
                "b": {"class": "mesh_actors:Doubler"},
            },
        }
    )
    before = {a["name"]: (a["pid"], a["restarts"]) for a in site.status()["actors"]}
    supervisor = psutil.Process(site.proc.pid)
    rss_before, fds_before = supervisor.memory_info().rss, supervisor.num_fds()
    endpoint = site.site.supervisor.control_connect
    argv = [str(HERE / "control_load.py"), endpoint, str(CLIENTS // PROCESSES)]
    loads = [
        subprocess.Popen(
            [sys.executable, *argv, str(SECONDS), str(IN_FLIGHT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    try:
        for load in loads:
            out, _ = load.communicate(timeout=SECONDS + 60)
            assert load.returncode == 0
            results.append(json.loads(out))
    finally:
        for load in loads:
            if load.poll() is None:
                load.kill()
                load.wait()
    sent = sum(r["sent"] for r in results)
    assert sent > CLIENTS  # every client asked again and again
    assert sum(r["answered"] for r in results) == sent
    assert sum(r["errors"] for r in results) == 0
    # Heartbeats come every second (the default); the supervisor saw each one in time.
    assert max(r["heartbeat_age"] for r in results) < 2.5
    status = site.status()
    after = {a["name"]: (a["pid"], a["restarts"]) for a in status["actors"]}
    assert after == before, "an actor was killed or restarted under the control load"
    assert status["counts"] == {}
    assert supervisor.num_fds() == fds_before
    assert supervisor.memory_info().rss - rss_before < 16 * 2**20
