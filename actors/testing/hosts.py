"""A site of several hosts under test: one supervisor per network namespace (see
:mod:`actors.testing.netns`), driven from the test process through each host's Unix
sockets (its control endpoint, its broker), with the operator's key."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import tomli_w

from actors.keys import KeyFolder, tool_keys
from actors.process import PARENT_ENV
from actors.site import SiteConfig, parse_site
from actors.testing.mesh import end_processes
from actors.testing.netns import Hosts
from supervisor.client import ControlClient, ControlError, ControlTimeout, EventStream


class HostSite:
    """A site of several hosts, each host's supervisor in its own namespace."""

    def __init__(
        self,
        hosts: Hosts,
        actors: dict[str, dict[str, Any]],
        addresses: dict[str, str] | None = None,
        python_path: tuple[str, ...] = (),
        **tables: Any,
    ) -> None:
        """*addresses*: what site.toml says of some hosts instead of their real address;
        *python_path*: where the actor classes are; *tables*: more of site.toml."""
        self.hosts = hosts
        address = {**hosts.address, **(addresses or {})}
        self.root = Path(tempfile.mkdtemp(prefix="enlil-h"))
        data: dict[str, Any] = {
            "site": {
                "name": "hosts",
                "run_dir": str(self.root / "run"),
                "python_path": list(python_path),
            },
            "supervisor": {"heartbeat_interval": 0.2, "backoff_initial": 0.05},
            "hosts": {n: {"address": address[n]} for n in hosts.names},
            "actors": actors,
            **tables,
        }
        self.path = self.root / "site.toml"
        self.path.write_text(tomli_w.dumps(data))
        self.view = {n: parse_site(data, self.path, n) for n in hosts.names}
        main = self.view[hosts.names[0]]
        KeyFolder(main.security.keys).init(tuple(hosts.names))
        self.keys = tool_keys(main.security.keys, True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.seen: dict[int, psutil.Process] = {}
        self.clients: dict[str, ControlClient] = {}
        self.streams: list[EventStream] = []
        self._unread: dict[int, list[dict[str, Any]]] = {}
        #: Hosts whose supervisor the test killed.
        self.stopped: set[str] = set()

    def site(self, host: str) -> SiteConfig:
        """The site as *host* sees it."""
        return self.view[host]

    def start(self, host: str) -> None:
        """Start *host*'s supervisor in its namespace (it dies with the test process)."""
        env = dict(os.environ, **{PARENT_ENV: str(os.getpid())})
        log = (self.root / f"{host}.log").open("ab")
        self.procs[host] = self.hosts.popen(
            host,
            [sys.executable, "-m", "supervisor", "--config", str(self.path), "--host", host],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        self._remember(self.procs[host].pid)

    def _remember(self, pid: int | None) -> None:
        if pid and pid not in self.seen:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.seen[pid] = psutil.Process(pid)

    def client(self, host: str) -> ControlClient:
        """A control client of *host*'s supervisor (through its Unix socket)."""
        if host not in self.clients:
            endpoint = self.view[host].supervisor.control_connect
            self.clients[host] = ControlClient(endpoint, timeout=10.0, keys=self.keys)
        return self.clients[host]

    def status(self, host: str) -> dict[str, Any]:
        """*host*'s status reply; remembers every pid it names."""
        status: dict[str, Any] = self.client(host).request("status")
        for actor in status["actors"]:
            self._remember(actor.get("pid"))
        return status

    def events(self, host: str) -> EventStream:
        """The ``$sys.event`` stream, through *host*'s broker (connected when returned)."""
        view = self.view[host]
        stream = EventStream(view.broker.pub_connect, view.broker.sub_connect, None, self.keys)
        stream.wait_connected(10.0)
        self.streams.append(stream)
        return stream

    def actor(self, host: str, name: str) -> dict[str, Any]:
        """Actor *name*'s entry in *host*'s status."""
        return next(a for a in self.status(host)["actors"] if a["name"] == name)

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until *check* holds (a supervisor that cannot answer yet counts as not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ControlError, ControlTimeout, StopIteration, KeyError):
                if check():
                    return
            for host, proc in self.procs.items():
                if proc.poll() is not None and host not in self.stopped:
                    raise AssertionError(f"{host}'s supervisor exited {proc.returncode}\n"
                                         + self.log(host))  # fmt: skip
            time.sleep(0.05)  # a poll interval, not a synchronisation
        raise AssertionError(f"timed out waiting for {what}\n" + self.logs())

    def wait_running(self, host: str, timeout: float = 60.0) -> None:
        """Wait until every actor of *host* that starts with the site runs."""
        manual = {n for n, a in self.view[host].actors.items() if not a.autostart}
        self.wait(
            f"{host}'s actors running",
            lambda: all(
                a["state"] == "running"
                for a in self.status(host)["actors"]
                if a["name"] not in manual
            ),
            timeout,
        )

    def wait_linked(self, timeout: float = 30.0) -> None:
        """Wait until every host takes every other's messages (link up, reports coming)."""

        def linked(host: str) -> bool:
            hosts = self.status(host)["hosts"]
            return all(h["link"] == "up" and h["reported_age"] is not None for h in hosts.values())

        for host in self.procs:
            self.wait(f"{host} linked to every host", functools.partial(linked, host), timeout)

    def received(self, host: str, actor: str, topic: str) -> int:
        """How many messages on *topic* actor *actor* (on *host*) has taken."""
        return int(self.actor(host, actor)["topics"]["in"].get(topic, 0))

    def kill(self, host: str) -> None:
        """SIGKILL *host*'s supervisor (by pid)."""
        self.status(host)
        for child in psutil.Process(self.procs[host].pid).children(recursive=True):
            self._remember(child.pid)
        self.stopped.add(host)
        self.procs[host].send_signal(signal.SIGKILL)
        self.procs[host].wait(10)

    def cli(self, host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``python -m supervisor ARGS --config site.toml --host HOST`` run on *host*."""
        argv = [sys.executable, "-m", "supervisor", *args, "--config", str(self.path)]
        return self.hosts.run(host, [*argv, "--host", host], timeout)

    def wait_event(
        self, stream: EventStream, check: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        """The first event of *stream* that *check* accepts, within *timeout* seconds (those
        it passes over are kept for the next wait)."""
        seen = self._unread.setdefault(id(stream), [])
        for i, event in enumerate(seen):
            if check(event):
                return seen.pop(i)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            got = stream.next(left)
            if got is not None and check(got):
                return got
            if got is not None:
                seen.append(got)
        raise AssertionError(f"no such event in {timeout:g} s; seen: {seen[-10:]}\n" + self.logs())

    def log(self, host: str) -> str:
        """The end of *host*'s supervisor output."""
        path = self.root / f"{host}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-40:]) if path.exists() else ""
        )

    def logs(self) -> str:
        """The end of every host's supervisor output."""
        return "\n".join(f"--- {h} ---\n{self.log(h)}" for h in self.procs)

    def close(self) -> list[str]:
        """Stop every supervisor; return what was left behind."""
        problems: list[str] = []
        for client in self.clients.values():
            client.close()
        for stream in self.streams:
            stream.close()
        for host, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    problems.append(f"{host}'s supervisor ignored SIGTERM")
                    proc.kill()
                    proc.wait()
        problems += end_processes(self.seen.values(), timeout=5.0)
        problems += [f"socket file left behind: {p}" for p in self.root.rglob("*.sock")
                     if not any(h in self.stopped for h in p.parts)]  # fmt: skip
        return problems
