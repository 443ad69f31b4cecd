"""The web view's cost to the site (#16): throughput Source -> Sink with the view open and a
browser (headless Chromium) on it, against the same site without them, in paired rounds;
and with that page's topic inspector on the measured topic itself.

"Without" is the view's process and the browser stopped (SIGSTOP): they take no CPU,
and their sockets read nothing of the measured topic. Pairing each measurement with
one right after it, without restarting anything, takes the noise of a shared machine
out of the ratio; both are measured once the browser and the view have settled (a
Chromium that has just started works hard for several seconds).

Run: ``python bench/web.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # their browser
from bench.common import HERE, close_cleanly, machine, median
from bench.throughput import actors_rate, start_site

TOKEN = "bench-token-0123456789"


def settle(*pids: int, limit: float = 30.0) -> None:
    """Wait until the processes *pids* (and their children) are idle: under 3% of a core
    for a second. A Chromium or a view that has just started works hard for a few
    seconds, and what is measured here is a view left open, not one starting."""
    import psutil

    deadline = time.monotonic() + limit
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        procs = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                top = psutil.Process(pid)
                procs += [top, *top.children(recursive=True)]
        before = {}
        for p in procs:
            with contextlib.suppress(psutil.Error):
                before[p] = sum(p.cpu_times()[:2])
        time.sleep(0.5)  # a sampling window, not a synchronisation
        used = 0.0
        for p, t in before.items():
            with contextlib.suppress(psutil.Error):
                used += sum(p.cpu_times()[:2]) - t
        quiet = quiet + 1 if used / 0.5 < 0.03 else 0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_view(site: Any, port: int) -> subprocess.Popen[str]:
    """``python -m supervisor web`` on *site* at *port*, with :data:`TOKEN` (reading the
    site needs it), handed on its standard input."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "supervisor", "web", "--config", str(site.config_path)),
            *("--listen", f"127.0.0.1:{port}", "--token-stdin"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(TOKEN + "\n")
    proc.stdin.close()
    return proc


@contextlib.contextmanager
def view_open(site: Any, browser: bool = True, tap: str | None = None) -> Iterator[list[int]]:
    """``python -m supervisor web`` on *site*, and (*browser*) a Chromium page on it,
    tapping *tap*."""
    from browser import Browser

    port = _port()
    proc = start_view(site, port)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # listening
        origin = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(origin + "/", timeout=30):
            pass
        if not browser:
            settle(proc.pid)
            yield [proc.pid]
            return
        with Browser(origin) as page:
            page.do("goto", url=f"{origin}/#token={TOKEN}")
            row = '#actors tr[data-name="sink"]'
            page.do("wait", selector=row, attr=["data-state", "running"])
            if tap is not None:
                page.do("fill", selector="#tap-topic", value=tap)
                page.do("click", selector="#tap-button")
            settle(proc.pid, page.proc.pid)
            yield [proc.pid, page.proc.pid]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def _pause(pids: list[int], sig: int) -> None:
    import psutil

    for pid in pids:
        with contextlib.suppress(psutil.Error):
            top = psutil.Process(pid)
            for p in [top, *top.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    p.send_signal(sig)


def paired(count: int, rounds: int) -> dict[str, float]:
    """Median msgs/s with the view open in Chromium and with it stopped, and the median of
    the ratios of each pair (what drifts during the run cancels out in a pair)."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    on: list[float] = []
    off: list[float] = []
    try:
        site = start_site(factory)
        with view_open(site) as pids:
            for i in range(rounds):  # on, off; off, on; ... (the order cancels out)
                for running in (True, False) if i % 2 == 0 else (False, True):
                    if running:
                        on.append(actors_rate(site, count, 64))
                        continue
                    _pause(pids, signal.SIGSTOP)
                    try:
                        off.append(actors_rate(site, count, 64))
                    finally:
                        _pause(pids, signal.SIGCONT)
                    settle(*pids)
    finally:
        close_cleanly(factory)
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    return {"on": median(on), "off": median(off), "ratio": median(ratios)}


def measure(count: int, rounds: int) -> dict[str, float]:
    """Median msgs/s with the view open in Chromium, and with its topic inspector on the
    measured topic (alternating)."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    viewed: list[float] = []
    tapped: list[float] = []
    try:
        site = start_site(factory)
        for _ in range(rounds):
            with view_open(site):
                viewed.append(actors_rate(site, count, 64))
            with view_open(site, tap="bench.data"):
                tapped.append(actors_rate(site, count, 64))
    finally:
        close_cleanly(factory)
    return {"viewed": median(viewed), "tapped": median(tapped)}


def guard_cost(count: int, rounds: int = 5) -> dict[str, float]:
    """Microseconds per HTTP request to the view (#27): an aiohttp app with the view's
    door (Host, Origin and token checked on every request) against the same app without
    it, served on loopback and asked over one kept-alive connection, alternating rounds."""
    import asyncio

    from aiohttp import ClientSession, web

    from supervisor.core.webaccess import WebAccess
    from supervisor.web.guard import guard

    async def hello(request: web.Request) -> web.StreamResponse:
        return web.json_response([])

    async def per_request(guarded: bool) -> float:
        port = _port()
        access = WebAccess(token=TOKEN, host="127.0.0.1", port=port)
        app = web.Application(middlewares=[guard(access)] if guarded else [])
        app.router.add_get("/api/snapshots", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}/api/snapshots"
        headers = {"Authorization": f"Bearer {TOKEN}", "Origin": f"http://127.0.0.1:{port}"}
        try:
            async with ClientSession() as session:
                for _ in range(200):  # warm-up
                    async with session.get(url, headers=headers) as response:
                        assert response.status == 200
                began = time.perf_counter_ns()
                for _ in range(count):
                    async with session.get(url, headers=headers) as response:
                        await response.read()
                return (time.perf_counter_ns() - began) / count / 1e3
        finally:
            await runner.cleanup()

    with_guard: list[float] = []
    without: list[float] = []
    for n in range(rounds):
        for guarded in (True, False) if n % 2 == 0 else (False, True):
            (with_guard if guarded else without).append(asyncio.run(per_request(guarded)))
    return {"guarded": median(with_guard), "open": median(without)}


def main() -> int:
    """Print the rates and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=0, help="N actors: the page's render time")
    args = parser.parse_args()
    print(machine())
    if args.scale:
        s = scale(args.scale, 10.0)
        print(
            f"{s['rows']} rows; an update of the table and graph takes {s['render_ms']:.1f} ms "
            f"(worst {s['worst_ms']:.1f} ms), {s['updates_per_s']:.1f} updates/s; the Sink "
            f"took {s['rate']:,.0f} msg/s meanwhile"
        )
        return 0
    g = guard_cost(2000)
    print(
        f"a request to the view: {g['guarded']:.0f} us with Host, Origin and token checked, "
        f"{g['open']:.0f} us without ({g['guarded'] / g['open']:.3f}x)"
    )
    pr = paired(args.count, 3 * args.rounds)
    print(f"view open {pr['on']:,.0f}/s; stopped {pr['off']:,.0f}/s; pairs {pr['ratio']:.2f}x")
    r = measure(args.count, args.rounds)
    print(
        f"its inspector on the measured topic {r['tapped']:,.0f}/s "
        f"({r['tapped'] / r['viewed']:.2f}x the view open, {r['viewed']:,.0f}/s)"
    )
    return 0


def scale(count: int, seconds: float) -> dict[str, Any]:
    """*count* actors in a ring (2,000 msg/s among them) and a Source -> Sink flat out,
    with the view in Chromium: the page's time per update of the table and graph (median
    and worst), updates per second, and the rate the Sink saw meanwhile."""
    from browser import Browser

    from actors.testing import MeshFactory
    from bench.soak import ring

    data = ring(count)
    data["broker"] = {"hwm": 1_000_000}
    data["actors"] |= {
        "source": {"class": "bench_actors:Source"},
        "sink": {"class": "bench_actors:Sink"},
    }
    factory = MeshFactory(python_path=[HERE])
    try:
        site = factory.start(data, timeout=180, subscribe=["bench.armed", "bench.done"])
        port = _port()
        with view_open(site, browser=False):
            pass  # the first start imports every class once (warm caches), then:
        proc = start_view(site, port)
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            origin = f"http://127.0.0.1:{port}"
            with Browser(origin) as page:
                page.do("goto", url=f"{origin}/#token={TOKEN}")
                last = f'#actors tr[data-name="c{count - 1}"]'
                page.do("wait", selector=last, attr=["data-state", "running"], timeout=60000)
                page.do("eval", js="window.enlilRenders.length = 0")
                messages = int(150_000 * seconds)  # about the window, at the Source's pace
                cursor = site.publish("bench.reset", messages)
                site.wait_for("bench.armed", after=cursor)
                site.publish("bench.go", [messages, 64])
                began = time.monotonic()
                site.wait_until(lambda: time.monotonic() - began >= seconds, timeout=seconds + 30)
                renders = page.do("eval", js="window.enlilRenders.slice()")
                rows = page.do("count", selector="#actors tbody tr")
                status = site.status()
                sink = next(a for a in status["actors"] if a["name"] == "sink")
                rate = sink["stats"]["received"] / max(time.monotonic() - began, 1e-6)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()
    finally:
        close_cleanly(factory)
    return {
        "rows": rows,
        "render_ms": median(renders) if renders else float("nan"),
        "worst_ms": max(renders) if renders else float("nan"),
        "updates_per_s": len(renders) / seconds,
        "rate": rate,
    }


if __name__ == "__main__":
    sys.exit(main())
