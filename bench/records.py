"""Records and large messages: a 10-field nested record against the same data as a map,
and 1 MiB bytes messages against raw pyzmq with the same size.

The records pair (RecordSource -> RecordSink: msgspec encodes the record, the sink's
Input decodes and checks it against its type in one pass) and the maps pair
(MapSource -> MapSink: msgpack, a map checked as a dict) run in one site and
alternate within each round. The 1 MiB row is :mod:`bench.throughput`'s measurement
(Source -> Sink against raw PUB -> zmq.proxy -> SUB) at that size.

Run alone: ``python bench/records.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, HWM, close_cleanly, machine, median
from bench.throughput import raw_rate

MIB = 1024 * 1024


def _pair(prefix: str) -> dict[str, str]:
    return {
        "go": f"{prefix}.go",
        "reset": f"{prefix}.reset",
        "done": f"{prefix}.done",
        "armed": f"{prefix}.armed",
    }


def _pairs(factory: Any, pairs: dict[str, tuple[str, str, str]]) -> Any:
    """A site of source -> sink pairs, each on topics of its own: prefix -> (source class,
    sink class, data topic)."""
    actors: dict[str, Any] = {}
    for prefix, (source, sink, data) in pairs.items():
        topics = _pair(prefix)
        actors[f"{prefix}-source"] = {
            "class": f"bench_actors:{source}",
            "topics": {"go": topics["go"], "data": data},
        }
        actors[f"{prefix}-sink"] = {
            "class": f"bench_actors:{sink}",
            "topics": {"data": data, **{k: v for k, v in topics.items() if k != "go"}},
        }
    return factory.start(
        {
            "broker": {"hwm": HWM},
            "supervisor": {"heartbeat_interval": 1.0},
            "actors": {n.replace(".", "_"): a for n, a in actors.items()},
        },
        subscribe=[f"{p}.{t}" for p in pairs for t in ("armed", "done")],
    )


def _rate(site: Any, prefix: str, count: int, size: int = 0) -> float:
    cursor = site.publish(f"{prefix}.reset", count)
    site.wait_for(f"{prefix}.armed", after=cursor)
    cursor = site.publish(f"{prefix}.go", [count, size])
    done = site.wait_for(
        f"{prefix}.done", lambda p: p["count"] == count, timeout=120, after=cursor
    ).envelope.payload
    return (count - 1) / (done["ns"] / 1e9)


def measure(count: int, rounds: int, big: int) -> dict[str, float]:
    """Median msgs/s of records and of maps, and of 1 MiB bytes (actors and raw)."""
    from actors.testing import MeshFactory

    records: list[float] = []
    maps: list[float] = []
    factory = MeshFactory(python_path=[HERE])
    try:
        site = _pairs(
            factory,
            {
                "bench.rec": ("RecordSource", "RecordSink", "bench.record"),
                "bench.mp": ("MapSource", "MapSink", "bench.map"),
            },
        )
        for _ in range(rounds):
            records.append(_rate(site, "bench.rec", count))
            maps.append(_rate(site, "bench.mp", count))
    finally:
        close_cleanly(factory)
    raw: list[float] = []
    views: list[float] = []
    copies: list[float] = []
    factory = MeshFactory(python_path=[HERE])
    try:
        site = _pairs(
            factory,
            {
                "bench.view": ("Source", "ViewSink", "bench.view.data"),
                "bench.copy": ("Source", "Sink", "bench.copy.data"),
            },
        )
        for _ in range(rounds):
            raw.append(raw_rate(big, MIB, "proxy"))
            views.append(_rate(site, "bench.view", big, MIB))
            copies.append(_rate(site, "bench.copy", big, MIB))
    finally:
        close_cleanly(factory)
    return {
        "records": median(records),
        "maps": median(maps),
        "big_raw": median(raw),
        "big_view": median(views),
        "big_bytes": median(copies),
    }


def main() -> int:
    """Print the records and large-message rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--big", type=int, default=1000, help="1 MiB messages per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    r = measure(args.count, args.rounds, args.big)
    print(
        f"10-field record {r['records']:,.0f}/s, the same as a map {r['maps']:,.0f}/s "
        f"({r['records'] / r['maps']:.2f}x)"
    )
    print(
        f"1 MiB bytes: actors {r['big_view']:,.0f}/s taken as a view, {r['big_bytes']:,.0f}/s "
        f"as bytes; raw pyzmq {r['big_raw']:,.0f}/s ({r['big_view'] / r['big_raw']:.2f}x, "
        f"{r['big_bytes'] / r['big_raw']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
