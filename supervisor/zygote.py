"""The zygote: a pre-imported process that forks actor processes in milliseconds (shell).

A fresh Python process needs ~140 ms and ~17 MiB of private memory before
an actor is ready; a fork of a parent that already imported zmq, msgpack,
structlog and the enlil runtime needs a few ms and shares most of its pages.

* ``python -m supervisor`` launches the zygote first thing (see
  ``supervisor/__main__.py``), so that the zygote's imports run on the other
  core while the supervisor does its own. The zygote holds no ZeroMQ context,
  no thread and no OpenTelemetry SDK, and imports no actor module: each child
  imports its actor's module after the fork, so code edited on disk is picked
  up by a restart.
* It double-forks: a go-between forks the processes of one request, reports
  their pids and exits, so that they are re-parented to the supervisor, a child
  subreaper (``PR_SET_CHILD_SUBREAPER``). The supervisor is then their real
  parent: it waits for them, watches them through pidfds, and their
  parent-death signal is tied to the supervisor, as with a plain spawn.
* Requests are JSON lines ``{"id", "config", "items": [[kind, name, extra args, keys],
  ...]}`` (keys: an actor's own, on a secured site, else null);
  answers are lines ``ID PID PID ...`` (-1 for a failed fork). A batch of
  actors is split over two go-betweens that fork in parallel on two cores.
  The broker is forked the same way.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from typing import Any

# Pre-import everything an actor process needs, so that forks share it.
import msgpack  # noqa: F401
import psutil  # noqa: F401
import structlog
import tomli_w  # noqa: F401
import zmq  # noqa: F401

import actors
import actors.__main__
import actors.runtime
import broker.__main__
from actors.keys import handed_keys
from actors.process import PARENT_ENV, die_with_parent, set_title
from actors.site.hosts import HOST_ENV

_PR_SET_CHILD_SUBREAPER = 36
_M_ARENA_MAX = -8


class ZygoteError(RuntimeError):
    """The zygote did not answer, or could not fork."""


def become_subreaper() -> None:
    """Adopt orphaned descendants (the zygote's grandchildren) as our own children."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


class Zygote:
    """The supervisor's handle on its zygote process."""

    def __init__(self, timeout: float = 10.0) -> None:
        become_subreaper()
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        env = dict(os.environ)
        env[PARENT_ENV] = str(os.getpid())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor.zygote", str(req_r), str(resp_w)],
            pass_fds=(req_r, resp_w),
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(req_r)
        os.close(resp_w)
        self.pid = self.proc.pid
        self.timeout = timeout
        self.config_path = ""
        #: Modules the zygote imports before its next fork (e.g. tracing, when the site uses it).
        self.preload: list[str] = []
        self._buffer = b""
        self._closed = False
        self._ids = 0

    def spawn(self, kind: str, name: str = "") -> int:
        """Fork the broker or actor *name*; return its pid (our child). Raises ZygoteError."""
        pid = self.spawn_many([(kind, name, [], None)])[0]
        if pid is None:
            raise ZygoteError(f"the zygote could not fork {kind} {name}")
        return pid

    def spawn_many(
        self, items: list[tuple[str, str, list[str], dict[str, str] | None]]
    ) -> list[int | None]:
        """Fork each ``(kind, name, extra arguments, handed keys)``; return their pids (None
        where a fork failed). The keys (an actor's own, on a secured site) go through the
        zygote's private pipe, never argv or the environment.

        The batch goes out as up to two request lines, so that two go-betweens
        fork in parallel on two cores. Raises ZygoteError if the zygote fails.
        """
        half = (len(items) + 1) // 2
        batches = [items[:half], items[half:]] if len(items) > 1 else [items]
        base = self._ids
        self._ids += len(batches)
        request = b"".join(
            json.dumps(
                {
                    "id": base + i,
                    "config": self.config_path,
                    "host": os.environ.get(HOST_ENV, ""),
                    "items": batch,
                    "preload": self.preload,
                }
            ).encode()
            + b"\n"
            for i, batch in enumerate(batches)
        )
        try:
            os.write(self._req_w, request)
        except BrokenPipeError:
            raise ZygoteError("the zygote is gone") from None
        answers: dict[int, list[int | None]] = {}
        while len(answers) < len(batches):
            answer = self._read_line().split()
            answers[int(answer[0])] = [int(p) if int(p) > 0 else None for p in answer[1:]]
        return [pid for i in range(len(batches)) for pid in answers[base + i]]

    def _read_line(self) -> str:
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._resp_r], [], [], self.timeout)
            if not ready:
                raise ZygoteError(f"no answer from the zygote within {self.timeout:g}s")
            chunk = os.read(self._resp_r, 65536)
            if not chunk:
                raise ZygoteError("the zygote closed its pipe")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        """End the zygote (it exits when its request pipe closes) and reap it."""
        if self._closed:
            return
        self._closed = True
        os.close(self._req_w)
        os.close(self._resp_r)
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _child(item: list[Any], config_path: str, supervisor: int, fds: tuple[int, ...]) -> None:
    """In the forked grandchild: wait to be adopted by the supervisor, then run *item*."""
    kind, name, extra, handed = item
    for fd in fds:
        os.close(fd)
    os.setsid()
    parent = os.getppid()
    if parent != supervisor:
        try:
            pidfd = os.pidfd_open(parent)
        except ProcessLookupError:
            pidfd = -1
        if pidfd >= 0:
            # Readable once the go-between has exited, which is after re-parenting.
            select.select([pidfd], [], [], 10.0)
            os.close(pidfd)
    os.environ[PARENT_ENV] = str(supervisor)
    code = 1
    try:
        die_with_parent()  # exits if the supervisor is already gone
        if kind == "broker":
            code = broker.__main__.main(["--config", config_path])
        else:
            keys = handed_keys(handed) if handed is not None else None
            code = actors.__main__.run_supervised(name, config_path, extra, keys)
    except SystemExit as exc:  # an actor may end its process with sys.exit(), as in a plain one
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # noqa: BLE001 - os._exit below skips the usual report: print it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class _WarmUp(actors.Actor):
    """Runs the engine's hot code in the zygote (see :func:`_warm_up`)."""

    value = actors.Input("warm.in", int, doc="A number")
    out = actors.Output("warm.out", int, doc="The number")
    count = actors.State(0, doc="Steps")

    def step(self) -> None:
        """Passes the number on."""
        self.count += 1
        self.out = self.value


def _warm_up() -> None:
    """Run the engine's hot path here, before any fork.

    Python specialises bytecode as it runs it (writing into the code objects),
    so code first run in a child copies the pages that hold it: run here once,
    the engine's code stays shared by every child.
    """
    from actors.core.engine import ActorEngine  # noqa: PLC0415
    from actors.core.engine_types import EngineConfig  # noqa: PLC0415
    from actors.core.wire import encode_envelope  # noqa: PLC0415
    from actors.site.parse import actor_record  # noqa: PLC0415

    engine = ActorEngine(
        _WarmUp,
        EngineConfig(
            actor_record("warm"), params={}, class_path="", recorder=100, recorder_bytes=1 << 20
        ),
        wall_ns=time.time_ns,
        monotonic=time.monotonic,
        log=structlog.get_logger(),
    )
    engine.start()
    for seq in range(1, 200):
        engine.receive([b"warm.in", encode_envelope("z", seq, 0, seq)])
    engine.statistics()
    engine.keeper.memory()
    # What every actor process says to the supervisor, encoded and decoded once here.
    from actors.core.control import (  # noqa: PLC0415
        Heartbeat,
        Op,
        Reply,
        Request,
        decode_request,
    )
    from actors.core.requests import ReplyCache  # noqa: PLC0415

    replies: ReplyCache[Reply] = ReplyCache(4)
    for rid in range(8):
        request = decode_request(Request(Op.SNAPSHOT, rid, pid=1).encode())
        assert isinstance(request, Request)
        replies.put(request.id, Reply(request.op, request.id, True, result={"path": None}))
        Heartbeat(state="running", pid=1, stats={"steps": rid}).encode()


def _warm_up_config(config_path: str) -> None:
    """Read the site's config here as each child will (same reason as :func:`_warm_up`)."""
    from actors.settings import RuntimeConfig  # noqa: PLC0415
    from actors.site import load_site  # noqa: PLC0415

    try:
        for _ in range(3):
            site = load_site(config_path)
            for name in list(site.actors)[:20]:
                RuntimeConfig.from_site(site, name).engine_config()
    except Exception:  # noqa: BLE001 - only a warm-up: the child reports config errors itself
        return
    set_title(site.site.name, "zygote")


def _parse_for_children(config_path: str) -> None:
    """Have the site parsed here, as it is now, before the children fork: each reads it
    from the memory it shares with this process (see ``actors.site.load``) instead of
    parsing it again into pages of its own. Re-parsed only when the file changed."""
    from actors.site import load_site  # noqa: PLC0415
    from actors.site.load import last_parse  # noqa: PLC0415

    before = last_parse()
    try:
        site = load_site(config_path)
    except Exception:  # noqa: BLE001 - the child reports config errors itself
        return
    if site is not before:
        gc.collect()
        gc.freeze()  # the parsed site as well: the children's collector never walks it


def serve(req_fd: int, resp_fd: int) -> int:
    """The zygote's loop: per request line, a go-between forks each process of the line."""
    supervisor = die_with_parent()
    if supervisor is None:
        return 2  # only a supervisor starts a zygote
    set_title("?", "zygote")  # the site's name comes with the first request
    # Go-betweens are reaped by the kernel: the next line is served without waiting.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    _warm_up()
    gc.collect()
    gc.freeze()  # keep the pre-imported objects out of the collector: fewer copied pages
    libc = ctypes.CDLL(None)
    libc.malloc_trim(0)  # hand freed heap back, so children's allocations do not dirty it
    libc.mallopt(_M_ARENA_MAX, 1)  # no per-thread malloc arena for ZeroMQ's I/O thread
    reader = os.fdopen(req_fd, "rb", buffering=0)
    pending = b""
    warmed: set[str] = set()
    while True:
        chunk = reader.read(65536)
        if not chunk:
            return 0
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            items = request["items"]
            # The host the supervisor runs (--host, parsed after this process started):
            # the site is read as that host's, here and in every child.
            os.environ[HOST_ENV] = request.get("host", "")
            if request["config"] not in warmed:
                warmed.add(request["config"])
                _warm_up_config(request["config"])
            _parse_for_children(request["config"])
            for module in request.get("preload", []):
                if module not in sys.modules:
                    importlib.import_module(module)  # shared by every later fork
            try:
                middle = os.fork()
            except OSError:
                os.write(resp_fd, f"{request['id']} {' '.join(['-1'] * len(items))}\n".encode())
                continue
            if middle == 0:
                pids = []
                try:
                    for item in items:
                        try:
                            pid = os.fork()
                        except OSError:
                            pid = -1
                        if pid == 0:
                            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                            _child(item, request["config"], supervisor, (req_fd, resp_fd))
                        pids.append(str(pid))
                    os.write(resp_fd, f"{request['id']} {' '.join(pids)}\n".encode())
                finally:
                    os._exit(0)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
