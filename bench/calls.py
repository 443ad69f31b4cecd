"""Calls between actors (#14): round trip against pub/sub and raw pyzmq, calls per
second, and the pure core's cost of a retry + breaker + timeout pipeline per call.

Run: ``python bench/calls.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, close_cleanly, machine, median, percentile
from bench.roundtrip import raw_rtts


def measure(count: int, rounds: int = 3, window: int = 32) -> dict[str, float]:
    """Medians over alternating rounds of raw ping-pong, enlil pub/sub ping-pong and
    enlil calls (lock-step, then pipelined with *window* in flight)."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    raw: list[list[float]] = []
    pubsub: list[list[float]] = []
    calls: list[dict[str, Any]] = []
    try:
        site = factory.start(
            {
                "supervisor": {"heartbeat_interval": 1.0},
                "actors": {
                    "pinger": {"class": "bench_actors:Pinger"},
                    "ponger": {"class": "bench_actors:Ponger"},
                    "server": {"class": "bench_actors:EchoServer"},
                    "caller": {"class": "bench_actors:CallPinger"},
                },
            },
            subscribe=["rt.result", "cb.result"],
        )
        cursor = site.publish("rt.start", 200)  # warm-up
        site.wait_for("rt.result", after=cursor, timeout=60)
        cursor = site.publish("cb.start", [200, window])
        site.wait_for("cb.result", after=cursor, timeout=60)
        for _ in range(rounds):
            raw.append(raw_rtts(count))
            cursor = site.publish("rt.start", count)
            pubsub.append(site.wait_for("rt.result", after=cursor, timeout=120).envelope.payload)
            cursor = site.publish("cb.start", [count, window])
            calls.append(site.wait_for("cb.result", after=cursor, timeout=120).envelope.payload)
    finally:
        close_cleanly(factory)
    return {
        "raw_p50": median([median(r) for r in raw]) / 1e3,
        "pubsub_p50": median([median(r) for r in pubsub]) / 1e3,
        "pubsub_p99": median([percentile(r, 99) for r in pubsub]) / 1e3,
        "p50": median([median(c["times"]) for c in calls]) / 1e3,
        "p99": median([percentile(c["times"], 99) for c in calls]) / 1e3,
        "lock_per_s": median([c["lock_per_s"] for c in calls]),
        "pipelined_per_s": median([c["pipelined_per_s"] for c in calls]),
        "failed": sum(c["failed"] for c in calls),
    }


def core_cost(count: int = 50_000) -> dict[str, float]:
    """Microseconds per call through the pure caller core (start, send, reply, done), with
    a retry + breaker + attempt-timeout policy and with no policy at all."""
    from actors.core.caller import CallLine, Calls
    from actors.core.calls import CallReply
    from actors.core.resilience import Breaker, Policy, Retry
    from actors.core.services import Call

    out: dict[str, float] = {}
    for label, policy in (
        ("pipeline", Policy(timeout=1.0, retry=Retry(attempts=3), breaker=Breaker())),
        ("bare", Policy()),
    ):
        decl = Call("bench.echo", int, int, doc="bench", timeout=5.0, policy=policy)
        decl.name = "echo"
        line = CallLine(decl, policy, 5.0)
        sent: list[int] = []
        calls = Calls(
            "bench",
            {"echo": line},
            monotonic=time.monotonic,
            wall_ns=time.time_ns,
            emit=lambda topic, payload, trace, sent=sent: sent.append(payload[0]),
            fall_back=lambda *a: None,
            seed=1,
            log=None,
        )
        calls.directory = {"bench.echo": ("server",)}
        best = float("inf")
        for _ in range(5):
            began = time.perf_counter_ns()
            for i in range(count):
                pending, _ = calls.start(line, i, timeout=None, key=None, callback=None)
                calls.on_reply(CallReply(sent[-1], True, i), "server")
                assert pending.done
            best = min(best, (time.perf_counter_ns() - began) / count / 1e3)
        out[label] = best
    return out


def binding(count: int, rounds: int = 5, window: int = 32) -> dict[str, float]:
    """Reply binding (#27) against the calls as they were, in the same mesh and run: two
    callers of one echo server, one bound (random ids, a reply only from the server of the
    service) and one patched back to counted ids and any sender, in alternating rounds;
    and the pure caller core's cost per call both ways."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    runs: dict[str, list[dict[str, Any]]] = {"bound": [], "unbound": []}
    try:
        site = factory.start(
            {
                "supervisor": {"heartbeat_interval": 1.0},
                "actors": {
                    "server": {"class": "bench_actors:EchoServer"},
                    "caller": {"class": "bench_actors:CallPinger"},
                    "caller0": {"class": "bench_actors:UnboundCallPinger"},
                },
            },
            subscribe=["cb.result", "cb0.result"],
        )
        for prefix in ("cb", "cb0"):  # warm-up
            cursor = site.publish(f"{prefix}.start", [200, window])
            site.wait_for(f"{prefix}.result", after=cursor, timeout=60)
        for n in range(rounds):
            order = (("bound", "cb"), ("unbound", "cb0"))
            for label, prefix in order if n % 2 == 0 else reversed(order):
                cursor = site.publish(f"{prefix}.start", [count, window])
                message = site.wait_for(f"{prefix}.result", after=cursor, timeout=120)
                runs[label].append(message.envelope.payload)
    finally:
        close_cleanly(factory)
    out = {}
    for label, got in runs.items():
        out[f"{label}_p50"] = median([median(r["times"]) for r in got]) / 1e3
        out[f"{label}_per_s"] = median([r["pipelined_per_s"] for r in got])
        out[f"{label}_failed"] = sum(r["failed"] for r in got)
    core = core_cost(20_000)
    out["core_bound"] = core["bare"]
    out["core_unbound"] = _unbound_core(20_000)
    return out


def _unbound_core(count: int) -> float:
    """:func:`core_cost`'s bare policy, with the caller patched back to unbound replies."""
    import itertools

    from actors.core import caller

    saved = caller.Calls.new_id, caller.Calls._refusal
    counter = itertools.count(1)
    caller.Calls.new_id = lambda calls: next(counter)  # type: ignore[method-assign]
    caller.Calls._refusal = lambda calls, line, to, sender: ""  # type: ignore[method-assign]
    try:
        return core_cost(count)["bare"]
    finally:
        caller.Calls.new_id, caller.Calls._refusal = saved  # type: ignore[method-assign]


def main() -> int:
    """Print the figures and their ratios."""
    print(machine())
    r = measure(2000)
    print(
        f"call p50 {r['p50']:.0f} us p99 {r['p99']:.0f} us; pub/sub p50 {r['pubsub_p50']:.0f} us; "
        f"raw p50 {r['raw_p50']:.0f} us; ratio to pub/sub {r['p50'] / r['pubsub_p50']:.2f}x; "
        f"lock-step {r['lock_per_s']:,.0f}/s, pipelined {r['pipelined_per_s']:,.0f}/s, "
        f"failed {r['failed']}"
    )
    c = core_cost()
    print(f"core per call: pipeline {c['pipeline']:.2f} us, bare {c['bare']:.2f} us")
    b = binding(2000)
    print(
        f"reply binding: call p50 {b['bound_p50']:.0f} us against {b['unbound_p50']:.0f} us "
        f"unbound ({b['bound_p50'] / b['unbound_p50']:.3f}x); pipelined "
        f"{b['bound_per_s']:,.0f}/s against {b['unbound_per_s']:,.0f}/s "
        f"({b['unbound_per_s'] / b['bound_per_s']:.3f}x the time); core per call "
        f"{b['core_bound']:.2f} us against {b['core_unbound']:.2f} us "
        f"({b['core_bound'] / b['core_unbound']:.3f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
