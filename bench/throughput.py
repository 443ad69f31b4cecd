"""Throughput actor -> broker -> actor, against raw pyzmq PUB -> zmq.proxy -> SUB.

Run: ``python bench/throughput.py [--count N] [--size BYTES] [--rounds R]``

Both sides run as three processes (publisher, broker, subscriber) over
``ipc://`` on this machine, with the same payload size and the same
high-water marks, and both measure from the first to the last message at the
subscriber. The enlil side is a real site started by the supervisor: a Source
actor that publishes N messages from one step and a Sink actor whose
``step()`` runs once per message. Prints messages/s for each and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import zmq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
HWM = 1_000_000


def _proxy(front: str, back: str) -> None:
    ctx = zmq.Context()
    xsub = ctx.socket(zmq.XSUB)
    xpub = ctx.socket(zmq.XPUB)
    for sock in (xsub, xpub):
        sock.setsockopt(zmq.SNDHWM, HWM)
        sock.setsockopt(zmq.RCVHWM, HWM)
    xsub.bind(front)
    xpub.bind(back)
    zmq.proxy(xsub, xpub)  # runs until the benchmark terminates this process


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


def raw_round(count: int, size: int, broker: str = "proxy") -> float:
    """One raw pyzmq PUB/SUB round through *broker* (``proxy`` or ``enlil``): msgs/s at SUB."""
    root = Path(tempfile.mkdtemp(prefix="enlil-bench-"))
    front, back, go = (f"ipc://{root}/{n}.sock" for n in ("front", "back", "go"))
    spawn = mp.get_context("spawn")
    target = _proxy if broker == "proxy" else _enlil_broker
    proxy = spawn.Process(target=target, args=(front, back), daemon=True)
    proxy.start()
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
    got = 0
    first = 0
    while got < count:
        if not sub.poll(10_000):
            raise RuntimeError(f"raw baseline lost messages: {got}/{count}")
        frames = sub.recv_multipart()
        if frames[0] != b"bench.data":
            continue
        got += 1
        if got == 1:
            first = time.perf_counter_ns()
    elapsed = time.perf_counter_ns() - first
    pub.join(30)
    proxy.terminate()
    proxy.join(10)
    for sock in (sub, push):
        sock.close(linger=0)
    ctx.term()
    for f in root.iterdir():
        f.unlink()  # the terminated proxy could not remove its socket files
    root.rmdir()
    return (count - 1) / (elapsed / 1e9)


def enlil_rounds(count: int, size: int, rounds: int) -> list[float]:
    """Rounds through a real enlil site: messages per second at the Sink actor."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    try:
        site = factory.start(
            {
                "broker": {"hwm": HWM},
                "actors": {
                    "source": {"class": "bench_actors:Source", "params": {"size": size}},
                    "sink": {"class": "bench_actors:Sink"},
                },
            }
        )
        rates = []
        for _ in range(rounds):
            cursor = site.publish("bench.reset", count)
            site.wait_for("bench.armed", after=cursor)
            cursor = site.publish("bench.go", count)
            done = site.wait_for(
                "bench.done", lambda p: p["count"] == count, timeout=120, after=cursor
            ).envelope.payload
            rates.append((count - 1) / (done["ns"] / 1e9))
        return rates
    finally:
        problems = factory.close()
        if problems:
            raise RuntimeError("\n".join(problems))


def main() -> int:
    """Run both sides, interleaved, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    raw, broker = [], []
    for _ in range(args.rounds):  # interleaved, so drift in the machine hits both alike
        raw.append(raw_round(args.count, args.size, "proxy"))
        broker.append(raw_round(args.count, args.size, "enlil"))
    ours = enlil_rounds(args.count, args.size, args.rounds)
    raw_med, ours_med = statistics.median(raw), statistics.median(ours)
    broker_med = statistics.median(broker)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, libzmq {zmq.zmq_version()}, pyzmq {zmq.__version__}"
    )
    print(f"payload {args.size} B, {args.count} messages, median of {args.rounds} rounds")
    print(f"{'path':44} {'msgs/s':>10}")
    print(f"{'raw pyzmq PUB -> zmq.proxy -> SUB':44} {raw_med:>10,.0f}")
    print(f"{'raw pyzmq PUB -> enlil broker -> SUB':44} {broker_med:>10,.0f}")
    print(f"{'enlil actor -> broker -> actor (step/msg)':44} {ours_med:>10,.0f}")
    print(f"ratio enlil broker / zmq.proxy: {broker_med / raw_med:.2f}")
    print(f"ratio enlil actors / raw: {ours_med / raw_med:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
