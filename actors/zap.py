"""The ZAP handler of a secured process: which CURVE keys may connect, and as whom (shell).

libzmq asks the ZAP endpoint (``inproc://zeromq.zap.01``) of the server's own
context about every CURVE handshake; :class:`ZapHandler` answers from the
site's key folder: a known key passes with its identity as the connection's
User-Id (which every message of that connection then carries), anything else
is refused (status 400) and counted. The folder is looked at on each attempt
(its listing is cached until it changes), so an added key works at once and a
revoked one is refused at its next connection.

Start the handler before binding the server sockets: until it is bound libzmq
lets CURVE clients in without asking.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import zmq
from zmq.utils import z85

from actors.keys import Identity, KeyFolder, KeyProblem

ZAP_ENDPOINT: Final = "inproc://zeromq.zap.01"
#: The ZAP domain of every server socket of a site.
DOMAIN: Final = b"enlil"
_VERSION: Final = b"1.0"
_MIN_FRAMES: Final = 6
_CURVE_KEY_BYTES: Final = 32
#: Refusals logged one by one, at most (the rest are counted).
_LOGGED: Final = 20
_POLL_MS: Final = 100


class ZapHandler(threading.Thread):
    """Answers the ZAP requests of one context from a :class:`KeyFolder`."""

    def __init__(self, ctx: zmq.Context[Any], keys: KeyFolder, log: Any, *, who: str) -> None:
        super().__init__(name=f"{who}-zap", daemon=True)
        self.ctx = ctx
        self.keys = keys
        self.log = log
        self.bound = threading.Event()
        self._stopping = threading.Event()
        #: Connections let in, and refused (no CURVE, or a key not in the folder).
        self.accepted = 0
        self.refused = 0

    def start_and_wait(self, timeout: float = 10.0) -> None:
        """Start the thread and wait until its endpoint is bound (RuntimeError if not)."""
        self.start()
        if not self.bound.wait(timeout):
            raise RuntimeError("the ZAP handler did not start")

    def stop(self) -> None:
        """End the thread (before the context is terminated)."""
        self._stopping.set()
        if self.is_alive():
            self.join(5.0)

    def run(self) -> None:
        sock = self.ctx.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(ZAP_ENDPOINT)
        self.bound.set()
        try:
            while not self._stopping.is_set():
                if not sock.poll(_POLL_MS):
                    continue
                sock.send_multipart(self.answer(sock.recv_multipart()))
        except zmq.ContextTerminated:
            pass
        finally:
            sock.close(linger=0)

    def answer(self, frames: list[bytes]) -> list[bytes]:
        """The reply to one ZAP request (never raises: a bad request is refused)."""
        request_id = frames[1] if len(frames) > 1 else b""
        address = frames[3] if len(frames) > 3 else b""  # noqa: PLR2004 - the peer's address
        found = self._identify(frames)
        if isinstance(found, str):
            return self._refuse(request_id, address, found)
        self.accepted += 1
        return [_VERSION, request_id, b"200", b"OK", found.user_id.encode(), b""]

    def _identify(self, frames: list[bytes]) -> Identity | str:
        """The identity of the key a ZAP request carries, or why it is refused."""
        if len(frames) < _MIN_FRAMES or frames[0] != _VERSION:
            return "malformed ZAP request"
        mechanism = frames[5]
        if mechanism != b"CURVE" or len(frames) < _MIN_FRAMES + 1:
            return f"mechanism {mechanism[:20]!r}, not CURVE"
        if len(frames[6]) != _CURVE_KEY_BYTES:
            return "malformed CURVE key"
        public = z85.encode(frames[6])
        try:
            identity = self.keys.keyring().get(public)
        except (OSError, KeyProblem) as exc:
            return f"key folder unreadable: {exc}"
        return identity if identity is not None else f"unknown or revoked key {public.decode()}"

    def _refuse(self, request_id: bytes, address: bytes, reason: str) -> list[bytes]:
        self.refused += 1
        if self.refused <= _LOGGED:
            self.log.warning(
                "refused a connection",
                address=address.decode(errors="replace"),
                reason=reason,
                refused=self.refused,
            )
        return [_VERSION, request_id, b"400", reason.encode()[:255], b"", b""]
