"""The control server: the ROUTER socket, request dispatch, and requests forwarded to actors.

Every request gets one reply: a result, or a typed error (``bad_request``,
``unknown_op``, ``unknown_actor``, ``shutting_down``, ``failed``, ``timeout``,
``stale``, ``forbidden``). On a secured site each request carries the identity
of its connection (the ZAP User-Id), and an op its role does not allow is
``forbidden``, logged and published as an event. At most :data:`BATCH`
requests are read per loop turn, so that exits and heartbeats are never
starved by a flood of requests.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Callable
from typing import Any, Final

import zmq

from actors.core.control import Reply
from actors.core.control import Request as ActorRequest
from actors.core.faults import delay_of
from actors.core.requests import RequestTracker
from actors.core.resilience import TokenBucket
from actors.core.topics import SYS_CONTROL
from actors.core.wire import MESSAGE_FRAMES
from actors.faulty import SYS_FAULT
from supervisor.children import Child
from supervisor.control import COMMANDS, DURING_SHUTDOWN
from supervisor.control.inside import ActorControl
from supervisor.core.lifecycle import ChildState
from supervisor.core.protocol import (
    ProtocolError,
    Request,
    decode_request,
    encode_error,
    encode_result,
    request_id,
)
from supervisor.core.replies import ActorAnswered
from supervisor.core.site_events import Forbidden
from supervisor.core.status import ActorStatus, SiteStatus, SupervisorStatus
from supervisor.faults import FaultLedger
from supervisor.hosts import SiteHosts
from supervisor.membership import Membership
from supervisor.security import SiteSecurity
from supervisor.supervision import Supervision
from supervisor.swap import SwapCoordinator

#: Requests read from the control socket in one loop turn, at most.
BATCH: Final = 100
#: Seconds between two sends of a request forwarded to an actor, until it answers.
RETRY: Final = 1.0
#: Connections whose request budget is remembered, at most.
MAX_BUDGETS: Final = 4096


class Controller:
    """Answers the control endpoint's requests with the supervisor's parts."""

    def __init__(
        self,
        socket: zmq.Socket[bytes],
        supervision: Supervision,
        membership: Membership,
        swaps: SwapCoordinator,
        *,
        logging: Any,
        publish: Callable[[str, Any], None],
        forwarded: RequestTracker[tuple[bytes, int, Child]],
        ledger: FaultLedger,
        security: SiteSecurity | None = None,
    ) -> None:
        self.socket = socket
        self.supervision = supervision
        self.membership = membership
        self.swaps = swaps
        self.logging = logging
        self._publish = publish
        self.loop = supervision.loop
        self.started = self.loop.clock()
        #: Requests forwarded to actors on ``$sys.control.<name>``: (client, request id, actor).
        self.forwarded = forwarded
        #: The faults injected in the site, as the actors report them.
        self.ledger = ledger
        #: This host among the others (a site of several hosts; set by the runner).
        self.hosts: SiteHosts | None = None
        #: Roles of the connections on a secured site (None: every request is served).
        self.security = security
        #: The identity of the connection whose request is being served ("": none).
        self.user = ""
        #: Each connection's request budget (by its routing id; the oldest forgotten first).
        self._budgets: collections.OrderedDict[bytes, TokenBucket] = collections.OrderedDict()
        #: The actors' own control calls (``self.enlil.start`` and the rest).
        self.inside = ActorControl(self)

    # -- the socket ----------------------------------------------------------------------

    def read(self) -> None:
        """Serve the requests waiting on the socket (at most :data:`BATCH`)."""
        for _ in range(BATCH):
            try:
                parts = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            identity, body = parts[0].bytes, parts[-1].bytes
            wait = self._budget(identity)
            if wait is not None:
                message = (
                    f"more than {self.supervision.site.supervisor.control_rate:g} requests a "
                    f"second from this connection; try again in {wait:.3f}s"
                )
                self.reply(identity, encode_error(request_id(body), "rate_limited", message, wait))
                continue
            try:
                if len(parts) < MESSAGE_FRAMES:
                    raise ProtocolError("bad_request", "request has no body frame")
                req = decode_request(body)
                self.user = self._user(parts[-1])
                self._authorize(req)
                if not self._faulted(identity, req):
                    self.handle(identity, req)
            except ProtocolError as exc:
                self.reply(identity, encode_error(request_id(body), exc.kind, str(exc)))

    def _budget(self, identity: bytes) -> float | None:
        """None when connection *identity* may send one more request now, else the seconds
        until it may."""
        bucket = self._budgets.get(identity)
        if bucket is None:
            cfg = self.supervision.site.supervisor
            bucket = self._budgets[identity] = TokenBucket(cfg.control_rate, cfg.control_burst)
            if len(self._budgets) > MAX_BUDGETS:
                self._budgets.popitem(last=False)
        else:
            self._budgets.move_to_end(identity)
        return bucket.take(self.loop.clock())

    def _user(self, frame: zmq.Frame) -> str:
        """The identity of the connection that sent *frame* (its ZAP User-Id; "": none)."""
        if self.security is None:
            return ""
        try:
            return str(frame.get("User-Id"))
        except zmq.ZMQError:
            return ""

    def _authorize(self, req: Request) -> None:
        """On a secured site: ``forbidden`` (logged, and an event) unless the connection's
        role allows the op."""
        if self.security is None:
            return
        user = self.user
        try:
            self.security.authorize(user, req.op)
        except ProtocolError as exc:
            self.supervision.events.log.warning("forbidden", identity=user, op=req.op)
            self.supervision.events.emit(Forbidden(identity=user, op=req.op, reason=str(exc)))
            raise

    def _faulted(self, identity: bytes, req: Request) -> bool:
        """The control hop's fault rules: True when this request is dropped (no reply) or
        delayed (served later)."""
        hit = self.ledger.control_fault(req.op, self.loop.clock() - self.started)
        if hit is None:
            return False
        rule, entry = hit
        self.publish(SYS_FAULT, entry)
        if rule.kind == "delay":
            wait = delay_of(rule, self.ledger.seed, "tool", req.op, entry["seq"])
            self.loop.after(wait, lambda: self._serve_late(identity, req))
        return True

    def _serve_late(self, identity: bytes, req: Request) -> None:
        try:
            self.handle(identity, req)
        except ProtocolError as exc:
            self.reply(identity, encode_error(req.id, exc.kind, str(exc)))

    def publish(self, topic: str, payload: object) -> None:
        """Publish *payload* on *topic* through the supervisor's broker link."""
        self._publish(topic, payload)

    def reply(self, identity: bytes, body: bytes) -> None:
        """Send a reply to the client *identity* (or to the actor whose request it is)."""
        if not self.inside.answer(identity, body):
            self.socket.send_multipart([identity, b"", body])

    def handle(self, identity: bytes, req: Request) -> None:
        """Dispatch one decoded request to its command."""
        if req.op not in DURING_SHUTDOWN:
            self.refuse_during_shutdown()
        COMMANDS[req.op](self, identity, req)

    # -- what commands share -----------------------------------------------------------------

    def refuse_during_shutdown(self) -> None:
        """Raise ``shutting_down`` while the site stops."""
        reason = self.supervision.shutting_down
        if reason:
            raise ProtocolError("shutting_down", f"the site is shutting down ({reason})")

    def actor(self, req: Request) -> Child:
        """The actor *req* names, at the etag it names (``unknown_actor``, ``stale``)."""
        sup = self.supervision
        child = sup.actors.get(req.name or "")
        if child is None:
            raise ProtocolError(
                "unknown_actor",
                f"no actor {req.name!r} in site "
                f"{sup.site.site.name!r} (actors: {', '.join(sup.actors)})",
            )
        current = self.swaps.etag_of(child.name)
        if req.etag is not None and req.etag != current:
            raise ProtocolError(
                "stale",
                f"actor {child.name!r} is at config version {current}, "
                f"not {req.etag}: someone changed it since you looked",
            )
        return child

    def status(self) -> dict[str, Any]:
        """The reply to ``status``: the supervisor, the broker and every actor."""
        return self.site_status().encode()

    def site_status(self) -> SiteStatus:
        """The supervisor, the broker and every actor, as records."""
        sup = self.supervision
        now = self.loop.clock()
        counts: dict[str, dict[str, int]] = {}
        for (name, kind), n in sup.counts.items():
            counts.setdefault(name, {})[kind] = n
        return SiteStatus(
            site=sup.site.site.name,
            config=str(sup.site.path),
            config_etag=self.membership.config_etag,
            supervisor=SupervisorStatus(
                pid=os.getpid(),
                uptime=round(now - self.started, 3),
                state="shutting_down" if sup.shutting_down else "running",
                log_lost=self.logging.file.lost if self.logging.file is not None else 0,
                records_failed=sup.records.failed,
            ),
            broker=sup.broker.status(now),
            actors=[
                ActorStatus(
                    c.status(now),
                    etag=self.swaps.etag_of(c.name),
                    declared_metrics=self._declared_metrics(c.name),
                    hal=self._hal(c.name),
                )
                for c in sup.actors.values()
            ],
            counts=counts,
            **self._hosts(),
        )

    def _hosts(self) -> dict[str, Any]:
        """The other hosts and their actors, on a site of several."""
        hosts = self.hosts
        if hosts is None:
            return {}
        return {
            "host": hosts.site.host,
            "hosts": hosts.summary(),
            "elsewhere": hosts.remote_actors(),
        }

    def _hal(self, name: str) -> bool:
        """Whether actor *name*'s class owns hardware (a HAL actor)."""
        facts = self.membership.facts.get(name)
        return facts is not None and facts.hal

    def _declared_metrics(self, name: str) -> dict[str, dict[str, str]]:
        """Actor *name*'s declared metrics: kind, doc, unit and class, by variable (what a
        Prometheus page needs to name and describe them)."""
        facts = self.membership.facts.get(name)
        if facts is None:
            return {}
        return {
            m[0]: {"kind": m[1], "doc": m[2], "unit": m[3], "class": m[4]} for m in facts.metrics
        }

    # -- requests forwarded to actors ---------------------------------------------------------

    def forward(
        self,
        identity: bytes,
        req_id: int,
        child: Child,
        make: Callable[[int], ActorRequest],
    ) -> None:
        """Send the request *make(id)* to a running actor; its reply goes back to the client.

        The request names the process (its pid): a process started since (a restart)
        ignores it, so a client never gets another process's answer (a snapshot of
        the fresh process instead of the one it asked for).
        """
        if child.state is not ChildState.RUNNING:
            raise ProtocolError("failed", f"actor {child.name!r} is {child.state}, not running")
        now = self.loop.clock()
        timeout = self.supervision.site.supervisor.ready_timeout
        rid = self.forwarded.open((identity, req_id, child), now, timeout)
        self._send(rid, dataclasses.replace(make(rid), pid=child.pid))

    def _send(self, rid: int, request: ActorRequest) -> None:
        """(Re)publish a forwarded request until answered or past its deadline.

        The actor answers a repeated id only once: resends cover a subscription
        still on its way to our publisher, not a second snapshot.
        """
        pending = self.forwarded.get(rid)
        if pending is None:
            return
        identity, req_id, child = pending.context
        if child.pid != request.pid:
            self.forwarded.close(rid)
            message = (
                f"actor {child.name!r}: its process {request.pid} ended before it answered "
                f"{str(request.op)!r}"
            )
            self.reply(identity, encode_error(req_id, "failed", message))
            return
        if self.loop.clock() > pending.deadline or child.state is not ChildState.RUNNING:
            self.forwarded.close(rid)
            self.reply(
                identity,
                encode_error(
                    req_id, "timeout", f"actor {child.name!r} did not answer {str(request.op)!r}"
                ),
            )
            return
        self._publish(SYS_CONTROL + child.name, request.encode())
        self.loop.after(self.forwarded.retry, lambda: self._send(rid, request))

    def forwarded_reply(self, reply: Reply) -> None:
        """An actor answered a forwarded request: pass the answer on to the client."""
        context = self.forwarded.close(reply.id)
        if context is None:
            return
        identity, req_id, child = context
        if reply.ok:
            self.reply(identity, encode_result(req_id, ActorAnswered(child.name, reply.result)))
        else:
            message = f"actor {child.name!r}: {reply.error or 'failed'}"
            self.reply(identity, encode_error(req_id, "failed", message))
