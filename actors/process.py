"""Process plumbing shared by actors, the broker and the supervisor (shell).

* :func:`die_with_parent`: ask Linux to signal us when the supervisor dies, and
  notice if it already has; together with :func:`parent_alive`, checked in the
  event loops, no child outlives its supervisor, even one killed by SIGKILL.
* :class:`SignalWakeup`: signals become a readable file descriptor, so an event
  loop blocked in ``zmq.Poller.poll`` wakes up at once to handle them.
* :func:`private_files`: what a site's processes create is their owner's alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import resource
import signal
import socket
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import IO, Any

import setproctitle

_PR_SET_PDEATHSIG = 1
PARENT_ENV = "ENLIL_SUPERVISOR_PID"
#: The umask of every process of a site: files 0600, folders and ipc sockets 0700.
PRIVATE_UMASK = 0o077


def private_files() -> None:
    """Make what this process (and every process it starts) creates owner-only.

    Logs hold recorded values, snapshots hold state and inputs, ipc sockets
    accept control requests: none of it is for other local users, whatever
    umask the site was started with. Files that must be private are also
    created with explicit modes; this covers the rest (the ipc socket files
    that libzmq binds, files written by libraries).
    """
    os.umask(PRIVATE_UMASK)


def open_private(path: Path, mode: str = "w") -> IO[Any]:
    """Open *path* for writing (``"w"``, ``"wb"``, ``"a"``, ``"ab"``), created owner-only
    (0600) whatever the umask; an existing file keeps its mode."""
    return open(path, mode, opener=_private_opener)


def make_private_folder(path: Path) -> None:
    """Make *path* and every missing folder above it, each owner-only (0700) whatever the
    umask; folders that exist are left as they are."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_CLOEXEC, 0o600)


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> int | None:
    """If started by a supervisor, have *sig* sent to us when it dies; return its pid.

    The supervisor is *parent*, or else named by ``ENLIL_SUPERVISOR_PID``;
    returns None when there is none. Exits at once if the supervisor is
    already gone (the window between fork and this call).
    """
    if parent is None:
        text = os.environ.get(PARENT_ENV)
        if not text:
            return None
        parent = int(text)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(0)
    return parent


class AlreadyRunning(RuntimeError):
    """Another process runs as this actor of this site (its pid, when known, in the text)."""


def claim_name(run_dir: Path, name: str) -> int | None:
    """Hold the lock that makes this process *the* actor *name* of the site in *run_dir*.

    Two processes under one actor name would publish as one sender with the
    same sequence numbers, and receivers would drop one's messages as
    duplicates: the second is refused (AlreadyRunning). The lock is the
    kernel's (``flock``), so it goes with the process, even one killed with
    SIGKILL. Returns the lock's descriptor (keep it open), or None when the
    run folder cannot be written (the actor then runs unguarded).
    """
    path = run_dir / "actors" / f"{name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return pid_lock(path)
    except Locked as exc:
        raise AlreadyRunning(
            f"actor {name!r} is already running (pid {exc.holder}); stop that copy first "
            f"(python -m supervisor ctl stop {name})"
        ) from None
    except OSError:
        return None


class Locked(RuntimeError):
    """Another process holds a :func:`pid_lock`; ``holder`` is the pid it wrote there."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"held by pid {holder}")
        self.holder = holder


def pid_lock(path: Path) -> int:
    """Lock *path* (an owner-only file) for this process and write its pid there; return
    the descriptor to keep open. Locked names the holder; OSError when it cannot be made.

    The lock is the kernel's (``flock``): it goes with the process, even one killed
    with SIGKILL, and a file left behind is taken over at once.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise Locked(holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def hold_memory(max_rss_mb: float) -> int:
    """Have the kernel refuse this process private memory past *max_rss_mb* of resident
    memory from now on (``RLIMIT_DATA``: what it maps privately, heap and large
    allocations, counted when reserved); return the limit in bytes.

    An allocation past it fails at once (``MemoryError``), where a sampled check
    sees the excess only after the fact: the resident size can then overshoot
    the limit by whatever one step allocates.
    """
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmData", "VmRSS"):
                fields[key] = int(value.split()[0]) * 1024
    room = max(0, int(max_rss_mb * 1024 * 1024) - fields.get("VmRSS", 0))
    limit = fields.get("VmData", 0) + room
    resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
    return limit


def set_title(site: str, role: str) -> None:
    """Show ``enlil SITE/ROLE`` for this process in ``ps`` and ``top`` (not the interpreter's
    command line, which for a forked actor names only the zygote)."""
    setproctitle.setproctitle(f"enlil {site}/{role}")


def remove_ipc_file(endpoint: str) -> None:
    """Remove the socket file of an ``ipc://`` endpoint this process bound and has closed."""
    if endpoint.startswith("ipc://") and not endpoint.startswith("ipc://@"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(endpoint.removeprefix("ipc://"))


def parent_alive(parent: int | None) -> bool:
    """Whether our supervisor (if any) is still our parent."""
    return parent is None or os.getppid() == parent


class SignalWakeup:
    """Turn *signals* into flags plus a readable fd for event loops to poll.

    ``received`` lists the signals seen since the last :meth:`drain`.
    """

    def __init__(self, signals: Iterable[int]) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self.received: list[int] = []
        self._old_fd = signal.set_wakeup_fd(self._w.fileno(), warn_on_full_buffer=False)
        self._old = {sig: signal.signal(sig, self._handle) for sig in signals}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    def fileno(self) -> int:
        """The fd to poll for readability."""
        return self._r.fileno()

    def drain(self) -> list[int]:
        """Empty the wakeup pipe; return and clear the signals received."""
        try:
            while self._r.recv(4096):
                pass
        except BlockingIOError:
            pass
        got, self.received = self.received, []
        return got

    def close(self) -> None:
        """Restore the previous handlers and close the pipe."""
        for sig, old in self._old.items():
            signal.signal(sig, old)
        signal.set_wakeup_fd(self._old_fd)
        self._r.close()
        self._w.close()
