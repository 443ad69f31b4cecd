"""A client for the supervisor's control endpoint, for tools and tests (shell).

>>> with ControlClient("ipc:///srv/site/run/control.sock") as ctl:  # doctest: +SKIP
...     ctl.status()["actors"]
...     ctl.restart("thermostat")
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import zmq

from actors.core.access import AccessError, Rights
from actors.core.topics import SYS_EVENT, parse_pattern
from actors.keys import ClientKeys, tool_keys
from actors.link import BrokerLink
from actors.site import SiteConfig
from actors.sockets import AuthenticationFailed, AuthWatch, SocketFactory
from supervisor.core.protocol import (
    MAX_REQUEST_BYTES,
    ProtocolError,
    decode_reply,
    encode_request,
)


class ControlError(RuntimeError):
    """The supervisor answered with an error; ``kind`` is its error kind."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        #: Seconds until trying again may succeed (``rate_limited``), when the reply says.
        self.retry_after = retry_after


class ControlTimeout(TimeoutError):
    """No reply within the timeout (is the site running?)."""


@dataclass(frozen=True)
class ToolRights:
    """A connection's identity, role and broker rights (the ``rights`` op's reply)."""

    identity: str
    role: str
    checked: bool
    rights: Rights | None

    @classmethod
    def decode(cls, data: Any) -> ToolRights:
        """The record from the reply; ControlError ``bad_reply`` when it is not one."""
        try:
            rights = Rights.decode(data["rights"]) if data.get("rights") is not None else None
            role = data["role"]
            return cls(str(data["identity"]), str(role or ""), bool(data["checked"]), rights)
        except (KeyError, TypeError, AttributeError, AccessError) as exc:
            raise ControlError("bad_reply", f"a rights reply that is not one: {exc}") from None

    def refusal(self, topic: str) -> str:
        """Why the broker would drop this connection's message on *topic* ("": it would not)."""
        if not self.checked:
            return ""
        if self.rights is not None and self.rights.may_publish(topic):
            return ""
        return (
            f"forbidden: {self.identity} (role {self.role}) may not publish on {topic!r}: the "
            "broker would drop it (give the key a role or [security.access] rules that allow it)"
        )

    def read_refusal(self, pattern: str) -> str:
        """Why the broker would not let this connection subscribe to topic *pattern* ("":
        it would)."""
        if not self.checked:
            return ""
        prefix = parse_pattern(pattern).zmq_filter.decode()
        if self.rights is not None and self.rights.may_subscribe(prefix):
            return ""
        return (
            f"forbidden: {self.identity} (role {self.role}) may not read {pattern!r}: the "
            "broker would not make the subscription"
        )


class ControlAuthFailed(ControlTimeout, AuthenticationFailed):
    """The control endpoint refused this client's key: no reply will ever come."""


class ControlClient:
    """Sends requests to one supervisor and waits for the matching replies.

    Threads may share one client: a request holds the socket until its reply.
    """

    def __init__(
        self,
        endpoint: str,
        timeout: float = 15.0,
        ctx: zmq.Context[zmq.Socket[bytes]] | None = None,
        keys: ClientKeys | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._sockets = SocketFactory(ctx, keys=keys)
        self._sock = self._sockets.control_client(endpoint)
        # A key the site refuses is told at once, not as a timeout (with CURVE only).
        self._watch = AuthWatch(keys, self._sock)
        self._poller = zmq.Poller()
        for sock in (self._sock, *self._watch.monitors):
            self._poller.register(sock, zmq.POLLIN)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._keys = keys
        #: On a site of several hosts: actor -> the control endpoint of the host that runs
        #: it (a request naming it goes there), and the clients of those hosts.
        self.routes: dict[str, str] = {}
        self._hosts: dict[str, ControlClient] = {}

    @classmethod
    def for_site(
        cls,
        site: SiteConfig,
        timeout: float = 15.0,
        ctx: zmq.Context[zmq.Socket[bytes]] | None = None,
        endpoint: str | None = None,
    ) -> ControlClient:
        """A client of *site*'s supervisor (at *endpoint*, else the site's own); on a
        secured site with the tool key ``site.security.tool`` (KeyProblem if none)."""
        security = site.security
        keys = tool_keys(security.keys, site.secured, security.tool)
        client = cls(endpoint or site.supervisor.control_connect, timeout, ctx, keys)
        if endpoint in (None, site.supervisor.control_connect):  # this host's supervisor
            client.routes = {n: site.hosts[a.host].control for n, a in site.elsewhere.items()}
        return client

    def _host_client(self, name: Any) -> ControlClient | None:
        """The client of the host that runs actor *name*, if another host does."""
        endpoint = self.routes.get(name) if isinstance(name, str) else None
        return self.client_at(endpoint) if endpoint is not None else None

    def client_at(self, endpoint: str) -> ControlClient:
        """A client of the supervisor at *endpoint* (another host's), with this client's
        keys; closed with this one."""
        if endpoint not in self._hosts:
            self._hosts[endpoint] = ControlClient(
                endpoint, self.timeout, self._sockets.ctx, self._keys
            )
        return self._hosts[endpoint]

    def request(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        """Send one request and return its result; raise ControlError or ControlTimeout.

        A ``rate_limited`` answer is waited out (its ``retry_after``) and the request sent
        again, within the timeout. On a site of several hosts, a request naming an actor of
        another host goes to that host's supervisor.
        """
        elsewhere = self._host_client(args.get("name"))
        if elsewhere is not None:
            return elsewhere.request(op, timeout, **args)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._lock:
            while True:
                try:
                    return self._request(op, max(0.001, deadline - time.monotonic()), args)
                except ControlError as exc:
                    wait = exc.retry_after
                    if exc.kind != "rate_limited" or wait is None:
                        raise
                    if time.monotonic() + wait >= deadline:
                        raise
                    time.sleep(wait)  # a backoff the server asked for, not a synchronisation

    def _request(self, op: str, timeout: float | None, args: dict[str, Any]) -> Any:
        req_id = next(self._ids)
        body = encode_request(req_id, op, **args)
        if len(body) > MAX_REQUEST_BYTES:
            raise ControlError(
                "bad_request",
                f"the {op!r} request is {len(body):,} bytes; "
                f"a control request may have {MAX_REQUEST_BYTES:,}",
            )
        self._sock.send_multipart([b"", body])
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            ready = dict(self._poller.poll(int(left * 1000) + 1)) if left > 0 else {}
            if self._watch.monitors and self._watch.refused() is not None:
                raise self._watch.failure(self.endpoint, ControlAuthFailed)
            if self._sock not in ready:
                if time.monotonic() < deadline:
                    continue  # a handshake event, not a reply
                why = "is the site running?"
                if listening(self.endpoint) is False:
                    why = "nothing listens there: the site is not running"
                raise ControlTimeout(
                    f"no reply to {op!r} from {self.endpoint} within {limit:g}s ({why})"
                )
            frames = self._sock.recv_multipart()
            try:
                reply = decode_reply(frames[-1])
            except ProtocolError:
                continue
            if reply.id != req_id:
                continue  # a late reply to an earlier request that timed out
            if not reply.ok:
                raise ControlError(reply.error, reply.message, reply.retry_after)
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

    def snapshot(self, name: str) -> dict[str, Any]:
        """Have a running actor write a snapshot now; returns ``{"actor", "path", ...}``."""
        result: dict[str, Any] = self.request("snapshot", name=name)
        return result

    def snapshots(self, name: str | None = None) -> list[dict[str, Any]]:
        """The snapshot files of one actor (or all), oldest first."""
        result: list[dict[str, Any]] = self.request("snapshots", **_given(name=name))
        return result

    def undeliverable(self, name: str | None = None) -> list[dict[str, Any]]:
        """The messages reliable writers gave up (of one actor, or all), oldest first."""
        result: list[dict[str, Any]] = self.request("undeliverable", **_given(name=name))
        return result

    def redeliver(self, name: str) -> dict[str, Any]:
        """Have reliable writer *name* send its undeliverable messages again; returns
        ``{"redelivered": [{"topic", "seq", "new_seq"}], "failed": [...]}``."""
        result: dict[str, Any] = self.request("redeliver", name=name)
        return result

    def loglevel(
        self, name: str, level: str | None = None, otel: str | None = None
    ) -> dict[str, Any]:
        """Change an actor's (or ``supervisor``'s) log levels; returns those in force."""
        result: dict[str, Any] = self.request(
            "loglevel", name=name, **_given(level=level, otel=otel)
        )
        return result

    def swap(
        self,
        name: str,
        cls: str | None = None,
        params: dict[str, Any] | None = None,
        etag: str | None = None,
    ) -> dict[str, Any]:
        """Hot-swap an actor to the code on disk (or *cls*, *params*); returns the new status."""
        args = _given(etag=etag, params=params, **{"class": cls})
        result: dict[str, Any] = self.request("swap", name=name, **args)
        return result

    def add(
        self,
        name: str,
        cls: str | None = None,
        params: dict[str, Any] | None = None,
        table: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add an actor to the running site; returns its status once ready."""
        args = _given(params=params, table=table, **{"class": cls})
        result: dict[str, Any] = self.request("add", name=name, **args)
        return result

    def remove(self, name: str, etag: str | None = None) -> dict[str, Any]:
        """Stop an actor and drop it from the site; returns its status once gone."""
        result: dict[str, Any] = self.request("remove", name=name, **_given(etag=etag))
        return result

    def reload(self, etag: str | None = None) -> dict[str, Any]:
        """Apply what changed in site.toml; returns what was added, removed, swapped."""
        result: dict[str, Any] = self.request("reload", **_given(etag=etag))
        return result

    def fault_add(self, rule: dict[str, Any]) -> dict[str, Any]:
        """Add a fault rule (site.toml's keys); the running actors apply it at once."""
        result: dict[str, Any] = self.request("fault_add", table=rule)
        return result

    def fault_clear(self) -> dict[str, Any]:
        """Remove every fault rule."""
        result: dict[str, Any] = self.request("fault_clear")
        return result

    def fault_pause(self) -> dict[str, Any]:
        """Keep the rules, inject nothing."""
        result: dict[str, Any] = self.request("fault_pause")
        return result

    def fault_resume(self) -> dict[str, Any]:
        """Inject again after fault_pause."""
        result: dict[str, Any] = self.request("fault_resume")
        return result

    def state(self, name: str) -> dict[str, Any]:
        """Actor *name*'s durable State as stored (``values`` None: nothing stored)."""
        result: dict[str, Any] = self.request("state", name=name)
        return result

    def rights(self, name: str | None = None) -> ToolRights:
        """What this client's connection (or the identity *name*, ``actor:NAME``) is on the
        site: identity, role and broker rights."""
        return ToolRights.decode(self.request("rights", **_given(name=name)))

    def state_reset(self, name: str) -> dict[str, Any]:
        """Forget stopped actor *name*'s stored durable State."""
        result: dict[str, Any] = self.request("state_reset", name=name)
        return result

    def faults(self) -> dict[str, Any]:
        """The site's fault rules, the faults injected per rule and actor, the newest."""
        result: dict[str, Any] = self.request("faults")
        return result

    def close(self) -> None:
        """Close the socket (and the context, if this client made it)."""
        with self._lock:
            for client in self._hosts.values():
                client.close()
            self._watch.close()
            self._sock.close()
            self._sockets.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def listening(endpoint: str, timeout: float = 1.0) -> bool | None:
    """Whether something accepts connections at a control *endpoint* (None: cannot tell).

    An ``ipc://`` endpoint without its socket file, or one that refuses (the
    file a killed supervisor left), and a ``tcp://`` port that refuses, have
    no supervisor behind them. Only a connection is made: nothing is sent.
    """
    if endpoint.startswith("ipc://"):
        path = endpoint.removeprefix("ipc://")
        family, address = socket.AF_UNIX, "\0" + path[1:] if path.startswith("@") else path
    elif endpoint.startswith("tcp://"):
        host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
        if not port.isdigit() or host in ("", "*"):
            return None
        family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
        address = (host.strip("[]"), int(port))  # type: ignore[assignment]
    else:
        return None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        except OSError:
            return None
    return True


class EventStream:
    """The site's lifecycle events as they are published on ``$sys.event``.

    Each event is the dict the supervisor logged (``event``, ``actor``,
    ``kind`` and the event's own fields). Only events published after the
    stream connected arrive: ask ``status`` for the state of the moment.
    """

    def __init__(
        self,
        pub_endpoint: str,
        sub_endpoint: str,
        ctx: zmq.Context[zmq.Socket[bytes]] | None,
        keys: ClientKeys | None = None,
    ) -> None:
        self._sockets = SocketFactory(ctx, keys=keys)
        self._link = BrokerLink(
            self._sockets, pub_endpoint, sub_endpoint, "events", patterns=[SYS_EVENT]
        )

    def wait_connected(self, timeout: float) -> None:
        """Return once the broker delivers to this stream (raises BrokerUnreachable)."""
        self._link.wait_connected(timeout)

    def next(self, timeout: float | None) -> dict[str, Any] | None:
        """The next event, or None if none came within *timeout* seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            message = self._link.recv(left)
            if message is None:
                return None
            event = message.envelope.payload
            if (
                message.topic == SYS_EVENT
                and message.envelope.sender == "supervisor"
                and isinstance(event, dict)
            ):
                return event

    def close(self) -> None:
        """Close the sockets (and the context, if this stream made it)."""
        self._link.close(linger_ms=0)
        self._sockets.close()


def _given(**args: Any) -> dict[str, Any]:
    """The arguments that were given (None means not given)."""
    return {k: v for k, v in args.items() if v is not None}


def publish_refusal(site: SiteConfig, topic: str, timeout: float = 10.0) -> str:
    """Why the broker of *site* would drop this tool's message on *topic* ("": it would
    not, or the site does not check). Asks the supervisor (the ``rights`` op) only on a
    checked site; ControlError or ControlTimeout when it cannot."""
    if not site.checked:
        return ""
    with ControlClient.for_site(site, timeout) as client:
        return client.rights().refusal(topic)


def read_refusal(site: SiteConfig, patterns: list[str], timeout: float = 10.0) -> str:
    """Why the broker of *site* would not let this tool read one of *patterns* ("": it
    would, or the site does not check); as :func:`publish_refusal`."""
    if not site.checked:
        return ""
    with ControlClient.for_site(site, timeout) as client:
        rights = client.rights()
    return next((why for p in patterns if (why := rights.read_refusal(p))), "")
