"""The web view's side of the site: a thread that asks for ``status`` and reads the broker
(shell).

:class:`SiteBridge` owns a :class:`~supervisor.client.ControlClient` and a
:class:`~actors.link.BrokerLink` (ZeroMQ sockets stay in the thread that made
them). Every :data:`POLL` seconds it asks for the site's status; in between it
reads ``$sys.event``, ``$sys.fault``, ``$sys.log.*`` and the topics pages tap,
at most :data:`BATCH` messages per turn. What it learns goes to ``deliver``
(the server hands it to its event loop); taps are asked for with :meth:`tap`
from any thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import zmq

from actors.core.topics import SYS_EVENT
from actors.core.wire import WireError, decode_message
from actors.faulty import SYS_FAULT
from actors.link import BrokerLink, BrokerUnreachable
from actors.site import SiteConfig
from supervisor.client import ControlClient, ControlError, ControlTimeout

#: Seconds between two status requests.
POLL: Final = 1.0
#: Broker messages read per turn, at most (the turn stays bounded; the rest waits).
BATCH: Final = 2_000
#: What every view reads.
SYSTEM: Final = (SYS_EVENT, SYS_FAULT, "$sys.log.*")


class SiteBridge(threading.Thread):
    """Status and messages of one running site, handed to ``deliver(kind, data)``:
    ``("status", reply | None)``, ``("message", (topic, sender, seq, payload, time))``."""

    def __init__(self, site: SiteConfig, deliver: Callable[[str, Any], None]) -> None:
        super().__init__(name="enlil-web-bridge", daemon=True)
        self.site = site
        self.deliver = deliver
        self._asks: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._stop = threading.Event()

    def tap(self, topic: str, on: bool) -> None:
        """Start (or stop) reading *topic* (a topic or ``prefix.*`` pattern)."""
        self._asks.put(("tap" if on else "untap", topic))

    def stop(self) -> None:
        """End the thread (it closes its sockets)."""
        self._stop.set()

    def run(self) -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        control = ControlClient.for_site(self.site, 2.0, ctx)
        link = BrokerLink.to_site(ctx, self.site, "web", SYSTEM)
        try:
            self._serve(control, link)
        finally:
            link.close(linger_ms=0)
            control.close()
            ctx.term()

    def _serve(self, control: ControlClient, link: BrokerLink) -> None:
        with_broker = False
        next_poll = 0.0
        while not self._stop.is_set():
            self._take_asks(link)
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + POLL
                self.deliver("status", self._status(control))
                if not with_broker:
                    try:
                        link.wait_connected(0.2)
                        with_broker = True
                    except BrokerUnreachable:
                        continue
            if link.sub.poll(int(max(0.0, min(next_poll - now, 0.1)) * 1000)):
                self._read(link)

    def _status(self, control: ControlClient) -> dict[str, Any] | None:
        try:
            reply: dict[str, Any] = control.status()
        except (ControlError, ControlTimeout):
            return None
        return reply

    def _take_asks(self, link: BrokerLink) -> None:
        while True:
            try:
                what, topic = self._asks.get_nowait()
            except queue.Empty:
                return
            try:
                if what == "tap":
                    link.subscribe(topic)
                else:
                    link.unsubscribe(topic)
            except ValueError:
                continue  # a bad pattern: the server checked it already

    def _read(self, link: BrokerLink) -> None:
        sub = link.sub
        for _ in range(BATCH):
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if link.is_probe(frames):
                continue
            try:
                message = decode_message(frames)
            except WireError:
                continue
            if not link.wants(message.topic):
                continue
            env = message.envelope
            self.deliver(
                "message", (message.topic, env.sender, env.seq, env.payload, env.timestamp_ns / 1e9)
            )
