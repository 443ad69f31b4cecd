"""The zygote: a pre-imported process that forks actor processes in milliseconds (shell).

A fresh Python process needs ~140 ms and ~17 MiB of private memory before
an actor is ready; a fork of a parent that already imported zmq, msgpack,
structlog and the enlil runtime needs a few ms and shares most of its pages.

* The zygote is a fork of the supervisor itself, made before the supervisor
  creates its ZeroMQ context, starts any thread or installs signal handlers,
  and before it imports any actor module: it is ready at once, holds no
  context, no thread and no OpenTelemetry SDK, and every actor module is
  imported fresh by the child after its fork, so code edited on disk is picked
  up by a restart.
* It double-forks: the go-between reports the new process's pid and exits at
  once, so the process is re-parented to the supervisor, a child subreaper
  (``PR_SET_CHILD_SUBREAPER``). The supervisor is then its real parent: it
  waits for it, watches it through a pidfd, and the parent-death signal is
  tied to the supervisor, as with a plain spawn.
* Requests and replies are lines on two pipes (see :func:`serve`); a batch
  of actors is split over two go-betweens that fork in parallel. The broker
  is forked the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import select
import signal
import sys
import traceback

# Pre-import everything an actor process needs, so that forks share it.
import msgpack  # noqa: F401
import psutil  # noqa: F401
import structlog  # noqa: F401
import tomli_w  # noqa: F401
import zmq  # noqa: F401

import actors.__main__
import actors.runtime
import broker.__main__
from actors.process import PARENT_ENV, die_with_parent

_PR_SET_CHILD_SUBREAPER = 36


class ZygoteError(RuntimeError):
    """The zygote did not answer, or could not fork."""


def become_subreaper() -> None:
    """Adopt orphaned descendants (the zygote's grandchildren) as our own children."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


class Zygote:
    """The supervisor's handle on its zygote (a fork of the supervisor; see above)."""

    def __init__(self, config_path: str, timeout: float = 10.0) -> None:
        become_subreaper()
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        supervisor = os.getpid()
        pid = os.fork()
        if pid == 0:  # the zygote
            code = 1
            try:
                os.close(self._req_w)
                os.close(self._resp_r)
                code = serve(req_r, resp_w, config_path, supervisor)
            finally:
                os._exit(code)
        os.close(req_r)
        os.close(resp_w)
        self.pid = pid
        self.timeout = timeout
        self._buffer = b""
        self._closed = False

    def spawn(self, kind: str, name: str = "") -> int:
        """Fork the broker or actor *name*; return its pid (our child). Raises ZygoteError."""
        pid = self.spawn_many([(kind, name)])[0]
        if pid is None:
            raise ZygoteError(f"the zygote could not fork {kind} {name}")
        return pid

    def spawn_many(self, items: list[tuple[str, str]]) -> list[int | None]:
        """Fork each ``(kind, name)``; return their pids (None where a fork failed).

        The batch goes out as up to two request lines, so that two go-betweens
        fork in parallel on two cores. Raises ZygoteError if the zygote fails.
        """
        half = (len(items) + 1) // 2
        batches = [items[:half], items[half:]] if len(items) > 1 else [items]
        request = b"".join(
            f"{i} {' '.join(f'{kind}:{name}' for kind, name in batch)}\n".encode()
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
        return [pid for i in range(len(batches)) for pid in answers[i]]

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
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _child(kind: str, name: str, config_path: str, supervisor: int, fds: tuple[int, ...]) -> None:
    """In the forked grandchild: wait to be adopted by the supervisor, then run."""
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
            code = actors.__main__.main([name, "--config", config_path])
    except SystemExit as exc:  # an actor may end its process with sys.exit(), as in a plain one
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # noqa: BLE001 - os._exit below skips the usual report: print it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(req_fd: int, resp_fd: int, config_path: str, supervisor: int) -> int:
    """The zygote's loop: per request line, a go-between forks each process of the line.

    A request line is ``ID kind:name kind:name ...``; the go-between answers
    ``ID pid pid ...`` (-1 for a failed fork) in one write, and exits.
    """
    die_with_parent(parent=supervisor)
    # Go-betweens are reaped by the kernel: the next line is served without waiting.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    gc.collect()
    gc.freeze()  # keep the pre-imported objects out of the collector: fewer copied pages
    reader = os.fdopen(req_fd, "rb", buffering=0)
    pending = b""
    while True:
        chunk = reader.read(65536)
        if not chunk:
            return 0
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request_id, *items = line.decode().split()
            try:
                middle = os.fork()
            except OSError:
                os.write(resp_fd, f"{request_id} {' '.join(['-1'] * len(items))}\n".encode())
                continue
            if middle == 0:
                pids = []
                try:
                    for item in items:
                        kind, _, name = item.partition(":")
                        try:
                            pid = os.fork()
                        except OSError:
                            pid = -1
                        if pid == 0:
                            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                            _child(kind, name, config_path, supervisor, (req_fd, resp_fd))
                        pids.append(str(pid))
                    os.write(resp_fd, f"{request_id} {' '.join(pids)}\n".encode())
                finally:
                    os._exit(0)
