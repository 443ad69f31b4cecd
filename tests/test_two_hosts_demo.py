"""The demo site on two hosts of one machine (deploy/two-hosts: 127.0.0.1 and 127.0.0.2),
as its comment says to run it: the thermostat on base takes the temperatures of the
sensor on bench, and bench's sensor takes base's heater commands."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import psutil
import pytest
from clitools import supervisor_cli

from actors.keys import tool_keys
from actors.process import PARENT_ENV
from actors.site import parse_site
from actors.testing.mesh import end_processes
from supervisor.client import ControlClient, ControlError, ControlTimeout

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _received(client: ControlClient, actor: str, topic: str) -> int:
    status = client.request("status")
    entry = next(a for a in status["actors"] if a["name"] == actor)
    return int((entry.get("topics") or {}).get("in", {}).get(topic, 0))


def test_the_two_host_demo_runs_as_its_comment_says() -> None:
    """Both hosts up; readings cross from bench to base and heater commands back; each
    host's status lists the other's actors; SIGTERM ends both, leaving nothing."""
    root = Path(tempfile.mkdtemp(prefix="enlil-2h"))
    for name in ("two-hosts", "example"):
        shutil.copytree(ROOT / "deploy" / name, root / name, ignore=shutil.ignore_patterns("run"))
    config = root / "two-hosts" / "site.toml"
    assert supervisor_cli("keys", "init", config=config).returncode == 0
    data = tomllib.loads(config.read_text())
    views = {h: parse_site(data, config, h) for h in ("base", "bench")}
    keys = tool_keys(views["base"].security.keys, True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    clients: dict[str, ControlClient] = {}
    seen: list[Any] = []
    try:
        env = dict(os.environ, **{PARENT_ENV: str(os.getpid())})
        for host in ("bench", "base"):
            log = (root / f"{host}.log").open("wb")
            procs[host] = subprocess.Popen(
                [sys.executable, "-m", "supervisor", "--config", str(config), "--host", host],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            log.close()
            endpoint = views[host].supervisor.control_connect
            clients[host] = ControlClient(endpoint, timeout=10.0, keys=keys)

        def wait(what: str, check: Any, timeout: float = 60) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with contextlib.suppress(ControlError, ControlTimeout, StopIteration):
                    if check():
                        return
                for host, proc in procs.items():
                    logs = (root / f"{host}.log").read_text()[-3000:]
                    assert proc.poll() is None, f"{host} exited {proc.returncode}\n{logs}"
                time.sleep(0.1)  # a poll of the supervisors' status, bounded
            raise AssertionError(f"timed out waiting for {what}")

        wait(
            "base takes bench's readings",
            lambda: _received(clients["base"], "thermostat", "sensor.temperature") >= 3,
        )
        wait(
            "bench takes base's commands",
            lambda: _received(clients["bench"], "sensor", "heater.command") >= 1,
        )
        status = clients["base"].request("status")
        seen = [a.get("pid") for a in status["actors"]]
        seen += [a.get("pid") for a in clients["bench"].request("status")["actors"]]
        assert {a["name"] for a in status["elsewhere"]} == {"device", "room", "sensor"}
        assert status["hosts"]["bench"]["link"] == "up"
    finally:
        for client in clients.values():
            client.close()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in procs.values()]
        left = end_processes([psutil.Process(p) for p in seen if p and psutil.pid_exists(p)], 5.0)
        sockets = list(root.rglob("*.sock"))
        shutil.rmtree(root)
    assert codes == [0, 0]
    assert left == [] and sockets == []
