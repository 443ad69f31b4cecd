"""The web view as a plugin: its server runs in a process of its own (shell).

:class:`WebPlugin` starts ``python -m supervisor web --config SITE
--token-stdin`` when ``[web] listen`` is set, hands it the token on its
standard input (never in argv or the environment), writes it to ``[web]
token_file`` (owner-only, for tools and scripts), and starts it again
if it ends (after 1 s, doubling to 30 s); the view sees the site only as a
tool does. It dies with the supervisor (``ENLIL_SUPERVISOR_PID``) and is
stopped by pid when the site stops.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

from actors.process import PARENT_ENV
from supervisor.plugins import PluginContext

#: Seconds the view may take to stop before it is killed.
STOP_WAIT: Final = 5.0
_BACKOFF: Final = (1.0, 30.0)


def write_token(path: Path, token: str) -> None:
    """Write *token* to *path*, owner-only (0600 whatever the umask, replaced at once)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(token + "\n")
    os.replace(tmp, path)


class WebPlugin:
    """Runs and watches the web view's process."""

    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx
        self.token = ctx.site.web.token or secrets.token_urlsafe(24)
        write_token(ctx.site.web.token_file, self.token)
        self._closing = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._start()
        self._watch = threading.Thread(target=self._watcher, name="enlil-web", daemon=True)
        self._watch.start()

    @property
    def pid(self) -> int | None:
        """The view's process, while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _start(self) -> None:
        site = self.ctx.site
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        argv = [sys.executable, "-m", "supervisor", "web", "--config", str(site.path)]
        argv += ["--key", "web"]  # its own identity on a secured site (role admin by default)
        with self._lock:
            if self._closing.is_set():
                return
            proc = subprocess.Popen([*argv, "--token-stdin"], stdin=subprocess.PIPE, env=env)
            assert proc.stdin is not None
            proc.stdin.write(self.token.encode() + b"\n")
            proc.stdin.close()
            self._proc = proc
        self.ctx.log.info("web view started", pid=proc.pid, listen=site.web.listen)

    def _watcher(self) -> None:
        delay = _BACKOFF[0]
        while not self._closing.is_set():
            proc = self._proc
            if proc is None:
                return
            code = proc.wait()
            if self._closing.is_set():
                return
            self.ctx.log.warning("web view ended; starting it again", code=code, after=delay)
            if self._closing.wait(delay):
                return
            delay = min(delay * 2, _BACKOFF[1])
            self._start()

    def close(self) -> None:
        """Stop the view (SIGTERM, then SIGKILL after :data:`STOP_WAIT` seconds)."""
        with self._lock:
            self._closing.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(OSError):  # a stale token would only mislead
            self.ctx.site.web.token_file.unlink()
        self.ctx.close()
