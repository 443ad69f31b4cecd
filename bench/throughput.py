"""Throughput: actor -> broker -> actor, against raw pyzmq PUB -> zmq.proxy -> SUB.

Both sides run as three processes (publisher, broker, subscriber) over
``ipc://``, with the same payload size and high-water marks, and both measure
from the first to the last message at the subscriber. The enlil side is a
real site started by the supervisor: a Source actor publishes N messages from
one step, a Sink actor's ``step()`` runs once per message. A third row puts
the enlil broker process between raw pyzmq sockets.

Run alone: ``python bench/throughput.py [--count N] [--sizes 64,1024] [--rounds R]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, HWM, close_cleanly, ipc_dir, machine, median, proxy


def _enlil_broker(front: str, back: str) -> None:
    from broker.proxy import BrokerSettings, run_broker

    run_broker(BrokerSettings(pub=front, sub=back, hwm=HWM, log_level="warning"))


def _publisher(front: str, go: str, count: int, size: int) -> None:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, HWM)
    pub.connect(front)
    pull = ctx.socket(zmq.PULL)
    pull.connect(go)
    payload = b"x" * size
    # Warm up until the subscriber says it sees us (no slow-joiner loss), then send.
    while not pull.poll(10):
        pub.send_multipart([b"warm", b""])
    pull.recv()
    for _ in range(count):
        pub.send_multipart([b"bench.data", payload])
    pub.close(linger=10_000)
    pull.close()
    ctx.term()


def raw_rate(count: int, size: int, broker: str = "proxy") -> float:
    """Raw pyzmq PUB/SUB through *broker* (``proxy`` or ``enlil``): msgs/s at the SUB."""
    with ipc_dir() as root:
        front, back, go = (f"ipc://{root}/{n}.sock" for n in ("front", "back", "go"))
        spawn = mp.get_context("spawn")
        target = proxy if broker == "proxy" else _enlil_broker
        middle = spawn.Process(target=target, args=(front, back), daemon=True)
        middle.start()
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, HWM)
        sub.connect(back)
        sub.setsockopt(zmq.SUBSCRIBE, b"warm")
        sub.setsockopt(zmq.SUBSCRIBE, b"bench.data")
        push = ctx.socket(zmq.PUSH)
        push.bind(go)
        pub = spawn.Process(target=_publisher, args=(front, go, count, size), daemon=True)
        pub.start()
        while sub.recv_multipart()[0] != b"warm":
            pass
        push.send(b"go")
        got = first = 0
        while got < count:
            if not sub.poll(10_000):
                raise RuntimeError(f"raw baseline lost messages: {got}/{count}")
            if sub.recv_multipart()[0] != b"bench.data":
                continue
            got += 1
            if got == 1:
                first = time.perf_counter_ns()
        elapsed = time.perf_counter_ns() - first
        pub.join(30)
        middle.terminate()
        middle.join(10)
        for sock in (sub, push):
            sock.close(linger=0)
        ctx.term()
    return (count - 1) / (elapsed / 1e9)


def start_site(factory: Any, source: str = "Source") -> Any:
    """A site with a *source* actor (bench_actors) and a Sink, through the enlil broker."""
    return factory.start(
        {
            "broker": {"hwm": HWM},
            # A go of 300,000 is one step that sends them all: seconds, not a hang.
            "supervisor": {"heartbeat_interval": 1.0, "hang_timeout": 60.0},
            "actors": {
                "source": {"class": f"bench_actors:{source}"},
                "sink": {"class": "bench_actors:Sink"},
            },
        },
        subscribe=["bench.armed", "bench.done"],
    )


def actors_rate(site: Any, count: int, size: int) -> float:
    """Messages a second, Source -> Sink, measured at the Sink from first to last."""
    cursor = site.publish("bench.reset", count)
    site.wait_for("bench.armed", after=cursor)
    cursor = site.publish("bench.go", [count, size])
    done = site.wait_for(
        "bench.done", lambda p: p["count"] == count, timeout=120, after=cursor
    ).envelope.payload
    return (count - 1) / (done["ns"] / 1e9)


def measure(count: int, sizes: list[int], rounds: int) -> list[dict[str, float]]:
    """Median msgs/s per size: raw proxy, raw through the enlil broker, enlil actors.

    The three alternate within each round, so that drift in the machine's load
    hits all of them alike; the enlil site stays up throughout.
    """
    from actors.testing import MeshFactory

    raw: dict[int, list[float]] = {s: [] for s in sizes}
    through: dict[int, list[float]] = {s: [] for s in sizes}
    ours: dict[int, list[float]] = {s: [] for s in sizes}
    factory = MeshFactory(python_path=[HERE])
    try:
        site = start_site(factory)
        for _ in range(rounds):
            for size in sizes:
                raw[size].append(raw_rate(count, size, "proxy"))
                through[size].append(raw_rate(count, size, "enlil"))
                ours[size].append(actors_rate(site, count, size))
    finally:
        close_cleanly(factory)
    return [
        {"size": s, "raw": median(raw[s]), "broker": median(through[s]), "actors": median(ours[s])}
        for s in sizes
    ]


def main() -> int:
    """Print the throughput table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--sizes", default="64,1024")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    for row in measure(args.count, [int(s) for s in args.sizes.split(",")], args.rounds):
        print(
            f"{row['size']:>5} B  raw proxy {row['raw']:>9,.0f}/s  enlil broker "
            f"{row['broker']:>9,.0f}/s ({row['broker'] / row['raw']:.2f}x)  enlil actors "
            f"{row['actors']:>9,.0f}/s ({row['actors'] / row['raw']:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
