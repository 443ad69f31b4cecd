"""Round trip actor -> actor -> actor (ping-pong), against the same raw pyzmq ping-pong.

Raw: the bench process and an echo process, each with a PUB and a SUB, through
a bare ``zmq.proxy``. enlil: a Pinger actor and a Ponger actor through the
enlil broker; the Pinger times each round trip from its own step.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, close_cleanly, ipc_dir, median, percentile, proxy


def _echo(front: str, back: str) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.connect(back)
    sub.setsockopt(zmq.SUBSCRIBE, b"ping")
    pub = ctx.socket(zmq.PUB)
    pub.connect(front)
    while True:
        _, body = sub.recv_multipart()
        pub.send_multipart([b"pong", body])


def raw_rtts(count: int) -> list[float]:
    """Round-trip times (ns) of raw pyzmq ping-pong through zmq.proxy."""
    with ipc_dir() as root:
        front, back = f"ipc://{root}/front.sock", f"ipc://{root}/back.sock"
        spawn = mp.get_context("spawn")
        procs = [
            spawn.Process(target=proxy, args=(front, back), daemon=True),
            spawn.Process(target=_echo, args=(front, back), daemon=True),
        ]
        for p in procs:
            p.start()
        ctx = zmq.Context()
        pub = ctx.socket(zmq.PUB)
        pub.connect(front)
        sub = ctx.socket(zmq.SUB)
        sub.connect(back)
        sub.setsockopt(zmq.SUBSCRIBE, b"pong")
        while True:  # until the echo answers: both paths are up
            pub.send_multipart([b"ping", b"warm"])
            if sub.poll(10):
                sub.recv_multipart()
                break
        while sub.poll(50):
            sub.recv_multipart()
        times = []
        for i in range(count):
            body = i.to_bytes(8, "little")
            start = time.perf_counter_ns()
            pub.send_multipart([b"ping", body])
            while sub.recv_multipart()[1] != body:
                pass
            times.append(time.perf_counter_ns() - start)
        for p in procs:
            p.terminate()
            p.join(10)
        pub.close(linger=0)
        sub.close(linger=0)
        ctx.term()
    return times


def measure(count: int, rounds: int = 3) -> dict[str, float]:
    """p50 and p99 in microseconds for both, medians over interleaved rounds.

    Raw and enlil rounds alternate, so that drift in the machine's load hits
    both alike; the enlil site stays up between its rounds.
    """
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    raw: list[list[float]] = []
    ours: list[list[float]] = []
    try:
        site = factory.start(
            {
                "supervisor": {"heartbeat_interval": 1.0},
                "actors": {
                    "pinger": {"class": "bench_actors:Pinger"},
                    "ponger": {"class": "bench_actors:Ponger"},
                },
            },
            subscribe=["rt.result"],
        )
        cursor = site.publish("rt.start", 200)  # warm-up
        site.wait_for("rt.result", after=cursor, timeout=60)
        for _ in range(rounds):
            raw.append(raw_rtts(count))
            cursor = site.publish("rt.start", count)
            ours.append(site.wait_for("rt.result", after=cursor, timeout=120).envelope.payload)
    finally:
        close_cleanly(factory)
    return {
        "raw_p50": median([median(r) for r in raw]) / 1e3,
        "raw_p99": median([percentile(r, 99) for r in raw]) / 1e3,
        "p50": median([median(r) for r in ours]) / 1e3,
        "p99": median([percentile(r, 99) for r in ours]) / 1e3,
    }


if __name__ == "__main__":
    r = measure(3000)
    print(
        f"raw p50 {r['raw_p50']:.0f} us p99 {r['raw_p99']:.0f} us; enlil p50 {r['p50']:.0f} us "
        f"p99 {r['p99']:.0f} us; ratio p50 {r['p50'] / r['raw_p50']:.2f}"
    )
