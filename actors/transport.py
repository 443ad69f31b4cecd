"""How an actor process's messages cross ZeroMQ: one transport, its fast receive and send (shell).

Every send and receive of the actor runtime and of the supervisor's broker
traffic goes through these functions, so that what is added to a hop (fault
injection, access checks, recording) attaches here, in one place. A message's
way through an actor process is three modules: :mod:`actors.runtime` reads it
here, :mod:`actors.core.engine` runs the step, and what the step publishes
leaves here again (``send``, ``send_all``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, cast

import zmq

from actors.link import BrokerLink

_NOBLOCK: Final = zmq.NOBLOCK
_SNDMORE: Final = zmq.SNDMORE
#: Envelopes of at least this many bytes are received without a copy: as a view of
#: ZeroMQ's own buffer (a memoryview, which every reader of an envelope takes as it takes
#: bytes). Below it, a copy is cheaper than pyzmq's bookkeeping of a shared buffer (its
#: own copy threshold is the same). Sending copies into ZeroMQ whatever the size: measured
#: (bench/records.py), pyzmq's zero-copy send of 1 MiB is a third slower than the copy,
#: whose buffer ZeroMQ frees and reuses at once while it is still in the cache.
ZERO_COPY: Final = 65536
# pyzmq's Socket.send is a Python wrapper (routing ids, groups) around the compiled
# send; calling the compiled one directly halves the cost of a plain send.
raw_send: Final = zmq.backend.Socket.send


def recv_message(sub: zmq.Socket[bytes]) -> list[bytes] | None:
    """The next multipart without blocking, whole; None when nothing is queued.

    ``Frame.more`` reads the more-flag of the frame itself, where
    ``recv_multipart`` asks the socket (``getsockopt(RCVMORE)``), which costs
    about a microsecond a call in pyzmq. Our messages have two frames; a lone
    frame comes back alone, and a multipart of three or more frames comes
    back whole (every frame read, so the stream stays in step), so that
    receivers count it as malformed: frames smuggled after a message are never
    taken for messages of their own.
    """
    try:
        frame = sub.recv(_NOBLOCK, copy=False)
    except zmq.Again:
        return None
    if not frame.more:
        return [frame.bytes]
    second = sub.recv(_NOBLOCK, copy=False)
    if not second.more:
        if len(second) >= ZERO_COPY:
            # A view keeps the frame alive as long as it is used (the flight recorder).
            return [frame.bytes, cast(bytes, second.buffer.toreadonly())]
        return [frame.bytes, second.bytes]
    frames = [frame.bytes, second.bytes]
    more = True
    while more:  # a multipart is queued whole: this ends
        last = sub.recv(_NOBLOCK, copy=False)
        frames.append(last.bytes)
        more = last.more
    return frames


class Transport:
    """Every send and receive of one actor process, over its broker link's two sockets.

    The one seam where what happens to a hop attaches (faults, access checks,
    recording). The hot path stays compiled: :attr:`receive` is a partial of
    :func:`recv_message` and :attr:`send` two compiled sends.
    """

    def __init__(self, link: BrokerLink) -> None:
        self.link = link
        self.socket = link.sub
        pub = link.pub
        #: The next ``[topic, envelope]`` without blocking, or None when nothing is queued.
        self.receive: Callable[[], list[bytes] | None] = functools.partial(recv_message, link.sub)

        def send(topic: bytes, envelope: bytes) -> None:
            raw_send(pub, topic, _SNDMORE)
            raw_send(pub, envelope)

        #: Send one encoded message (never blocks: past the high-water mark ZeroMQ drops).
        self.send: Callable[[bytes, bytes], None] = send

    def send_all(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Send encoded messages in order."""
        send = self.send
        for topic, envelope in messages:
            send(topic, envelope)

    def wait(self, seconds: float) -> bool:
        """Whether a message is queued within *seconds* (rounded up to the next millisecond)."""
        return bool(self.socket.poll(int(seconds * 1000) + 1))

    def publish(self, topic: str, payload: Any) -> None:
        """Encode and send *payload* with the link's own sequence numbers (control traffic)."""
        self.link.publish(topic, payload)

    def subscribe(self, topic: bytes) -> None:
        """Receive *topic* too (a ZeroMQ prefix)."""
        self.socket.setsockopt(zmq.SUBSCRIBE, topic)

    def unsubscribe(self, topic: bytes) -> None:
        """Stop receiving *topic*."""
        self.socket.setsockopt(zmq.UNSUBSCRIBE, topic)


def sync_watches(
    poller: zmq.Poller, registered: dict[int, int], wanted: dict[int, Any]
) -> dict[int, int]:
    """Register with *poller* the descriptors the actor watches; return what is registered."""
    now: dict[int, int] = {}
    for fd, (on_readable, on_writable) in wanted.items():
        now[fd] = (zmq.POLLIN if on_readable else 0) | (zmq.POLLOUT if on_writable else 0)
    for fd in registered.keys() - now.keys():
        poller.unregister(fd)
    for fd, flags in now.items():
        if registered.get(fd) != flags:
            poller.register(fd, flags)
    return now
