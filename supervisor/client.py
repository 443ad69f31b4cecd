"""A client for the supervisor's control endpoint, for tools and tests (shell).

>>> with ControlClient("ipc:///srv/site/run/control.sock") as ctl:  # doctest: +SKIP
...     ctl.status()["actors"]
...     ctl.restart("thermostat")
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import zmq

from actors.sockets import SocketFactory
from supervisor.core.protocol import ProtocolError, decode_reply, encode_request


class ControlError(RuntimeError):
    """The supervisor answered with an error; ``kind`` is its error kind."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class ControlTimeout(TimeoutError):
    """No reply within the timeout (is the site running?)."""


class ControlClient:
    """Sends requests to one supervisor and waits for the matching replies."""

    def __init__(
        self,
        endpoint: str,
        timeout: float = 15.0,
        ctx: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._sockets = SocketFactory(ctx)
        self._sock = self._sockets.control_client(endpoint)
        self._ids = itertools.count(1)

    def request(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        """Send one request and return its result; raise ControlError or ControlTimeout."""
        req_id = next(self._ids)
        self._sock.send_multipart([b"", encode_request(req_id, op, **args)])
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                raise ControlTimeout(
                    f"no reply to {op!r} from {self.endpoint} within {limit:g}s "
                    "(is the site running?)"
                )
            frames = self._sock.recv_multipart()
            try:
                reply = decode_reply(frames[-1])
            except ProtocolError:
                continue
            if reply.id != req_id:
                continue  # a late reply to an earlier request that timed out
            if not reply.ok:
                raise ControlError(reply.error, reply.message)
            return reply.result

    def status(self) -> dict[str, Any]:
        """The site's status: supervisor, broker and every actor."""
        result: dict[str, Any] = self.request("status")
        return result

    def start(self, name: str) -> dict[str, Any]:
        """Start a stopped actor; returns its status once ready."""
        result: dict[str, Any] = self.request("start", name=name)
        return result

    def stop(self, name: str) -> dict[str, Any]:
        """Stop an actor (it is not restarted); returns its status once exited."""
        result: dict[str, Any] = self.request("stop", name=name)
        return result

    def restart(self, name: str) -> dict[str, Any]:
        """Restart an actor; returns its status once the new process is ready."""
        result: dict[str, Any] = self.request("restart", name=name)
        return result

    def shutdown(self) -> None:
        """Ask the supervisor to stop the whole site."""
        self.request("shutdown")

    def close(self) -> None:
        """Close the socket (and the context, if this client made it)."""
        self._sock.close()
        self._sockets.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
