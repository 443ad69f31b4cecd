"""README's first command: ``python -m supervisor`` with no config runs the demo site."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import zmq

from actors.link import BrokerLink
from actors.site import load_site
from actors.sockets import SocketFactory
from actors.testing import wait_gone
from supervisor.cli import DEMO
from supervisor.client import ControlClient

pytestmark = pytest.mark.slow


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
    try:
        with ControlClient(site.supervisor.control_connect, timeout=30) as ctl:
            status = ctl.status()
            names = [a["name"] for a in status["actors"]]
            assert names == [
                "broker",
                "status",
                "log",
                "device",
                "room",
                "sensor",
                "thermostat",
                "console",
            ]
            ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
            link = BrokerLink(
                SocketFactory(ctx),
                site.broker.pub_connect,
                site.broker.sub_connect,
                "t",
                patterns=["heater.command", "$sys.event"],
            )
            try:
                message = link.recv(timeout=30)
                while message is not None and message.topic != "heater.command":
                    message = link.recv(timeout=30)
                assert message is not None and isinstance(message.envelope.payload, bool)
            finally:
                link.close(linger_ms=0)
                ctx.term()
            status = ctl.status()
            children = [psutil.Process(a["pid"]) for a in status["actors"] if a["pid"]]
            assert len(children) == 8
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert not wait_gone(children, timeout=10)
    assert not list((DEMO.parent / "run").glob("*.sock"))
