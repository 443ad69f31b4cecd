"""Smoke test: the demo site's traces reach the rotel collector (rotel from PyPI)."""

from __future__ import annotations

import socket
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import rotel

from actors.testing import MeshFactory

pytestmark = pytest.mark.slow
DEMO = Path(__file__).parent.parent / "deploy" / "example"


def free_port() -> int:
    """A free TCP port on loopback (the collector binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rotel:
    """rotel-agent in the foreground, with its debug log of traces collected."""

    def __init__(self, tmp: Path) -> None:
        self.http = f"127.0.0.1:{free_port()}"
        self.grpc = f"127.0.0.1:{free_port()}"
        agent = Path(rotel.__file__).parent / "rotel-agent"
        self.proc = subprocess.Popen(
            [
                str(agent),
                "start",
                "--otlp-grpc-endpoint",
                self.grpc,
                "--otlp-http-endpoint",
                self.http,
                "--exporter",
                "blackhole",
                "--debug-log",
                "traces",
                "--debug-log-verbosity",
                "detailed",
                "--pid-file",
                str(tmp / "rotel.pid"),
                "--log-file",
                str(tmp / "rotel.log"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.output.append(line)
                self._cond.notify_all()

    def wait_for(self, texts: list[str], timeout: float = 30.0) -> None:
        """Wait until every text has appeared in rotel's output."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: all(any(t in line for line in self.output) for t in texts), timeout
            )
        assert ok, f"rotel never printed all of {texts}:\n{''.join(self.output[-40:])}"

    def close(self) -> None:
        """End rotel by its pid."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Rotel]:
    """A rotel collector on loopback ports for one test (ask for it before `mesh`, so that
    it outlives the site's last exports)."""
    agent = Rotel(tmp_path)
    agent.wait_for(["Starting Rotel"])
    yield agent
    agent.close()


def test_demo_site_traces_reach_rotel_from_every_actor(collector: Rotel, mesh: MeshFactory) -> None:
    """Every actor of the demo site shows up in rotel's trace log."""
    actors = tomllib.loads((DEMO / "site.toml").read_text())["actors"]
    mesh.start(
        {
            "site": {"name": "demo", "python_path": [str(DEMO)]},
            "telemetry": {"otlp_endpoint": f"http://{collector.http}"},
            "actors": actors,
        }
    )
    collector.wait_for(
        ["service.name: Str(demo)", *[f"enlil.actor: Str({name})" for name in actors]]
    )


def test_traces_reach_rotel_over_grpc(collector: Rotel, mesh: MeshFactory) -> None:
    """protocol = "grpc" exports to the collector's gRPC port."""
    mesh.start(
        {
            "site": {"name": "grpcsite"},
            "telemetry": {"otlp_endpoint": f"http://{collector.grpc}", "protocol": "grpc"},
            "actors": {"t": {"class": "mesh_actors:Ticker"}},
        }
    )
    collector.wait_for(["service.name: Str(grpcsite)", "enlil.actor: Str(t)"])
