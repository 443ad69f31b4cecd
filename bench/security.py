"""What security costs (#17): throughput, round trip and the broker's CPU per message on a
site without CURVE, with CURVE, and with CURVE plus per-message access checks.

Three sites run at once (each a Source, a Sink, a Pinger and a Ponger, all on
``ipc://``); their rounds alternate, in a rotating order, so that drift in the
machine's load hits them alike. The broker's CPU per message is its process's
user and system time over a throughput run, divided by the messages it forwarded.

Run alone: ``python bench/security.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Final

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, HWM, close_cleanly, median, paired_args
from bench.throughput import actors_rate

#: The variants, by name: what ``[security]`` each site has.
VARIANTS: Final = {
    "plain": {"curve": False},
    "curve": {"curve": True, "checks": False},
    "checked": {"curve": True, "checks": True},
}


def _site(factory: Any, security: dict[str, Any]) -> Any:
    return factory.start(
        {
            "broker": {"hwm": HWM},
            "supervisor": {"heartbeat_interval": 1.0},
            "security": security,
            "actors": {
                "source": {"class": "bench_actors:Source"},
                "sink": {"class": "bench_actors:Sink"},
                "pinger": {"class": "bench_actors:Pinger"},
                "ponger": {"class": "bench_actors:Ponger"},
            },
        },
        subscribe=["bench.armed", "bench.done", "rt.result"],
    )


def _broker_cpu(site: Any) -> float:
    """The broker process's CPU seconds so far."""
    times = psutil.Process(site.pid("broker")).cpu_times()
    return float(times.user + times.system)


def _round_trip(site: Any, count: int) -> float:
    """The median round trip Pinger -> Ponger -> Pinger, in microseconds."""
    cursor = site.publish("rt.start", count)
    rtts = site.wait_for("rt.result", after=cursor, timeout=120).envelope.payload
    return median(rtts) / 1e3


def measure(count: int, rounds: int, pings: int = 2000) -> dict[str, dict[str, float]]:
    """Per variant: median msgs/s (64 B), median round-trip p50 (us), broker CPU per
    message (us)."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    rtts: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    try:
        sites = {name: _site(factory, security) for name, security in VARIANTS.items()}
        for site in sites.values():  # warm-up: the first round of each pays for imports
            actors_rate(site, 2000, 64)
            _round_trip(site, 200)
        names = list(VARIANTS)
        for i in range(rounds):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                site = sites[name]
                before = _broker_cpu(site)
                rates[name].append(actors_rate(site, count, 64))
                cpu[name].append((_broker_cpu(site) - before) / count * 1e6)
                rtts[name].append(_round_trip(site, pings))
    finally:
        close_cleanly(factory)
    return {
        name: {"rate": median(rates[name]), "rtt": median(rtts[name]), "cpu": median(cpu[name])}
        for name in VARIANTS
    }


def main() -> int:
    """Print the table."""
    args = paired_args(__doc__)
    result = measure(args.count, args.rounds)
    plain = result["plain"]
    for name, r in result.items():
        print(
            f"{name:8} {r['rate']:>9,.0f} msg/s ({r['rate'] / plain['rate']:.2f}x)  "
            f"round trip p50 {r['rtt']:>5.0f} us ({r['rtt'] / plain['rtt']:.2f}x)  "
            f"broker {r['cpu']:.2f} us CPU/msg ({r['cpu'] / plain['cpu']:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
