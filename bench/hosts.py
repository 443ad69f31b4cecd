"""Across two hosts: throughput (Source on host a -> Sink on host b, 64 B) and round trip
(Pinger on a -> Ponger on b -> Pinger), against raw pyzmq over the same link in the same
run (PUB -> SUB and DEALER -> ROUTER echo, CURVE as the site's link, no broker).

The hosts are two network namespaces joined by veth links to a bridge
(:class:`actors.testing.Hosts`; root); the site's traffic crosses through each
host's broker: this host's publishers, the export, the other host's import, its
subscribers. Needs root (the namespaces are made and removed here).

Run alone: ``python bench/hosts.py [--count N] [--pings N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HERE, HWM, machine, median
from bench.raw_link import PORT


def _actor(cls: str, host: str, **topics: str) -> dict[str, Any]:
    return {"class": f"bench_actors:{cls}", "host": host, "topics": topics}


#: The bench's actors: the sending ends on host a, the receiving ends on host b.
ACTORS: dict[str, dict[str, Any]] = {
    "source": _actor("Source", "a", go="xb.go", data="xb.data"),
    "sink": _actor("Sink", "b", data="xb.data", reset="xb.reset", done="xb.done", armed="xb.armed"),
    "pinger": _actor(
        "Pinger", "a", start="xr.start", ping="xr.ping", pong="xr.pong", result="xr.result"
    ),
    "ponger": _actor("Ponger", "b", ping="xr.ping", pong="xr.pong"),
}


def measure(count: int, pings: int, rounds: int) -> dict[str, float]:
    """Median msgs/s and round-trip p50 (us), enlil across the hosts and raw pyzmq over the
    same link."""
    from actors.link import BrokerLink
    from actors.testing import Hosts, HostSite

    out: dict[str, list[float]] = {"site": [], "raw": [], "site_rt": [], "raw_rt": []}
    with Hosts(["a", "b"]) as hosts:
        site = HostSite(
            hosts, ACTORS, python_path=(str(HERE),), broker={"hwm": HWM},
            supervisor={"heartbeat_interval": 1.0},
        )  # fmt: skip
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        links: list[Any] = []
        try:
            for host in ("a", "b"):
                site.start(host)
            for host in ("a", "b"):
                site.wait_running(host)
            site.wait_linked()
            a = BrokerLink.to_site(ctx, site.site("a"), "bench", ["xr.result"])
            b = BrokerLink.to_site(ctx, site.site("b"), "bench", ["xb.armed", "xb.done"])
            links += [a, b]
            for link in links:
                link.wait_connected(30)
            _trips(a, 100)  # warm-up
            for _ in range(rounds):
                out["site"].append(_rate(a, b, count))
                out["raw"].append(_raw_rate(hosts, count))
                out["site_rt"].append(median(_trips(a, pings)) / 1e3)
                out["raw_rt"].append(median(_raw_trips(hosts, pings)) / 1e3)
        finally:
            for link in links:
                link.close(linger_ms=0)
            ctx.term()
            problems = site.close()
    if problems:
        raise RuntimeError("the bench site left things behind: " + "; ".join(problems))
    return {k: median(v) for k, v in out.items()}


def _wait(link: Any, topic: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = link.recv(left)
        if message is not None and message.topic == topic:
            return message.envelope.payload
    raise TimeoutError(f"no {topic} within {timeout:g} s")


def _rate(a: Any, b: Any, count: int) -> float:
    """Messages a second from the source on a to the sink on b (first to last received)."""
    a.publish("xb.reset", count)
    while _wait(b, "xb.armed") != count:
        pass
    a.publish("xb.go", [count, 64])
    done = _wait(b, "xb.done")
    return float((count - 1) / (done["ns"] / 1e9))


def _trips(a: Any, count: int) -> list[int]:
    """Round-trip times (ns) of *count* pings from a to b and back."""
    a.publish("xr.start", count)
    return list(_wait(a, "xr.result"))


def _run(hosts: Any, host: str, *args: str) -> subprocess.Popen[str]:
    return hosts.popen(
        host,
        [sys.executable, str(HERE / "raw_link.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


def _raw_rate(hosts: Any, count: int) -> float:
    """Raw PUB (a) -> SUB (b) over the link with CURVE: messages a second."""
    public, secret = zmq.curve_keypair()
    address = f"tcp://{hosts.address['a']}:{PORT}"
    sub = _run(hosts, "b", "sub", address, str(count), public.decode())
    pub = _run(hosts, "a", "pub", str(count), secret.decode())
    out, _ = sub.communicate(timeout=120)
    pub.wait(30)
    return float((count - 1) / (json.loads(out)["ns"] / 1e9))


def _raw_trips(hosts: Any, count: int) -> list[int]:
    """Raw DEALER (a) -> ROUTER echo (b) over the link with CURVE: round trips (ns)."""
    public, secret = zmq.curve_keypair()
    echo = _run(hosts, "b", "echo", secret.decode())
    ping = _run(
        hosts, "a", "ping", f"tcp://{hosts.address['b']}:{PORT}", str(count), public.decode()
    )
    out, _ = ping.communicate(timeout=120)
    echo.wait(30)
    return list(json.loads(out)["times"])


def main() -> int:
    """Print the cross-host rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    r = measure(args.count, args.pings, args.rounds)
    print(
        f"across hosts: {r['site']:,.0f} msg/s against raw {r['raw']:,.0f} "
        f"({r['site'] / r['raw']:.2f}x); round trip p50 {r['site_rt']:.0f} us against raw "
        f"{r['raw_rt']:.0f} us ({r['site_rt'] / r['raw_rt']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
