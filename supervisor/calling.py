"""Calling a site's services from outside the site: tools, tests, other programs (shell).

>>> with ServiceClient.from_site(site) as services:                    # doctest: +SKIP
...     services.call("thermostat.setpoint.get", None, timeout=2.0)
21.5

The same calls the actors make, through the same pure core
(:mod:`actors.core.caller`): the request goes through the broker with a
correlation id, an absolute deadline and an idempotency key, is resent until
answered, and fails at once with ``no_responders`` when the supervisor's
directory lists no server, or with ``server_gone`` when the server leaves it
mid-call. Errors are raised as :class:`~actors.core.calls.CallError`.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Final

import zmq

from actors.core.caller import CallLine, Calls
from actors.core.calls import (
    REPLY_PREFIX,
    SERVICE_PREFIX,
    SYS_SERVICES,
    CallError,
    Forbidden,
    Unavailable,
    decode_directory,
    decode_reply,
)
from actors.core.control import Op
from actors.core.resilience import Fallback, Policy
from actors.core.services import Call
from actors.core.topics import SYS_CONTROL, SYS_RETAINED
from actors.core.wire import WireError, decode_message
from actors.keys import ClientKeys, tool_keys
from actors.link import BrokerLink
from actors.site import SiteConfig
from actors.sockets import SocketFactory
from supervisor.client import ControlClient, ControlError, ControlTimeout, ToolRights

#: Seconds a client waits for the supervisor's directory at least (else the call's timeout).
DIRECTORY_WAIT: Final = 1.0
_ASK_EVERY: Final = 0.25


class ServiceClient:
    """Calls services of one site through its broker; one call at a time."""

    def __init__(  # noqa: PLR0913 - the endpoints, and four keywords with defaults
        self,
        pub_endpoint: str,
        sub_endpoint: str,
        *,
        name: str | None = None,
        connect_timeout: float = 5.0,
        ctx: zmq.Context[zmq.Socket[bytes]] | None = None,
        keys: ClientKeys | None = None,
    ) -> None:
        # On a secured site the client is its key's identity: its replies come to that name.
        self.name = (
            keys.identity.name if keys else name or f"tool-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self._sockets = SocketFactory(ctx, keys=keys)
        self._link = BrokerLink(
            self._sockets,
            pub_endpoint,
            sub_endpoint,
            self.name,
            patterns=[REPLY_PREFIX + self.name, SYS_SERVICES, SYS_CONTROL + self.name],
        )
        try:
            self._link.wait_connected(connect_timeout)
        except BaseException:
            self.close()
            raise
        self._reply_topic = (REPLY_PREFIX + self.name).encode()
        self._control_topic = (SYS_CONTROL + self.name).encode()
        self._directory: dict[str, tuple[str, ...]] | None = None
        self._asked = False
        #: The site (when made by :meth:`from_site`) and this client's rights on it.
        self._site: SiteConfig | None = None
        self._rights: ToolRights | None = None

    @classmethod
    def from_site(cls, site: SiteConfig, **kwargs: Any) -> ServiceClient:
        """A client of *site*'s broker (on a secured site with the tool key
        ``site.security.tool``)."""
        keys = tool_keys(site.security.keys, site.secured, site.security.tool)
        client = cls(site.broker.pub_connect, site.broker.sub_connect, keys=keys, **kwargs)
        client._site = site
        return client

    def _refusal(self, service: str) -> str:
        """On a checked site (known from :meth:`from_site`): why the broker would drop this
        client's request to *service* ("": it would not). The supervisor is asked once (the
        ``rights`` op); Unavailable when it cannot answer."""
        site = self._site
        if site is None or not site.checked:
            return ""
        if self._rights is None:
            try:
                with ControlClient.for_site(site, DIRECTORY_WAIT * 10) as control:
                    self._rights = control.rights()
            except (ControlError, ControlTimeout) as exc:
                raise Unavailable(
                    f"{service}: cannot ask the supervisor for rights: {exc}"
                ) from None
        return self._rights.refusal(SERVICE_PREFIX + service).replace("publish on", "call", 1)

    def call(
        self,
        service: str,
        request: Any = None,
        *,
        timeout: float = 5.0,
        policy: Policy | None = None,
        key: int | str | None = None,
    ) -> Any:
        """Call *service* with *request*; the reply, or the call's CallError raised (on a
        checked site ``forbidden`` at once when the broker would drop the request)."""
        refusal = self._refusal(service)
        if refusal:
            raise Forbidden(refusal.removeprefix("forbidden: "))
        decl = Call(service, doc="a call from outside the site", timeout=timeout, policy=policy)
        decl.name = "call"
        line = CallLine(decl, decl.policy, timeout)
        calls = Calls(
            self.name,
            {"call": line},
            monotonic=time.monotonic,
            wall_ns=time.time_ns,
            emit=lambda topic, payload, trace: self._link.publish(topic.decode(), payload, trace),
            fall_back=_fall_back,
            seed=None,
            log=None,
        )
        if self._directory is None:
            self._wait_directory(max(DIRECTORY_WAIT, timeout))
        if self._directory is None:  # a reply could not be bound to a server: none is taken
            raise Unavailable(
                f"{service}: the supervisor's directory of services did not come within "
                f"{max(DIRECTORY_WAIT, timeout):g}s (is the site running?)"
            )
        calls.directory = self._directory
        pending, _ = calls.start(line, request, timeout=None, key=key, callback=None)
        sub = self._link.sub
        while not pending.done:
            due = calls.next_due()
            wait = 0.0 if due is None else max(0.0, due - time.monotonic())
            if sub.poll(int(wait * 1000) + 1, zmq.POLLIN):
                self._take(sub.recv_multipart(), calls)
            calls.tick(time.monotonic())
        return pending.result()

    def _wait_directory(self, limit: float) -> None:
        """Ask the supervisor for its directory of servers, for *limit* seconds at most
        (without it no reply can be bound to a server of the service called)."""
        deadline = time.monotonic() + limit
        ask_at = 0.0
        sub = self._link.sub
        while self._directory is None:
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= ask_at:
                self._link.publish(SYS_RETAINED + self.name, [SYS_SERVICES])
                ask_at = now + _ASK_EVERY
            if sub.poll(int((min(ask_at, deadline) - now) * 1000) + 1, zmq.POLLIN):
                self._take(sub.recv_multipart(), None)

    def _take(self, frames: list[bytes], calls: Calls | None) -> None:
        """One message from the broker: a reply, the directory, or the supervisor's answer."""
        try:
            message = decode_message(frames)
        except WireError:
            return
        payload = message.envelope.payload
        if frames[0] == self._reply_topic and calls is not None:
            reply = decode_reply(payload)
            if reply is not None:
                calls.on_reply(reply, message.envelope.sender)
        elif message.topic == SYS_SERVICES and message.envelope.sender == "supervisor":
            self._new_directory(payload, calls)
        elif (
            frames[0] == self._control_topic
            and isinstance(payload, dict)
            and payload.get("op") == Op.RETAINED
        ):
            for item in payload.get("messages") or []:
                if isinstance(item, list) and len(item) == 2:  # noqa: PLR2004 - topic, envelope
                    self._take([bytes(item[0]), bytes(item[1])], calls)

    def _new_directory(self, payload: Any, calls: Calls | None) -> None:
        directory = decode_directory(payload)
        if directory is None:
            return
        self._directory = directory
        if calls is not None:
            calls.on_directory(directory)

    def close(self) -> None:
        """Close the sockets."""
        self._link.close(linger_ms=0)
        self._sockets.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fall_back(line: CallLine, fallback: Fallback, body: Any, error: CallError) -> Any:
    """A tool's fallback is a value (it has no methods to name)."""
    if fallback.method is not None:
        raise error
    return fallback.value
