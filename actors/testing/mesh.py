"""Real meshes for tests: a supervisor, a broker and actor processes (shell).

:class:`MeshFactory` (the ``mesh`` fixture) starts a site from a dict or TOML
text with ``python -m supervisor`` in a fresh temporary run directory and
returns a :class:`Mesh`, through which a test publishes, waits for messages,
reads status and kills or restarts actors. When the test ends, every mesh is
shut down, and the factory checks that every process it ever saw is gone and
that no socket file is left; if not, it ends them by pid and fails the test.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil
import tomli_w
import zmq

from actors.core.topics import parse_pattern
from actors.core.wire import Message, WireError, decode_message
from actors.link import BrokerLink
from actors.process import PARENT_ENV
from actors.sockets import SocketFactory
from supervisor.client import ControlClient, ControlTimeout

_DEFAULTS: dict[str, dict[str, Any]] = {
    "supervisor": {"heartbeat_interval": 0.2, "backoff_initial": 0.05, "stop_timeout": 5.0},
}
_BUFFER = 200_000
_STATUS_SLICE = 0.25  # seconds: how often a wait for status looks whether the supervisor exited


class MeshError(AssertionError):
    """A mesh did not reach the expected condition, or left something behind."""


class Mesh:
    """One running site under test. Methods wait with timeouts, never with sleeps."""

    def __init__(self, root: Path, config_path: Path, subscribe: Iterable[str] = ("*",)) -> None:
        self.root = root
        self.config_path = config_path
        self.log_path = root / "supervisor.log"
        data = tomllib.loads(config_path.read_text())
        from actors.site import load_site  # noqa: PLC0415 - keep the test kit import light

        self.site = load_site(config_path)
        self.names = list(data.get("actors", {}))
        self.seen: dict[int, psutil.Process] = {}
        self._log_file = self.log_path.open("wb")
        #: The keys the test connects with on a secured site: the operator's (made now, as
        #: ``keys init`` would, so that the test's sockets exist before the supervisor).
        self.keys = None
        if self.site.secured:
            from actors.keys import KeyFolder, tool_keys  # noqa: PLC0415

            KeyFolder(self.site.security.keys).init()
            self.keys = tool_keys(self.site.security.keys, True)
        env = dict(os.environ)
        env[PARENT_ENV] = str(os.getpid())  # the supervisor dies with the test process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "--config", str(config_path)],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self._remember(self.proc.pid)
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.control = ControlClient(
            self.site.supervisor.control_connect, timeout=20.0, ctx=self.ctx, keys=self.keys
        )
        # Connecting before the broker exists is fine: ZeroMQ retries until it appears.
        self.link = BrokerLink(
            SocketFactory(self.ctx, keys=self.keys),
            self.site.broker.pub_connect,
            self.site.broker.sub_connect,
            "test",
            patterns=list(subscribe),
        )
        self.messages: collections.deque[Message] = collections.deque(maxlen=_BUFFER)
        self._received = 0
        self.supervisor_killed = False

    # -- start-up -----------------------------------------------------------------

    def wait_ready(self, timeout: float = 30.0) -> Mesh:
        """Wait until the broker and every actor that starts with the site run; connect
        the test's own link."""
        manual = {n for n, a in self.site.actors.items() if not a.autostart}
        self.wait_status(
            lambda s: all(a["state"] == "running" for a in s["actors"] if a["name"] not in manual),
            timeout,
            "every actor running",
        )
        self.link.wait_connected(timeout)
        return self

    def _remember(self, pid: int | None) -> None:
        if pid and pid not in self.seen:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.seen[pid] = psutil.Process(pid)

    # -- control ------------------------------------------------------------------

    def status(self, timeout: float = 20.0) -> dict[str, Any]:
        """The supervisor's status reply; remembers every pid it names.

        Raises MeshError at once when the supervisor has exited (a bad config
        exits 78 right away), ControlTimeout when it did not answer in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise MeshError(
                    f"the supervisor exited with {self.proc.returncode}; log:\n{self.log_tail()}"
                )
            left = deadline - time.monotonic()
            try:
                result: dict[str, Any] = self.control.request(
                    "status", timeout=min(_STATUS_SLICE, left)
                )
                break
            except ControlTimeout:
                if left <= _STATUS_SLICE:
                    raise ControlTimeout(
                        f"no status from the supervisor within {timeout:g}s"
                    ) from None
        for actor in result["actors"]:
            self._remember(actor["pid"])
        return result

    def actor(self, name: str) -> dict[str, Any]:
        """The status record of one actor (or ``broker``)."""
        for record in self.status()["actors"]:
            if record["name"] == name:
                return dict(record)
        raise MeshError(f"no actor {name!r} in the mesh")

    def pid(self, name: str) -> int:
        """The pid of a running actor (or ``broker``)."""
        pid = self.actor(name)["pid"]
        if pid is None:
            raise MeshError(f"actor {name!r} has no process")
        return int(pid)

    def wait_status(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 20.0,
        what: str = "condition",
    ) -> dict[str, Any]:
        """Ask for status until *predicate* holds on it; MeshError after *timeout*."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.status(timeout=max(0.1, deadline - time.monotonic()))
            except ControlTimeout:
                status = None
            if status is not None and predicate(status):
                return status
            if time.monotonic() > deadline:
                raise MeshError(
                    f"timed out after {timeout:g}s waiting for {what}; last status: "
                    f"{status}\nsupervisor log:\n{self.log_tail()}"
                )
            self._pump(0.05)  # wakes early on any message: events and heartbeats

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
    ) -> None:
        """Check *predicate* (a file, a process) until it holds; MeshError after *timeout*.
        Between checks the site's messages are taken in (and wake the wait early)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise MeshError(f"timed out after {timeout:g}s waiting for {what}")
            self._pump(0.02)

    def wait_actor(
        self,
        name: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 20.0,
        what: str = "",
    ) -> dict[str, Any]:
        """Wait until actor *name*'s status record satisfies *predicate*; return it."""

        def check(status: dict[str, Any]) -> bool:
            return any(a["name"] == name and predicate(a) for a in status["actors"])

        status = self.wait_status(check, timeout, what or f"a condition on actor {name!r}")
        return next(a for a in status["actors"] if a["name"] == name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send *sig* to actor *name*'s process (by pid); return that pid."""
        pid = self.pid(name)
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until *name* runs again under a pid other than *old_pid*."""
        return self.wait_actor(
            name,
            lambda a: a["state"] == "running" and a["pid"] not in (None, old_pid),
            timeout,
            f"{name!r} to be restarted",
        )

    def request(self, op: str, **args: Any) -> Any:
        """Send a control request (``start``, ``stop``, ``restart``...); return the result."""
        return self.control.request(op, **args)

    # -- messages ---------------------------------------------------------------

    def _pump(self, timeout: float) -> int:
        """Receive what has arrived (waiting up to *timeout* for the first); count it."""
        sub = self.link.sub
        n = 0
        wait = int(timeout * 1000)
        while sub.poll(wait, zmq.POLLIN):
            wait = 0
            frames = sub.recv_multipart()
            if self.link.is_probe(frames):
                continue
            try:
                self.messages.append(decode_message(frames))
            except WireError:
                continue
            self._received += 1
            n += 1
        return n

    def mark(self) -> int:
        """A cursor: ``wait_for(..., after=mark)`` sees only messages received after it."""
        self._pump(0)
        return self._received

    def publish(self, topic: str, payload: Any, sender: str = "test") -> int:
        """Publish one message; return a cursor taken just before it (for ``wait_for``)."""
        cursor = self.mark()
        if sender == "test":
            self.link.publish(topic, payload)
        else:
            link = BrokerLink(
                SocketFactory(self.ctx, keys=self.keys),
                self.site.broker.pub_connect,
                self.site.broker.sub_connect,
                sender,
            )
            link.wait_connected(10.0)
            link.publish(topic, payload)
            link.close()
        return cursor

    def send_frames(self, frames: list[bytes]) -> None:
        """Publish raw frames as they are (malformed traffic for robustness tests)."""
        self.link.pub.send_multipart(frames)

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Any], bool] | None = None,
        timeout: float = 20.0,
        after: int | None = None,
    ) -> Message:
        """The first message on *topic* (a pattern too) whose payload satisfies *predicate*.

        Only messages received after the cursor *after* count (default: from now).
        """
        pattern = parse_pattern(topic)
        start = self.mark() if after is None else after
        deadline = time.monotonic() + timeout
        checked = start
        while True:
            first = self._received - len(self.messages)
            for index in range(max(checked, first), self._received):
                message = self.messages[index - first]
                if pattern.matches(message.topic) and (
                    predicate is None or predicate(message.envelope.payload)
                ):
                    return message
            checked = self._received
            left = deadline - time.monotonic()
            if left <= 0:
                raise MeshError(
                    f"no message on {topic!r} matching the predicate within "
                    f"{timeout:g}s\nsupervisor log:\n{self.log_tail()}"
                )
            self._pump(min(left, 0.1))

    def collect(
        self, topic: str, count: int, timeout: float = 20.0, after: int | None = None
    ) -> list[Message]:
        """The next *count* messages on *topic* (a pattern too)."""
        out: list[Message] = []
        cursor = self.mark() if after is None else after

        def take(payload: Any) -> bool:
            return True

        while len(out) < count:
            message = self.wait_for(topic, take, timeout, after=cursor)
            out.append(message)
            first = self._received - len(self.messages)
            cursor = first + self._index_of(message) + 1
        return out

    def _index_of(self, message: Message) -> int:
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index] is message:
                return index
        raise MeshError("message fell out of the buffer")

    # -- shutdown and leak checks ----------------------------------------------------

    def faults_report(self) -> list[Any]:
        """The detection report of this site's faults (:mod:`supervisor.core.detection`)."""
        from supervisor.core.detection import detect  # noqa: PLC0415 - the tools' side

        return detect(self.control.faults(), self.control.status())

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the supervisor's output."""
        self._log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def kill_supervisor(self, sig: int = signal.SIGKILL) -> None:
        """Send *sig* to the supervisor process itself (by pid)."""
        self.status()  # remember every pid before the supervisor goes
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            self._remember(child.pid)
        self.supervisor_killed = sig == signal.SIGKILL
        os.kill(self.proc.pid, sig)

    def close(self, timeout: float = 30.0) -> list[str]:
        """Shut the site down; return what was left behind (and end it by pid)."""
        problems: list[str] = []
        if self.proc.poll() is None:
            with contextlib.suppress(ControlTimeout, MeshError):
                self.status(timeout=5.0)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"supervisor pid {self.proc.pid} ignored SIGTERM for {timeout:g}s")
                self.proc.kill()
                self.proc.wait()
        self.link.close(linger_ms=0)
        self.control.close()
        self.ctx.term()
        self._log_file.close()
        problems += end_processes(self.seen.values(), timeout=5.0)
        sockets = [p for p in self.root.rglob("*.sock")]
        if self.supervisor_killed:
            control = Path(self.site.supervisor.control.removeprefix("ipc://"))
            sockets = [p for p in sockets if p != control]
        problems += [f"socket file left behind: {p}" for p in sockets]
        return problems


def wait_gone(processes: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to *timeout* s for *processes* to end; return those still running.

    A zombie counts as ended: it has exited, and only its new parent can reap
    it (an orphan's parent is init, which may reap it late).
    """
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if _running(p)]
    while alive:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _, alive = psutil.wait_procs(alive, timeout=min(left, 0.05))
        alive = [p for p in alive if _running(p)]
    return alive


def end_processes(processes: Iterable[psutil.Process], timeout: float) -> list[str]:
    """Wait for *processes* to end; kill survivors by pid and describe them."""
    alive = wait_gone(processes, timeout)
    problems = []
    for proc in alive:
        try:
            problems.append(f"process left running: pid {proc.pid} {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=5.0)
    return problems


def _running(proc: psutil.Process) -> bool:
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class MeshFactory:
    """Starts meshes for one test (the ``mesh`` fixture) and cleans up after it."""

    def __init__(self, python_path: Iterable[Path] = ()) -> None:
        self.python_path = [Path(p) for p in python_path]
        self.meshes: list[Mesh] = []

    def start(
        self,
        config: Mapping[str, Any] | str,
        *,
        wait: bool = True,
        timeout: float = 30.0,
        subscribe: Iterable[str] = ("*",),
        run_dir: Path | None = None,
    ) -> Mesh:
        """Start a site from a config dict or TOML text; wait until every actor runs.

        The test's own link subscribes to *subscribe* (every topic by default);
        benchmarks narrow it so that the test process is not a third subscriber
        of the traffic it measures. *run_dir* puts the run folder somewhere of
        the test's choosing (a small filesystem, say; keep its path short).
        """
        data = tomllib.loads(config) if isinstance(config, str) else dict(config)
        # /tmp, not pytest's deep tmp_path: Unix socket paths are limited to 107 bytes.
        root = Path(tempfile.mkdtemp(prefix="enlil-"))
        data = _merge(_DEFAULTS, data)
        site = dict(data.get("site", {}))
        site.setdefault("name", "test")
        site["run_dir"] = str(run_dir or root / "run")
        site["python_path"] = [
            str(p) for p in [*self.python_path, *map(Path, site.get("python_path", []))]
        ]
        data["site"] = site
        path = root / "site.toml"
        path.write_text(tomli_w.dumps(data))
        mesh = Mesh(root, path, subscribe)
        self.meshes.append(mesh)
        if wait:
            mesh.wait_ready(timeout)
        return mesh

    def close(self) -> list[str]:
        """Close every mesh; return the problems found (processes or sockets left)."""
        problems: list[str] = []
        for mesh in self.meshes:
            problems += mesh.close()
            if not problems:
                shutil.rmtree(mesh.root, ignore_errors=True)
        self.meshes.clear()
        return problems
