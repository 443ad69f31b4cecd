"""What durable State costs (#18): throughput Source -> Sink where the Sink's step changes a
durable value at every message, against the same step without durability (CountingSink),
and with writes every 10 ms instead of every second; all in one run, rounds alternating.

Run alone: ``python bench/durable.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, HWM, close_cleanly, median, paired_args
from bench.throughput import actors_rate

#: The variants: the Sink's class and the write interval.
VARIANTS: Final = {
    "plain": ("CountingSink", 1.0),
    "durable": ("DurableSink", 1.0),
    "durable_10ms": ("DurableSink", 0.01),
}


def _site(factory: Any, sink: str, interval: float) -> Any:
    return factory.start(
        {
            "broker": {"hwm": HWM},
            "supervisor": {"heartbeat_interval": 1.0},
            "persistence": {"interval": interval},
            "actors": {
                "source": {"class": "bench_actors:Source"},
                "sink": {"class": f"bench_actors:{sink}"},
            },
        },
        subscribe=["bench.armed", "bench.done"],
    )


def measure(count: int, rounds: int) -> dict[str, float]:
    """Median msgs/s (64 B) per variant."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    try:
        sites = {name: _site(factory, *variant) for name, variant in VARIANTS.items()}
        for site in sites.values():
            actors_rate(site, 2000, 64)  # warm-up
        names = list(VARIANTS)
        for i in range(rounds):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                rates[name].append(actors_rate(sites[name], count, 64))
    finally:
        close_cleanly(factory)
    return {name: median(r) for name, r in rates.items()}


def main() -> int:
    """Print the table."""
    args = paired_args(__doc__)
    r = measure(args.count, args.rounds)
    for name, rate in r.items():
        extra = 1e6 / rate - 1e6 / r["plain"]
        print(f"{name:14} {rate:>9,.0f} msg/s ({rate / r['plain']:.2f}x, {extra:+.2f} us/step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
