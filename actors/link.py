"""A connection to the site's broker: one PUB and one SUB socket (shell).

Used by the actor runtime, the supervisor, the CLI tools and the test kit.
:meth:`BrokerLink.wait_connected` is how readiness is a message and not a
sleep: the link publishes a probe on a topic only it subscribes to until the
probe comes back through the broker. When it does, both directions work and
every subscription made before the probe has reached the broker.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import zmq

from actors.core.topics import SYS_PROBE, Pattern, parse_pattern
from actors.core.wire import Message, WireError, decode_message, encode_envelope
from actors.keys import tool_keys
from actors.sockets import AuthenticationFailed, AuthWatch, SocketFactory

if TYPE_CHECKING:
    from actors.site import SiteConfig


class BrokerUnreachable(TimeoutError):
    """The broker did not echo a probe in time; the message names the endpoints."""


class BrokerAuthFailed(BrokerUnreachable, AuthenticationFailed):
    """The broker refused this link's key: no probe will ever come back."""


class BrokerLink:
    """PUB and SUB sockets connected to the broker, created in the calling thread."""

    def __init__(
        self,
        sockets: SocketFactory,
        pub_endpoint: str,
        sub_endpoint: str,
        sender: str,
        *,
        patterns: Iterable[str] = (),
        reconnect_max_ms: int = 100,
    ) -> None:
        # On a secured site the broker delivers only what carries the key's own name.
        self.sender = sockets.keys.identity.name if sockets.keys is not None else sender
        self.keys = sockets.keys
        self.pub_endpoint = pub_endpoint
        self.sub_endpoint = sub_endpoint
        self.pub = sockets.publisher(pub_endpoint, reconnect_max_ms)
        self.sub = sockets.subscriber(sub_endpoint, reconnect_max_ms)
        self.patterns: list[Pattern] = []
        for text in patterns:
            self.subscribe(text)
        self._seq: dict[str, int] = {}
        # A topic only this link subscribes to, for readiness probes.
        self._probe = f"{SYS_PROBE}{os.getpid()}-{uuid.uuid4().hex[:8]}".encode()
        self._probes = 0
        self.sub.setsockopt(zmq.SUBSCRIBE, self._probe)
        self._probing = True

    def _listen_for_probes(self) -> None:
        """Subscribe to this link's probe topic, unless it is (ZeroMQ counts subscriptions:
        one too many would outlive the unsubscribe)."""
        if not self._probing:
            self.sub.setsockopt(zmq.SUBSCRIBE, self._probe)
            self._probing = True

    @classmethod
    def to_site(
        cls,
        ctx: zmq.Context[zmq.Socket[bytes]],
        site: SiteConfig,
        sender: str,
        patterns: Iterable[str] = (),
    ) -> BrokerLink:
        """A link to *site*'s broker, as a tool makes one (sockets of *ctx*). On a secured
        site it connects with the tool key ``site.security.tool`` (KeyProblem if there is
        none), and its sender is that key's name."""
        broker = site.broker
        security = site.security
        return cls(
            SocketFactory(ctx, keys=tool_keys(security.keys, site.secured, security.tool)),
            broker.pub_connect,
            broker.sub_connect,
            sender,
            patterns=patterns,
        )

    def subscribe(self, text: str) -> Pattern:
        """Subscribe to a topic or ``prefix.*`` pattern."""
        pattern = parse_pattern(text)
        self.patterns.append(pattern)
        self.sub.setsockopt(zmq.SUBSCRIBE, pattern.zmq_filter)
        return pattern

    def unsubscribe(self, text: str) -> None:
        """Stop one subscription made by :meth:`subscribe` (others with the same filter
        stay: ZeroMQ counts them)."""
        pattern = parse_pattern(text)
        if pattern in self.patterns:
            self.patterns.remove(pattern)
            self.sub.setsockopt(zmq.UNSUBSCRIBE, pattern.zmq_filter)

    def wants(self, topic: str) -> bool:
        """Whether *topic* matches one of this link's patterns (ZeroMQ only pre-filters)."""
        return any(p.matches(topic) for p in self.patterns)

    def send_probe(self) -> None:
        """Publish one probe; :meth:`is_probe` recognises its echo."""
        self._probes += 1
        self.pub.send_multipart(
            [self._probe, encode_envelope(self.sender, self._probes, time.time_ns(), self._probes)]
        )

    def is_probe(self, frames: list[bytes]) -> bool:
        """Whether *frames* is this link's probe coming back through the broker."""
        return bool(frames) and frames[0] == self._probe

    def wait_connected(self, timeout: float) -> None:
        """Publish probes until one comes back through the broker, or raise BrokerUnreachable
        (AuthenticationFailed at once when the site refuses this link's key)."""
        deadline = time.monotonic() + timeout
        watch = AuthWatch(self.keys, self.pub, self.sub)
        # Subscribed again if a wait ended before (its success unsubscribed it): a link
        # waits again after its broker restarted, whatever else it subscribes to.
        self._listen_for_probes()
        try:
            while True:
                self.send_probe()
                # A short poll is the retry interval of the probe, not a synchronisation sleep.
                if self.sub.poll(10, zmq.POLLIN):
                    while self.sub.poll(0, zmq.POLLIN):
                        if self.is_probe(self.sub.recv_multipart()):
                            self.sub.setsockopt(zmq.UNSUBSCRIBE, self._probe)
                            self._probing = False
                            return
                if watch.refused() is not None:
                    where = f"{self.pub_endpoint} / {self.sub_endpoint}"
                    raise watch.failure(where, BrokerAuthFailed)
                if time.monotonic() > deadline:
                    raise BrokerUnreachable(
                        f"no answer from the broker at {self.pub_endpoint} / "
                        f"{self.sub_endpoint} within {timeout:g}s (is the site running?)"
                    )
        finally:
            watch.close()

    def drain(self, timeout: float) -> bool:
        """Return once everything published so far has passed the broker (a probe's round
        trip: one publisher's messages stay in order), or False after *timeout*. For a
        process about to end abruptly; what else arrives meanwhile is discarded."""
        self._listen_for_probes()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send_probe()
            # A short poll is the retry interval of the probe, not a synchronisation sleep.
            while self.sub.poll(10, zmq.POLLIN):
                if self.is_probe(self.sub.recv_multipart()):
                    return True
        return False

    def publish(self, topic: str, payload: Any, trace: str | None = None) -> None:
        """Publish *payload* on *topic* with this link's own sequence numbers."""
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        self.pub.send_multipart(
            [topic.encode(), encode_envelope(self.sender, seq, time.time_ns(), payload, trace)]
        )

    def recv(self, timeout: float | None) -> Message | None:
        """The next message matching a pattern, or None when *timeout* seconds pass.

        Frames that do not decode are skipped (and returned by nothing): tools
        reading the mesh must survive whatever is on it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self.sub.poll(wait, zmq.POLLIN):
                return None
            frames = self.sub.recv_multipart()
            try:
                message = decode_message(frames)
            except WireError:
                continue
            if self.wants(message.topic):
                return message

    def close(self, linger_ms: int = 1000) -> None:
        """Close both sockets, giving queued publishes *linger_ms* to leave."""
        self.pub.close(linger=linger_ms)
        self.sub.close(linger=0)
