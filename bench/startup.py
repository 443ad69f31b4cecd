"""Start-up, memory and restart: 50 actors to ready, USS per idle actor, crash -> ready.

Each figure is measured for zygote spawning and for plain spawning in the same
run. Times come from the supervisor's own log (its ``ready`` events, stamped
to the microsecond) against the wall clock when the site was started or the
actor was killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, close_cleanly, log_events, median


def _idle_site(count: int, spawn: str) -> dict[str, Any]:
    return {
        "supervisor": {"spawn": spawn, "heartbeat_interval": 1.0, "ready_timeout": 60.0},
        "actors": {
            f"idle{i}": {"class": "idle_actor:Idle", "topics": {"nothing": f"idle.{i}"}}
            for i in range(count)
        },
    }


def startup(count: int, spawn: str, kills: int) -> dict[str, float]:
    """Seconds from starting the supervisor to every actor ready, as a tool polling the
    control endpoint sees it (``user_s``: the mesh's wait is that poll) and by the last
    ``ready`` in the log; median USS; restarts. Raises unless every actor became ready
    (a row must not pass by measuring nothing)."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    try:
        t0 = time.time()
        site = factory.start(_idle_site(count, spawn), timeout=120, subscribe=["$sys.event"])
        user = time.time() - t0
        ready = [r["at"] for r in log_events(site.log_path, "ready") if r["actor"] != "broker"]
        if len(ready) < count:
            raise RuntimeError(f"only {len(ready)} of {count} actors became ready")
        all_ready = max(ready) - t0
        uss = []
        for record in site.status()["actors"]:
            if record["kind"] == "actor":
                uss.append(psutil.Process(record["pid"]).memory_full_info().uss)
        restarts = []
        for i in range(kills):
            name = f"idle{i % count}"
            pid = site.pid(name)
            killed_at = time.time()
            os.kill(pid, signal.SIGKILL)
            new = site.wait_restarted(name, pid, timeout=60)["pid"]
            at = next(
                r["at"]
                for r in log_events(site.log_path, "ready")
                if r["actor"] == name and r.get("actor_pid") == new
            )
            restarts.append(at - killed_at)
        return {
            "user_s": user,
            "ready_s": all_ready,
            "uss_mib": median(uss) / 2**20,
            "restart_ms": median(restarts) * 1000 if restarts else float("nan"),
        }
    finally:
        close_cleanly(factory)


if __name__ == "__main__":
    for mode in ("zygote", "plain"):
        r = startup(50, mode, 20)
        print(
            f"{mode}: 50 actors ready in {r['ready_s']:.2f}s, USS {r['uss_mib']:.1f} MiB, "
            f"crash->ready {r['restart_ms']:.0f} ms"
        )
