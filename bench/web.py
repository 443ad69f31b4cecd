"""The web view's cost to the site (#16): throughput Source -> Sink with no view; with the
view's process alone; with a browser (headless Chromium) on a blank page and no view; with
the view open and the browser on it; and with that page's topic inspector on the measured
topic itself. One site, alternating round by round.

On a small machine the browser shares the cores with the site: Chromium on a blank page
costs the site more than the view does, so the view's own cost is the view with a
browser on it against the same browser on a blank page.

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
from bench.common import HERE, machine, median
from bench.throughput import actors_rate, start_site

TOKEN = "bench-token-0123456789"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def view_open(site: Any, browser: bool = True, tap: str | None = None) -> Iterator[None]:
    """``python -m supervisor web`` on *site*, and (*browser*) a Chromium page on it,
    tapping *tap*."""
    from browser import Browser

    port = _port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "supervisor", "web", "--config", str(site.config_path)),
            *("--listen", f"127.0.0.1:{port}"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # listening
        origin = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(origin + "/", timeout=30):
            pass
        if not browser:
            yield
            return
        with Browser(origin) as page:
            page.do("goto", url=origin + "/")
            row = '#actors tr[data-name="sink"]'
            page.do("wait", selector=row, attr=["data-state", "running"])
            if tap is not None:
                page.do("fill", selector="#tap-topic", value=tap)
                page.do("click", selector="#tap-button")
            yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def blank_page() -> Iterator[None]:
    """Chromium on a blank page, and no view."""
    from browser import Browser

    with Browser("about:") as page:
        page.do("goto", url="about:blank")
        yield


def measure(count: int, rounds: int) -> dict[str, float]:
    """Median msgs/s of each setting (see the module docstring)."""
    from actors.testing import MeshFactory

    factory = MeshFactory(python_path=[HERE])
    settings: dict[str, Any] = {
        "plain": contextlib.nullcontext,
        "process": lambda: view_open(site, browser=False),
        "blank": blank_page,
        "viewed": lambda: view_open(site),
        "tapped": lambda: view_open(site, tap="bench.data"),
    }
    rates: dict[str, list[float]] = {name: [] for name in settings}
    try:
        site = start_site(factory)
        for _ in range(rounds):
            for name, setting in settings.items():
                with setting():
                    rates[name].append(actors_rate(site, count, 64))
    finally:
        problems = factory.close()
        if problems:
            raise RuntimeError("\n".join(problems))
    return {name: median(values) for name, values in rates.items()}


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
    r = measure(args.count, args.rounds)
    print(
        f"no view {r['plain']:,.0f}/s; the view's process alone {r['process']:,.0f}/s "
        f"({r['process'] / r['plain']:.2f}x); Chromium on a blank page {r['blank']:,.0f}/s "
        f"({r['blank'] / r['plain']:.2f}x); the view in Chromium {r['viewed']:,.0f}/s "
        f"({r['viewed'] / r['blank']:.2f}x the blank page); its inspector on the topic "
        f"{r['tapped']:,.0f}/s ({r['tapped'] / r['viewed']:.2f}x the view)"
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
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "supervisor", "web", "--config", str(site.config_path)),
                *("--listen", f"127.0.0.1:{port}"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            origin = f"http://127.0.0.1:{port}"
            with Browser(origin) as page:
                page.do("goto", url=origin + "/")
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
        problems = factory.close()
        if problems:
            raise RuntimeError("\n".join(problems))
    return {
        "rows": rows,
        "render_ms": median(renders) if renders else float("nan"),
        "worst_ms": max(renders) if renders else float("nan"),
        "updates_per_s": len(renders) / seconds,
        "rate": rate,
    }


if __name__ == "__main__":
    sys.exit(main())
