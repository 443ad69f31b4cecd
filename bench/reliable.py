"""Reliable topics against at-most-once on the same topic, in the same run: throughput
(Source -> Sink, 64 B) and what it costs the sender to keep every message until the
Sink acknowledges it, and with a durable sender (its outbox stored with its State);
round trips (Pinger -> Ponger -> Pinger) at most once, reliable, and reliable with a
durable Ponger; the time to recover a dropped ping (5% of pings dropped on delivery).

The pairs run in one site on topics of their own and alternate within each round.

Run alone: ``python bench/reliable.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, close_cleanly, machine, median, percentile
from bench.records import _pairs, _rate

#: Round-trip pairs: topic prefix -> (pinger class, ponger class).
PINGERS = {
    "rta": ("Pinger", "Ponger"),
    "rtr": ("ReliablePinger", "ReliablePonger"),
    "rtd": ("ReliablePinger", "DurablePonger"),
    "rtl": ("ReliablePinger", "ReliablePonger"),  # 5% of its pings dropped
}
#: A round trip longer than this (ns) was a dropped ping: far above any lossless one
#: (p99 about 1 ms here), far below a heartbeat (0.1 s), which a lockstep ping waits for.
SLOW = 10_000_000


def measure(count: int, rounds: int, size: int = 64) -> dict[str, float]:
    """Median msgs/s of the reliable pair and the at-most-once pair; median seconds from
    go to done of the reliable pair and of the durable reliable pair."""
    from actors.testing import MeshFactory

    reliable: list[float] = []
    plain: list[float] = []
    kept: list[float] = []
    durable: list[float] = []
    factory = MeshFactory(python_path=[HERE])
    try:
        site = _pairs(
            factory,
            {
                "bench.rel": ("ReliableSource", "ReliableSink", "bench.rel.data"),
                "bench.amo": ("Source", "Sink", "bench.amo.data"),
                "bench.dur": ("DurableReliableSource", "ReliableSink", "bench.dur.data"),
            },
        )
        for _ in range(rounds):
            reliable.append(_rate(site, "bench.rel", count, size))
            plain.append(_rate(site, "bench.amo", count, size))
            # Go to done, for both: a durable sender's messages leave after its write.
            kept.append(_elapsed(site, "bench.rel", count, size))
            durable.append(_elapsed(site, "bench.dur", count, size))
    finally:
        close_cleanly(factory)
    return {
        "reliable": median(reliable),
        "plain": median(plain),
        "kept_s": median(kept),
        "durable_s": median(durable),
    }


def _elapsed(site: Any, prefix: str, count: int, size: int) -> float:
    """Seconds from the go message to the sink's last payload (as the bench sees them)."""
    cursor = site.publish(f"{prefix}.reset", count)
    site.wait_for(f"{prefix}.armed", after=cursor)
    start = time.perf_counter()
    cursor = site.publish(f"{prefix}.go", [count, size])
    site.wait_for(f"{prefix}.done", lambda p: p["count"] == count, timeout=120, after=cursor)
    return time.perf_counter() - start


def round_trips(count: int, rounds: int) -> dict[str, float]:
    """Round-trip p50 (us) at most once, reliable and durable; the recovery time of a
    dropped ping (median and p99, ms: a round trip that took over SLOW, less the lossless
    median) and how many there were."""
    from actors.testing import MeshFactory

    actors = {}
    for prefix, (pinger, ponger) in PINGERS.items():
        topics = {n: f"{prefix}.{n}" for n in ("start", "ping", "pong", "result")}
        actors[f"{prefix}-pinger"] = {"class": f"bench_actors:{pinger}", "topics": topics}
        actors[f"{prefix}-ponger"] = {
            "class": f"bench_actors:{ponger}",
            "topics": {"ping": topics["ping"], "pong": topics["pong"]},
        }
    drop = {"hop": "deliver", "kind": "drop", "probability": 0.05, "topic": "rtl.ping"}
    times: dict[str, list[list[int]]] = {p: [] for p in PINGERS}
    factory = MeshFactory(python_path=[HERE])
    try:
        site = factory.start(
            {
                "supervisor": {"heartbeat_interval": 1.0},
                "faults": {"seed": 32, "rules": [drop]},
                "actors": actors,
            },
            subscribe=[f"{p}.result" for p in PINGERS],
        )
        for prefix in PINGERS:  # warm-up
            cursor = site.publish(f"{prefix}.start", 100)
            site.wait_for(f"{prefix}.result", after=cursor, timeout=120)
        for _ in range(rounds):
            for prefix in PINGERS:
                cursor = site.publish(f"{prefix}.start", count)
                result = site.wait_for(f"{prefix}.result", after=cursor, timeout=300)
                times[prefix].append(result.envelope.payload)
    finally:
        close_cleanly(factory)
    p50 = {p: median([median(t) for t in ts]) / 1e3 for p, ts in times.items()}
    normal = p50["rtr"] * 1e3
    recovery = [t - normal for ts in times["rtl"] for t in ts if t > SLOW]
    return {
        "plain_p50": p50["rta"],
        "reliable_p50": p50["rtr"],
        "durable_p50": p50["rtd"],
        "recovery_p50": median(recovery) / 1e6 if recovery else float("nan"),
        "recovery_p99": percentile(recovery, 99) / 1e6 if recovery else float("nan"),
        "recovered": len(recovery),
        "pings": count * rounds,
    }


def main() -> int:
    """Print the reliable rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    r = measure(args.count, args.rounds)
    print(
        f"reliable {r['reliable']:,.0f}/s, at most once {r['plain']:,.0f}/s "
        f"({r['reliable'] / r['plain']:.2f}x); go to done {r['kept_s']:.3f} s, with a "
        f"durable sender {r['durable_s']:.3f} s (outbox: "
        f"{(r['durable_s'] - r['kept_s']) / args.count * 1e6:.1f} us a message)"
    )
    t = round_trips(args.pings, args.rounds)
    print(
        f"round trip p50: at most once {t['plain_p50']:.0f} us, reliable "
        f"{t['reliable_p50']:.0f} us ({t['reliable_p50'] / t['plain_p50']:.2f}x), durable "
        f"ponger {t['durable_p50']:.0f} us; a dropped ping recovered in "
        f"{t['recovery_p50']:.0f} ms (median), {t['recovery_p99']:.0f} ms (p99), "
        f"{t['recovered']} of {t['pings']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
