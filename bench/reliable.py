"""Reliable topics against at-most-once on the same topic, in the same run: throughput
(Source -> Sink, 64 B) and what it costs the sender to keep every message until the
Sink acknowledges it.

Both pairs run in one site on topics of their own and alternate within each round.

Run alone: ``python bench/reliable.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, close_cleanly, machine, median
from bench.records import _pairs, _rate


def measure(count: int, rounds: int, size: int = 64) -> dict[str, float]:
    """Median msgs/s of the reliable pair and of the at-most-once pair."""
    from actors.testing import MeshFactory

    reliable: list[float] = []
    plain: list[float] = []
    factory = MeshFactory(python_path=[HERE])
    try:
        site = _pairs(
            factory,
            {
                "bench.rel": ("ReliableSource", "ReliableSink", "bench.rel.data"),
                "bench.amo": ("Source", "Sink", "bench.amo.data"),
            },
        )
        for _ in range(rounds):
            reliable.append(_rate(site, "bench.rel", count, size))
            plain.append(_rate(site, "bench.amo", count, size))
    finally:
        close_cleanly(factory)
    return {"reliable": median(reliable), "plain": median(plain)}


def main() -> int:
    """Print the reliable row."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    r = measure(args.count, args.rounds)
    print(
        f"reliable {r['reliable']:,.0f}/s, at most once {r['plain']:,.0f}/s "
        f"({r['reliable'] / r['plain']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
