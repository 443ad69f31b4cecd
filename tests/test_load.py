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


def run_load(endpoint: str, seconds: float) -> list[dict[str, float]]:
    """CLIENTS control clients in PROCESSES processes for *seconds*; what each process counted."""
    argv = [str(HERE / "control_load.py"), endpoint, str(CLIENTS // PROCESSES)]
    loads = [
        subprocess.Popen(
            [sys.executable, *argv, str(seconds), str(IN_FLIGHT)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(PROCESSES)
    ]
    results = []
    try:
        for load in loads:
            out, _ = load.communicate(timeout=seconds + 60)
            assert load.returncode == 0
            results.append(json.loads(out))
    finally:
        for load in loads:
            if load.poll() is None:
                load.kill()
                load.wait()
    return results


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
    endpoint = site.site.supervisor.control_connect
    fds_before = supervisor.num_fds()
    # Two halves: the first grows the supervisor's buffers to what such a load needs
    # (about 15 MiB); in the second, its memory stays flat.
    results = run_load(endpoint, SECONDS / 2)
    rss_half, fds_half = supervisor.memory_info().rss, supervisor.num_fds()
    results += run_load(endpoint, SECONDS / 2)
    sent = sum(r["sent"] for r in results)
    assert sent > CLIENTS * IN_FLIGHT  # every client asked again and again
    assert sum(r["answered"] for r in results) == sent
    assert sum(r["errors"] for r in results) == 0
    # Heartbeats come every second (the default); the supervisor saw each one in time.
    assert max(r["heartbeat_age"] for r in results) < 2.5
    status = site.status()
    after = {a["name"]: (a["pid"], a["restarts"]) for a in status["actors"]}
    assert after == before, "an actor was killed or restarted under the control load"
    assert status["counts"] == {}
    assert supervisor.num_fds() == fds_half == fds_before
    grown = supervisor.memory_info().rss - rss_half
    assert grown < 6 * 2**20, f"the supervisor grew by {grown / 2**20:.1f} MiB in the second half"
