"""Telling the engine that runs the supervisor how it is: systemd's notify protocol and a
ready file (shell).

Under systemd (``Type=notify``), ``$NOTIFY_SOCKET`` names a datagram socket: the
supervisor sends ``READY=1`` once every actor that starts with the site runs,
``WATCHDOG=1`` from its loop every half of ``$WATCHDOG_USEC`` (so a stuck loop
is restarted by systemd), ``STATUS=`` lines, and ``STOPPING=1`` when it shuts
down. Elsewhere (a container, Kubernetes) the same moment writes
``<run_dir>/ready``, owner-only, removed at shutdown: what a readiness probe
tests. The protocol is a few lines; no library is needed for it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Final

#: The file that exists while the site is ready (in the host's run folder).
READY_FILE: Final = "ready"


class Notifier:
    """What the supervisor tells systemd (if it runs under it) and the ready file."""

    def __init__(self, run_dir: Path) -> None:
        self.ready_file = run_dir / READY_FILE
        self._address = os.environ.get("NOTIFY_SOCKET", "")
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        watched = usec.isdigit() and (not pid or pid == str(os.getpid()))
        #: Seconds between two watchdog pings (None: no watchdog asked for).
        self.watchdog = int(usec) / 2e6 if watched and int(usec) > 0 else None
        self.ready = False

    def _send(self, text: str) -> None:
        if not self._address:
            return
        address = self._address
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.connect(address)
                sock.sendall(text.encode())
            except OSError:
                return  # systemd gone or the socket refused: nothing to tell

    def site_ready(self, actors: int) -> None:
        """Every actor that starts with the site runs: tell it, once."""
        if self.ready:
            return
        self.ready = True
        fd = os.open(self.ready_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        self._send(f"READY=1\nSTATUS=running, {actors} actors\nMAINPID={os.getpid()}")

    def ping(self) -> None:
        """The loop turns: the watchdog's ping."""
        self._send("WATCHDOG=1")

    def stopping(self, reason: str) -> None:
        """The site stops: not ready any more."""
        self.ready_file.unlink(missing_ok=True)
        self._send(f"STOPPING=1\nSTATUS=stopping: {reason[:200]}")
