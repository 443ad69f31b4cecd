"""README's first command: ``python -m supervisor`` with no config runs the demo site."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
import zmq
from browser import Browser
from graph_checks import overlaps, wait_call_rates

from actors import RemoteError
from actors.link import BrokerLink
from actors.site import SiteConfig, load_site
from actors.testing import wait_gone
from supervisor.calling import ServiceClient
from supervisor.cli import DEMO
from supervisor.client import ControlClient

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def test_the_default_command_runs_the_demo_site(tmp_path: Path) -> None:
    """From a folder without site.toml, ``python -m supervisor`` runs deploy/example."""
    site = load_site(DEMO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    children: list[psutil.Process] = []
    early: list[bytes] = []
    try:
        early += wait_for_keys(site, proc)
        with ControlClient.for_site(site, timeout=30) as ctl:
            status = ctl.status()
            names = [a["name"] for a in status["actors"]]
            assert names == [
                "broker",
                "status",
                "log",
                "device",
                "room",
                "sensor",
                "modes",
                "thermostat",
                "console",
                "recorder",
            ]
            ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
            link = BrokerLink.to_site(ctx, site, "t", ["heater.command", "$sys.event"])
            try:
                message = link.recv(timeout=30)
                while message is not None and message.topic != "heater.command":
                    message = link.recv(timeout=30)
                assert message is not None and isinstance(message.envelope.payload, bool)
            finally:
                link.close(linger_ms=0)
                ctx.term()
            # The thermostat serves its set point; an operator's tool changes it, and the
            # console asks for it every period through its policy.
            with ServiceClient.from_site(site) as services:
                assert services.call("thermostat.setpoint.set", 22.5, timeout=10) == 22.5
                assert services.call("thermostat.setpoint.get", timeout=10) == 22.5
                with pytest.raises(RemoteError, match="outside"):
                    services.call("thermostat.setpoint.set", 99.0, timeout=10)
            assert console_calls(ctl).get("breaker") == "closed"
            operators_day(ctl, site, tmp_path)
            status = ctl.status()
            children = [psutil.Process(a["pid"]) for a in status["actors"] if a["pid"]]
            assert len(children) == 10
            # The live web view is on in the demo, in a process of its own.
            views = [
                p for p in psutil.Process(proc.pid).children() if "web" in " ".join(p.cmdline())
            ]
            assert len(views) == 1, [p.cmdline() for p in psutil.Process(proc.pid).children()]
            children += views
            token = site.web.token_file.read_text().strip()
            assert site.web.token_file.stat().st_mode & 0o777 == 0o600
            see_the_view(site.web.listen, token)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        out = b"".join(early) + out
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert b"web view of site 'demo' on http://127.0.0.1:8080/#token=" in out
    assert b"Foxglove endpoint on ws://127.0.0.1:8765/?token=... (the token is in " in out
    assert token.encode() not in out  # the output is not a terminal: a log keeps no token
    assert not wait_gone(children, timeout=10)
    assert not list((DEMO.parent / "run").glob("*.sock"))


def operators_day(ctl: ControlClient, site: SiteConfig, tmp_path: Path) -> None:
    """A set point that survives a kill, README's first hour (a crash turned into a test),
    and the two modes."""
    setpoint_survives_a_kill(ctl, site)
    crash_to_test(ctl, site, tmp_path)
    modes_switch(ctl, site)


def modes_switch(ctl: ControlClient, site: SiteConfig) -> None:
    """The demo's two modes: manual stops the thermostat and the console (the heater is the
    operator's), auto brings them back, the thermostat first."""

    def wait_mode(services: ServiceClient, mode: str) -> None:
        deadline = time.monotonic() + 30
        while (now := services.call("mode.get", timeout=10))["mode"] != mode or now[
            "state"
        ] != "reached":
            assert time.monotonic() < deadline, now
            time.sleep(0.1)  # a hang guard's poll interval, not a synchronisation

    def states() -> dict[str, str]:
        return {
            a["name"]: a["state"]
            for a in ctl.status()["actors"]
            if a["name"] in ("thermostat", "console")
        }

    with ServiceClient.from_site(site) as services:
        wait_mode(services, "auto")
        assert services.call("mode.set", "manual", timeout=10)["requested"] == "manual"
        wait_mode(services, "manual")
        assert states() == {"thermostat": "stopped", "console": "stopped"}
        services.call("mode.set", "auto", timeout=10)
        wait_mode(services, "auto")
        assert states() == {"thermostat": "running", "console": "running"}
    # The mode is a retained topic: tap prints it at once.
    tapped = subprocess.run(
        [sys.executable, "-m", "supervisor", "tap", "mode.current", "--count", "1"],
        cwd=site.path.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert tapped.returncode == 0, tapped.stderr
    current = json.loads(tapped.stdout)
    assert current["retained"] and current["payload"]["mode"] == "auto", current


def console_calls(ctl: ControlClient) -> dict[str, Any]:
    """The console's ``setpoint`` call counters, once it has had an answer."""
    deadline = time.monotonic() + 30
    while True:
        console = next(a for a in ctl.status()["actors"] if a["name"] == "console")
        calls: dict[str, Any] = console["calls"].get("calls", {}).get("setpoint", {})
        if calls.get("ok", 0) >= 1:
            return calls
        assert time.monotonic() < deadline, f"the console never got an answer: {calls}"
        time.sleep(0.2)  # a hang guard's poll interval, not a synchronisation


def setpoint_survives_a_kill(ctl: ControlClient, site: SiteConfig) -> None:
    """The set point an operator chose (22.5, above) is durable: once written, a kill -9 of
    the thermostat does not lose it."""
    deadline = time.monotonic() + 30
    while (ctl.state("thermostat")["values"] or {}).get("target") != 22.5:
        assert time.monotonic() < deadline, ctl.state("thermostat")
        time.sleep(0.2)  # a hang guard's poll interval, not a synchronisation
    old = next(a["pid"] for a in ctl.status()["actors"] if a["name"] == "thermostat")
    os.kill(old, signal.SIGKILL)
    while True:
        thermostat = next(a for a in ctl.status()["actors"] if a["name"] == "thermostat")
        if thermostat["state"] == "running" and thermostat["pid"] != old:
            break
        assert time.monotonic() < deadline + 30, thermostat
        time.sleep(0.1)  # a hang guard's poll interval, not a synchronisation
    with ServiceClient.from_site(site) as services:
        assert services.call("thermostat.setpoint.get", timeout=10) == 22.5


#: README's exported test, as a user writes it next to the export.
CRASH_TEST = """
from actors.testing import replay


def test_a_boost_of_zero_minutes_does_not_crash_the_thermostat():
    result = replay("thermostat_crash.json", import_paths=[{folder!r}])
    assert result.state["boost_until"] == 0.0
"""
#: The bug on purpose in the demo's thermostat, and its one-line fix.
BUG = "        rate = (self.target - self.temperature) / self.boost\n"
FIX = "        if self.boost <= 0:\n            return\n" + BUG


def crash_to_test(ctl: ControlClient, site: SiteConfig, tmp_path: Path) -> None:
    """README's first hour: a boost of 0 minutes crashes the thermostat (an ordinary
    ZeroDivisionError); the snapshot it leaves replays to the same exception, exports to a
    test that fails, and the one-line fix makes that test pass."""
    from clitools import supervisor_cli

    old = next(a["pid"] for a in ctl.status()["actors"] if a["name"] == "thermostat")
    sent = subprocess.run(
        [sys.executable, "-m", "supervisor", "pub", "thermostat.boost", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    deadline = time.monotonic() + 30
    while True:
        thermostat = next(a for a in ctl.status()["actors"] if a["name"] == "thermostat")
        if thermostat["state"] == "running" and thermostat["pid"] != old:
            break
        assert time.monotonic() < deadline, thermostat
        time.sleep(0.1)  # a hang guard's poll interval, not a synchronisation
    assert "exit code 70" in thermostat["last_exit"], thermostat
    snap = max((site.snapshots.dir / "thermostat").glob("*-exception.snap"))
    replayed = supervisor_cli("replay", str(snap))
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "reproduced: ZeroDivisionError" in replayed.stdout
    assert "in start_boost" in replayed.stdout
    exported = tmp_path / "thermostat_crash.json"
    assert supervisor_cli("snapshot", "export", str(snap), "-o", str(exported)).returncode == 0
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    source = (DEMO.parent / "demo_actors.py").read_text()
    assert source.count(BUG) == 1
    (fixed / "demo_actors.py").write_text(source.replace(BUG, FIX))
    for folder, passes in ((DEMO.parent, False), (fixed, True)):
        (tmp_path / "test_thermostat_crash.py").write_text(CRASH_TEST.format(folder=str(folder)))
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (run.returncode == 0) is passes, run.stdout[-2000:]
        if not passes:
            assert "ZeroDivisionError" in run.stdout


def wait_for_keys(site: SiteConfig, proc: subprocess.Popen[bytes]) -> list[bytes]:
    """The demo uses CURVE: wait until its supervisor has made the site's keys (at its first
    start); its log lines are the wait, returned for the checks of its output."""
    operator = site.security.keys / "tools" / "operator.key_secret"
    lines = []
    while not operator.exists():
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the supervisor ended before it made the site's keys"
        lines.append(line)
    return lines


def see_the_view(listen: str, token: str) -> None:
    """The demo's web view in Chromium: every actor, the graph with the sensor's topic,
    no problem; a screenshot in test-artifacts (README's is docs/demo/web-view.png)."""
    origin = f"http://{listen}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(origin + "/", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, f"nothing serves the web view at {origin}"
        time.sleep(0.1)  # a hang guard's poll interval, not a synchronisation
    with Browser(origin) as page:
        page.do("goto", url=f"{origin}/#token={token}")
        page.do("wait", selector='#actors tr[data-name="console"]', attr=["data-state", "running"])
        assert page.do("count", selector="#actors tbody tr") == 10
        page.do("wait", selector='#graph g[data-id="t:sensor.temperature"]')
        page.do("wait", selector='#graph g[data-id="s:thermostat.setpoint.get"]')
        # The console's calls, drawn with their rate; the room's status topics folded.
        wait_call_rates(page, {"a:console>s:thermostat.setpoint.get"})
        page.do("wait", selector='#graph g[data-id="f:room.*"]')
        found = overlaps(page)
        assert found["texts"] > 20 and found["bad"] == [], found
        ARTIFACTS.mkdir(exist_ok=True)
        page.do("screenshot", path=str(ARTIFACTS / "demo-web-view.png"))
        assert page.do("problems") == []
