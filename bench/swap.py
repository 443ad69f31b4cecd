"""Hot swap and retained topics: the output gap during a swap, and what retaining costs.

* Swap: a Stream actor publishes ~2,000 numbers a second (2 every millisecond); a Follower echoes
  each one. The bench swaps the Follower 10 times and, for each swap, takes
  the longest pause between two consecutive echoes (by their send time)
  around it; the baseline is the longest pause in windows as long with no swap.
* Retained: 1 KiB throughput (as in throughput.py) with the source's output
  retained, against the same output not retained, sites alternating.

Run alone: ``python bench/swap.py [--swaps N]``
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, close_cleanly, machine, median
from bench.throughput import actors_rate, start_site


def _echo_times(site: Any, after: int) -> list[tuple[int, int]]:
    first = site._received - len(site.messages)
    return [
        (m.envelope.payload, m.envelope.timestamp_ns)
        for m in list(site.messages)[max(0, after - first) :]
        if m.topic == "bench.echo"
    ]


def _longest_pause(times: list[tuple[int, int]], start_ns: int, end_ns: int) -> float:
    inside = [t for _, t in times if start_ns <= t <= end_ns]
    gaps = [b - a for a, b in itertools.pairwise(inside)]
    return max(gaps) / 1e6 if gaps else float("nan")


def swap_gap(swaps: int = 10) -> dict[str, Any]:
    """Median longest output pause (ms) during a swap, and in quiet windows; swap time."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    try:
        site = factory.start(
            {
                "supervisor": {"heartbeat_interval": 1.0},
                "actors": {
                    "stream": {"class": "bench_actors:Stream"},
                    "follower": {"class": "bench_actors:Follower"},
                },
            },
            subscribe=["bench.echo"],
        )
        cursor = site.publish("bench.stream.go", 2)  # 2 a millisecond
        site.wait_for("bench.echo", after=cursor)
        windows: list[tuple[int, int]] = []
        quiet: list[tuple[int, int]] = []
        took: list[float] = []
        for _ in range(swaps):
            begin = time.time_ns()
            site.request("swap", name="follower")
            end = time.time_ns()
            took.append((end - begin) / 1e6)
            windows.append((begin, end + 50_000_000))
            # A quiet window as long, right after, for the baseline.
            mark = site.mark()
            site.wait_for("bench.echo", lambda n: True, after=mark)
            q0 = time.time_ns()
            deadline = q0 + (end + 50_000_000 - begin)
            while time.time_ns() < deadline:
                site.wait_for("bench.echo", after=site.mark())
            quiet.append((q0, deadline))
        site.publish("bench.stream.go", 0)
        times = _echo_times(site, cursor)
        numbers = [n for n, _ in times]
        lost = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
        doubled = len(numbers) - len(set(numbers))
        return {
            "gap_ms": median([_longest_pause(times, a, b) for a, b in windows]),
            "quiet_ms": median([_longest_pause(times, a, b) for a, b in quiet]),
            "swap_ms": median(took),
            "lost": len(lost),
            "doubled": doubled,
            "echoes": len(numbers),
        }
    finally:
        close_cleanly(factory)


def retained_cost(count: int = 100_000, rounds: int = 3, size: int = 1024) -> dict[str, float]:
    """Throughput (msg/s) with the data output retained and not, sites alternating."""
    from actors.testing import MeshFactory

    result: dict[str, list[float]] = {"plain": [], "retained": []}
    for _ in range(rounds):
        for kind, cls in (("plain", "Source"), ("retained", "RetainedSource")):
            factory = MeshFactory(python_path=[HERE])
            try:
                site = start_site(factory, cls)
                result[kind].append(actors_rate(site, count, size))
            finally:
                close_cleanly(factory)
    return {k: median(v) for k, v in result.items()}


def main() -> int:
    """Print both measures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--swaps", type=int, default=10)
    args = parser.parse_args()
    print(machine())
    g = swap_gap(args.swaps)
    print(
        f"swap: longest output pause {g['gap_ms']:.1f} ms (quiet windows {g['quiet_ms']:.1f} ms),"
        f" swap request {g['swap_ms']:.0f} ms, {g['echoes']:,} echoes, lost {g['lost']},"
        f" doubled {g['doubled']}"
    )
    r = retained_cost()
    print(
        f"retained 1 KiB: {r['retained']:,.0f} msg/s vs not retained {r['plain']:,.0f} msg/s"
        f" ({r['retained'] / r['plain']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
