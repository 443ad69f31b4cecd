"""Raw pyzmq over a link between two hosts, with CURVE (the baseline of bench/hosts.py).

Each mode runs in one host's namespace and prints one JSON line:

    raw_link.py pub COUNT SECRET            bind, wait for the subscriber, send COUNT
    raw_link.py sub ADDRESS COUNT PUBLIC    take COUNT; {"ns": first to last}
    raw_link.py echo SECRET                 send every message back until "stop"
    raw_link.py ping ADDRESS COUNT PUBLIC   COUNT round trips; {"times": [ns, ...]}
"""

from __future__ import annotations

import json
import sys
import time
from typing import Final

import zmq

PORT: Final = 5599
_HWM: Final = 1_000_000


def _server(ctx: zmq.Context[zmq.Socket[bytes]], kind: int, secret: str) -> zmq.Socket[bytes]:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret.encode())
    sock.setsockopt(zmq.SNDHWM, _HWM)
    sock.setsockopt(zmq.RCVHWM, _HWM)
    sock.bind(f"tcp://*:{PORT}")
    return sock


def _client(
    ctx: zmq.Context[zmq.Socket[bytes]], kind: int, address: str, server: str
) -> zmq.Socket[bytes]:
    sock = ctx.socket(kind)
    public, secret = zmq.curve_keypair()
    sock.setsockopt(zmq.CURVE_SERVERKEY, server.encode())
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    sock.setsockopt(zmq.SNDHWM, _HWM)
    sock.setsockopt(zmq.RCVHWM, _HWM)
    sock.connect(address)
    return sock


def main(args: list[str]) -> int:
    """Run one mode (see the module docstring)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    mode = args[0]
    if mode == "pub":
        pub = _server(ctx, zmq.XPUB, args[2])
        pub.recv()  # the subscriber's subscription: it is there
        payload = b"x" * 64
        for _ in range(int(args[1])):
            pub.send_multipart([b"data", payload])
        pub.close(linger=30_000)
    elif mode == "sub":
        sub = _client(ctx, zmq.SUB, args[1], args[3])
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        count = int(args[2])
        sub.recv_multipart()
        first = time.perf_counter_ns()
        for _ in range(count - 1):
            sub.recv_multipart()
        print(json.dumps({"ns": time.perf_counter_ns() - first}))
        sub.close()
    elif mode == "echo":
        router = _server(ctx, zmq.ROUTER, args[1])
        while True:
            frames = router.recv_multipart()
            router.send_multipart(frames)
            if frames[-1] == b"stop":
                break
        router.close(linger=1000)
    else:
        dealer = _client(ctx, zmq.DEALER, args[1], args[3])
        times = []
        for n in range(int(args[2])):
            start = time.perf_counter_ns()
            dealer.send(str(n).encode())
            dealer.recv()
            times.append(time.perf_counter_ns() - start)
        dealer.send(b"stop")
        dealer.recv()
        print(json.dumps({"times": times}))
        dealer.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
