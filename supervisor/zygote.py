"""The zygote: a pre-imported process that forks actor processes in milliseconds (shell).

A fresh Python process needs ~140 ms and ~17 MiB of private memory before
an actor is ready; a fork of a parent that already imported zmq, msgpack,
structlog and the enlil runtime needs a few ms and shares most of its pages.
So the supervisor starts one zygote (``python -m supervisor.zygote``) and asks
it for each actor process:

* the zygote holds no ZeroMQ context, no thread and no OpenTelemetry SDK, so
  a fork is safe; it imports no actor module either: the child imports the
  actor's own module after the fork, so code edited on disk is picked up by
  a restart;
* it double-forks: the intermediate process reports the actor's pid and exits
  at once, so the actor is re-parented to the supervisor, which is a child
  subreaper (``PR_SET_CHILD_SUBREAPER``). The supervisor is then the actor's
  real parent: it waits for it, watches it through a pidfd, and the actor's
  parent-death signal is tied to the supervisor, as with a plain spawn;
* requests and replies are lines on two pipes: ``NAME\\n`` in, ``PID\\n`` (or
  ``-1 REASON\\n``) out.
"""

from __future__ import annotations

import ctypes
import gc
import os
import select
import subprocess
import sys
import traceback
from pathlib import Path

# Pre-import everything an actor process needs, so that forks share it.
import msgpack  # noqa: F401
import psutil  # noqa: F401
import structlog  # noqa: F401
import tomli_w  # noqa: F401
import zmq  # noqa: F401

import actors.__main__
import actors.runtime
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
    """The supervisor's handle on its zygote process."""

    def __init__(self, config_path: str, timeout: float = 10.0) -> None:
        become_subreaper()
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        env = dict(os.environ)
        env[PARENT_ENV] = str(os.getpid())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor.zygote", str(req_r), str(resp_w), config_path],
            pass_fds=(req_r, resp_w),
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(req_r)
        os.close(resp_w)
        self.timeout = timeout
        self._buffer = b""

    @property
    def pid(self) -> int:
        """The zygote's own pid."""
        return self.proc.pid

    def spawn(self, name: str) -> int:
        """Fork actor *name*; return its pid (our child). Raises ZygoteError."""
        if self.proc.poll() is not None:
            raise ZygoteError(f"the zygote exited with {self.proc.returncode}")
        try:
            os.write(self._req_w, name.encode() + b"\n")
        except BrokenPipeError:
            raise ZygoteError("the zygote is gone") from None
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._resp_r], [], [], self.timeout)
            if not ready:
                raise ZygoteError(f"no answer from the zygote within {self.timeout:g}s")
            chunk = os.read(self._resp_r, 4096)
            if not chunk:
                raise ZygoteError("the zygote closed its pipe")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        pid_text, _, reason = line.decode().partition(" ")
        pid = int(pid_text)
        if pid < 0:
            raise ZygoteError(f"the zygote could not fork {name!r}: {reason}")
        return pid

    def close(self) -> None:
        """End the zygote (it exits when its request pipe closes)."""
        os.close(self._req_w)
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._resp_r)


def _actor_child(name: str, config_path: str, supervisor: int, fds: tuple[int, ...]) -> None:
    """In the forked grandchild: wait to be adopted by the supervisor, then run the actor."""
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
            # Readable once the intermediate process has exited, after re-parenting.
            select.select([pidfd], [], [], 10.0)
            os.close(pidfd)
    code = 1
    try:
        die_with_parent()  # exits if the supervisor is already gone
        code = actors.__main__.main([name, "--config", config_path])
    except SystemExit as exc:  # an actor may end its process with sys.exit(), as in a plain one
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # noqa: BLE001 - os._exit below skips the usual report: print it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(req_fd: int, resp_fd: int, config_path: str) -> int:
    """The zygote's loop: one fork per request line, until the pipe closes."""
    die_with_parent()
    supervisor = os.getppid()
    gc.collect()
    gc.freeze()  # keep the pre-imported objects out of the collector: fewer copied pages
    reader = os.fdopen(req_fd, "rb", buffering=0)
    pending = b""
    while True:
        chunk = reader.read(4096)
        if not chunk:
            return 0
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            name = line.decode()
            try:
                middle = os.fork()
            except OSError as exc:
                os.write(resp_fd, f"-1 {exc}\n".encode())
                continue
            if middle == 0:
                try:
                    actor = os.fork()
                    if actor == 0:
                        _actor_child(name, config_path, supervisor, (req_fd, resp_fd))
                    os.write(resp_fd, f"{actor}\n".encode())
                except OSError as exc:
                    os.write(resp_fd, f"-1 {exc}\n".encode())
                finally:
                    os._exit(0)
            os.waitpid(middle, 0)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2]), str(Path(sys.argv[3]))))
