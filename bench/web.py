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
    args = parser.parse_args()
    print(machine())
    r = measure(args.count, args.rounds)
    print(
        f"no view {r['plain']:,.0f}/s; the view's process alone {r['process']:,.0f}/s "
        f"({r['process'] / r['plain']:.2f}x); Chromium on a blank page {r['blank']:,.0f}/s "
        f"({r['blank'] / r['plain']:.2f}x); the view in Chromium {r['viewed']:,.0f}/s "
        f"({r['viewed'] / r['blank']:.2f}x the blank page); its inspector on the topic "
        f"{r['tapped']:,.0f}/s ({r['tapped'] / r['viewed']:.2f}x the view)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
