"""What the supervisor reads from the broker: probes, heartbeats, replies, retained values,
and the actors' control calls (shell).

One SUB socket carries it all; each message goes to the part it is for.
Reading is bounded per loop turn (:data:`BATCH`), so retained traffic never
starves the rest of the loop. A heartbeat counts only when it comes from the
process the supervisor started (its pid): a standalone copy of an actor, a tool
or an old incarnation is ignored.
"""

from __future__ import annotations

from typing import Final

from actors.core.calls import SERVICE_PREFIX
from actors.core.control import SWAP_OPS, Heartbeat, Reply, decode_reply
from actors.core.control_calls import CONTROL_SERVICE
from actors.core.topics import SYS_HEARTBEAT, SYS_REPLY
from actors.core.wire import MESSAGE_FRAMES, WireError, decode_message
from actors.link import BrokerLink
from actors.transport import recv_message
from supervisor.children import Child
from supervisor.control import fault
from supervisor.control.server import Controller
from supervisor.core.host_report import HOST_PREFIX
from supervisor.core.lifecycle import ChildState
from supervisor.core.site_events import ChildWriteFailed, Denied
from supervisor.faults import FaultLedger
from supervisor.hosts import SiteHosts
from supervisor.retained import RetainedCache
from supervisor.services import ServiceDirectory
from supervisor.supervision import Supervision
from supervisor.swap import SwapCoordinator

#: Actors' control calls to the supervisor.
_CONTROL_TOPIC: Final = SERVICE_PREFIX + CONTROL_SERVICE
#: Broker messages handled in one loop turn, at most.
BATCH: Final = 10_000
#: Heartbeat counters of writes that failed: the first of each is an event.
WRITE_FAILURES: Final = ("log_lost", "snapshots_failed", "durable_failed")


#: Denials reported per broker heartbeat, at most.
DENIALS: Final = 50


class BrokerTraffic:
    """Sorts the broker's messages to the supervisor's parts."""

    def __init__(
        self,
        link: BrokerLink,
        supervision: Supervision,
        retained: RetainedCache,
        swaps: SwapCoordinator,
        controller: Controller,
        directory: ServiceDirectory,
        ledger: FaultLedger,
        hosts: SiteHosts | None = None,
    ) -> None:
        self.link = link
        self.supervision = supervision
        self.retained = retained
        self.swaps = swaps
        self.controller = controller
        self.directory = directory
        self.ledger = ledger
        #: The links to the other hosts (None on a site of one host).
        self.hosts = hosts

    def read(self) -> None:
        """Handle what the broker sent (at most :data:`BATCH` messages)."""
        sup = self.supervision
        sub = self.link.sub
        for _ in range(BATCH):
            frames = recv_message(sub)  # the runtime's fast receive: retained traffic may be heavy
            if frames is None:
                return
            if len(frames) == MESSAGE_FRAMES and self.retained.message(frames[0], frames[1]):
                continue
            if len(frames) == MESSAGE_FRAMES and self.ledger.message(frames):
                if self.ledger.spread:
                    # A rule limited per site fired: the others count it from now on.
                    self.ledger.spread = False
                    fault.tell(self.controller)
                continue
            if self.link.is_probe(frames):
                if sup.broker.state is ChildState.STARTING:
                    sup.ready(sup.broker)
                continue
            try:
                message = decode_message(frames)
            except WireError:
                continue
            if message.topic == _CONTROL_TOPIC:
                self.controller.inside.message(message)
            elif message.topic.startswith(SYS_REPLY):
                self._reply(message.topic.removeprefix(SYS_REPLY), message.envelope.payload)
            elif message.topic.startswith(HOST_PREFIX) and self.hosts is not None:
                self.hosts.message(message.topic, message.envelope)
            elif message.topic.startswith(SYS_HEARTBEAT):
                self._heartbeat(message.topic.removeprefix(SYS_HEARTBEAT), message.envelope.payload)

    def _reply(self, sender: str, payload: object) -> None:
        reply = decode_reply(payload)
        if reply is None:
            return
        if not isinstance(reply, Reply) or reply.op in SWAP_OPS:
            self.swaps.message(sender, reply)
        else:
            self.controller.forwarded_reply(reply)

    def _write_failures(self, child: Child, before: Heartbeat | None, now: Heartbeat) -> None:
        """One event when a process starts losing log lines or snapshots (a full disk)."""
        old, new = before.stats if before else {}, now.stats
        for what in WRITE_FAILURES:
            if new.get(what) and not old.get(what):
                self.supervision.events.emit(
                    ChildWriteFailed(actor=child.name, kind=child.kind, what=what, count=new[what])
                )

    def _rejected_replies(self, child: Child, before: Heartbeat | None, now: Heartbeat) -> None:
        """An actor refused replies since its last heartbeat (a sender that does not serve
        the call): one ``denied`` event naming the sender, the count and why."""
        old, new = before.calls if before else {}, now.calls
        count, last = new.get("reply_rejected"), new.get("reply_rejected_last")
        was = old.get("reply_rejected", 0) if isinstance(old, dict) else 0
        if type(count) is not int or type(was) is not int or count <= was:
            return
        sender = reason = ""
        if isinstance(last, dict):
            sender, reason = str(last.get("sender", ""))[:255], str(last.get("reason", ""))[:255]
        fields = {
            "identity": sender,  # the name its envelope gave (a checked broker made it true)
            "what": "reply",
            "topic": f"$rsp.{child.name}",
            "reason": f"{child.name} refused {count - was} reply(ies) from {sender!r}: {reason}",
        }
        self.supervision.events.log.warning("denied", **fields)
        self.supervision.events.emit(Denied(**fields))

    def _denials(self, denials: object) -> None:
        """What a checked broker refused since its last heartbeat: one event each."""
        if not isinstance(denials, list):
            return
        events = self.supervision.events
        for entry in denials[:DENIALS]:
            if isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values()):
                fields = {k: entry.get(k, "") for k in ("identity", "what", "topic", "reason")}
                events.log.warning("denied", **fields)
                events.emit(Denied(**fields))

    def _heartbeat(self, name: str, payload: object) -> None:
        sup = self.supervision
        child = sup.child(name)
        beat = Heartbeat.decode(payload)
        if child is None or beat is None or beat.pid != child.pid:
            if child is not None and beat is not None and beat.pid == child.last_pid:
                child.late_heartbeat(beat)  # its last words, after its exit
            return  # a standalone copy, a tool, or an old incarnation
        if child is sup.broker and isinstance(payload, dict):
            self._denials(payload.get("denials"))
            if self.hosts is not None:
                self.hosts.link(payload.get("link"))
        self._write_failures(child, child.heartbeat, beat)
        self._rejected_replies(child, child.heartbeat, beat)
        child.heartbeat = beat  # the record, as the decoder checked it
        child.heartbeat_at = sup.loop.clock()
        if child.kind != "actor":
            return
        if child.state in (ChildState.STARTING, ChildState.RUNNING):
            self.directory.heartbeat(name, beat)  # before "ready": callers see it listed
        if child.state is ChildState.STARTING:
            sup.ready(child)
