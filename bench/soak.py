"""200 actors: start, a minute of traffic, clean shutdown; total memory; no orphan.

Each Chatter publishes its count ten times a second to its neighbour in a ring
(2,000 messages/s in all), through one broker. At the end: every actor has
heard its neighbour, no gap was counted, the supervisor exits 0 on SIGTERM,
no process is left and no error was logged.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, log_events


def ring(count: int) -> dict[str, Any]:
    """A site of *count* Chatters in a ring."""
    return {
        "supervisor": {"heartbeat_interval": 1.0, "ready_timeout": 60.0},
        "actors": {
            f"c{i}": {
                "class": "bench_actors:Chatter",
                "topics": {"heard": f"chat.{(i - 1) % count}", "said": f"chat.{i}"},
            }
            for i in range(count)
        },
    }


def soak(count: int, seconds: float) -> dict[str, Any]:
    """Run the ring; return figures and problems found."""
    from actors.testing import MeshFactory, wait_gone

    factory = MeshFactory(python_path=[HERE])
    problems: list[str] = []
    t0 = time.time()
    site = factory.start(ring(count), timeout=120, subscribe=["$sys.event"])
    ready = max(r["at"] for r in log_events(site.log_path, "ready")) - t0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        site.wait_status(lambda s: True, timeout=10)  # the supervisor answers throughout
        site.mark()
        left = end - time.monotonic()
        if left > 0:
            site.link.sub.poll(int(min(left, 5.0) * 1000))  # waits on events, not a sleep
    status = site.status()
    actors = [a for a in status["actors"] if a["kind"] == "actor"]
    procs = [psutil.Process(a["pid"]) for a in status["actors"]]
    procs.append(psutil.Process(site.proc.pid))
    procs += [p for p in psutil.Process(site.proc.pid).children() if p not in procs]
    uss = sum(p.memory_full_info().uss for p in procs)
    rss = sum(p.memory_info().rss for p in procs)
    heard = [a["stats"].get("accepted", 0) for a in actors]
    gaps = sum(a["stats"].get("gaps", 0) for a in actors)
    if min(heard) == 0:
        problems.append("an actor heard nothing")
    if any(a["state"] != "running" or a["restarts"] for a in actors):
        problems.append("an actor failed or restarted")
    stop = time.monotonic()
    site.proc.send_signal(signal.SIGTERM)
    code = site.proc.wait(120)
    stopped = time.monotonic() - stop
    if code != 0:
        problems.append(f"supervisor exited {code}")
    if wait_gone(procs, timeout=10):
        problems.append("processes left after shutdown")
    errors = []
    for line in site.log_path.read_text().splitlines():
        if line.startswith("{") and json.loads(line).get("level") in ("error", "critical"):
            errors.append(line)
    problems += [f"error logged: {e[:200]}" for e in errors[:5]]
    problems += factory.close()
    return {
        "actors": count,
        "ready_s": ready,
        "seconds": seconds,
        "uss_mib": uss / 2**20,
        "rss_mib": rss / 2**20,
        "messages": sum(heard),
        "gaps": gaps,
        "shutdown_s": stopped,
        "problems": problems,
    }


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    print(soak(200, seconds))
