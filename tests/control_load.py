"""A load of control clients: ``python control_load.py ENDPOINT CLIENTS SECONDS [IN_FLIGHT]``.

Each client is a DEALER socket that keeps IN_FLIGHT (default 1) ``status``
requests in flight for SECONDS, sending another as soon as a reply arrives;
then every client waits (up to a hang guard) for its last replies. Prints
one JSON line: requests sent, replies received, errors, the slowest reply
in seconds, and the oldest actor heartbeat a reply showed (``heartbeat_age``).
"""

from __future__ import annotations

import json
import sys
import time

import zmq

from supervisor.core.protocol import decode_reply, encode_request

_DRAIN: float = 30.0  # hang guard for the last replies


def main(endpoint: str, clients: int, seconds: float, in_flight: int = 1) -> dict[str, float]:
    """Run the load; return what it counted."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    poller = zmq.Poller()
    socks = []
    sent_at: dict[int, float] = {}
    counts = {"sent": 0, "answered": 0, "errors": 0, "slowest": 0.0, "heartbeat_age": 0.0}
    for _ in range(clients):
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        poller.register(sock, zmq.POLLIN)
        socks.append(sock)

    def send(sock: zmq.Socket[bytes]) -> None:
        counts["sent"] += 1
        req_id = int(counts["sent"])
        sent_at[req_id] = time.monotonic()
        sock.send_multipart([b"", encode_request(req_id, "status")])

    for sock in socks:
        for _ in range(in_flight):
            send(sock)
    end = time.monotonic() + seconds
    guard = end + _DRAIN
    while sent_at and time.monotonic() < guard:
        for sock, _ in poller.poll(100):
            reply = decode_reply(sock.recv_multipart()[-1])
            counts["answered"] += 1
            counts["slowest"] = max(counts["slowest"], time.monotonic() - sent_at.pop(reply.id))
            if not reply.ok:
                counts["errors"] += 1
                continue
            for actor in reply.result["actors"]:
                age = (actor["kind"] == "actor" and actor["heartbeat_age"]) or 0.0
                counts["heartbeat_age"] = max(counts["heartbeat_age"], age)
            if time.monotonic() < end:
                send(sock)
    for sock in socks:
        sock.close()
    ctx.term()
    return counts


if __name__ == "__main__":
    in_flight = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    print(
        json.dumps(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), in_flight)), flush=True
    )
