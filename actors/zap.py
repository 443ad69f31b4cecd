"""The ZAP handler of a secured process: which CURVE keys may connect, and as whom (shell).

libzmq asks the ZAP endpoint (``inproc://zeromq.zap.01``) of the server's own
context about every CURVE handshake. :class:`ZapHandler` is pyzmq's own
authenticator (:class:`zmq.auth.thread.ThreadAuthenticator`, its thread and
its ZAP protocol) with a CURVE callback that answers from the site's key
folder: a known key passes with its identity as the connection's User-Id
(which every message of that connection then carries), anything else is
refused (status 400) and counted. The folder is looked at on each attempt (its
listing is cached until it changes), so an added key works at once and a
revoked one is refused at its next connection. (A handler of our own did the
same in 100 lines until #30: a handshake is rare, its cost is the key folder's
listing either way, so nothing measured argued for keeping it.)

Start the handler before binding the server sockets: until it is bound libzmq
lets CURVE clients in without asking.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from actors.core.access import HOST
from actors.keys import KeyFolder, KeyProblem

ZAP_ENDPOINT: Final = "inproc://zeromq.zap.01"
#: The ZAP domain of every server socket of a site.
DOMAIN: Final = b"enlil"
#: The ZAP domain of a host's link port: only host keys pass.
LINK_DOMAIN: Final = b"enlil-link"
#: Refusals logged one by one, at most (the rest are counted).
_LOGGED: Final = 20


class ZapHandler(ThreadAuthenticator):
    """Answers the ZAP requests of one context from a :class:`KeyFolder`."""

    def __init__(self, ctx: zmq.Context[Any], keys: KeyFolder, log: Any, *, who: str) -> None:
        # pyzmq's own lines (debug) go to the standard logger; ours go to *log*.
        super().__init__(ctx, log=logging.getLogger(f"enlil.{who}.zap"))
        self.keys = keys
        self.events = log
        #: Connections let in, and refused (a key not in the folder, or the folder
        #: unreadable).
        self.accepted = 0
        self.refused = 0
        self.configure_curve_callback(DOMAIN.decode(), credentials_provider=self)
        self.configure_curve_callback(LINK_DOMAIN.decode(), credentials_provider=self)

    def start_and_wait(self, timeout: float = 10.0) -> None:
        """Start the thread; return once its endpoint is bound (RuntimeError if not)."""
        del timeout  # pyzmq waits up to 10 s itself
        self.start()

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's question for each CURVE handshake: may *key* (z85) connect?"""
        try:
            identity = self.keys.keyring().get(key)
            link = domain == LINK_DOMAIN.decode()  # a host's link: host keys only
            known = identity is not None and (not link or identity.kind == HOST)
            reason = "" if known else f"unknown or revoked key {key.decode()} ({domain})"
        except (OSError, KeyProblem) as exc:
            known, reason = False, f"key folder unreadable: {exc}"
        if known:
            self.accepted += 1
            return True
        self.refused += 1
        if self.refused <= _LOGGED:
            self.events.warning("refused a connection", reason=reason, refused=self.refused)
        return False

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The User-Id of a key let in: its identity's (``actor:NAME``, ``tool:NAME``)."""
        try:
            identity = self.keys.keyring().get(z85.encode(client_public_key))
        except (OSError, KeyProblem):
            identity = None
        return identity.user_id if identity is not None else ""
