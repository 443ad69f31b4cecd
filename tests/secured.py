"""Helpers of the tests of a secured site: raw CURVE sockets with a key of the test's
choosing, and the supervisor's events read in order."""

from __future__ import annotations

import os
import time
from typing import Any

import zmq

from actors.core.wire import encode_envelope
from actors.keys import ClientKeys
from actors.sockets import SocketFactory
from actors.testing import Mesh


def curve_socket(ctx: zmq.Context[Any], kind: int, keys: ClientKeys | None) -> zmq.Socket[Any]:
    """A socket of *kind* that connects with *keys* (None: without CURVE)."""
    sock = SocketFactory(ctx, keys=keys).ctx.socket(kind)
    if keys is not None:
        sock.curve_serverkey = keys.server
        sock.curve_publickey = keys.public
        sock.curve_secretkey = keys.secret
    sock.linger = 0
    return sock


def raw_link(ctx: zmq.Context[Any], site: Mesh, keys: ClientKeys) -> zmq.Socket[Any]:
    """A PUB on the site's broker with *keys*, connected (proven by one allowed probe)."""
    pub = curve_socket(ctx, zmq.PUB, keys)
    pub.connect(site.site.broker.pub_connect)
    sub = curve_socket(ctx, zmq.SUB, keys)
    probe = f"$sys.probe.forger-{os.getpid()}".encode()
    sub.setsockopt(zmq.SUBSCRIBE, probe)
    sub.connect(site.site.broker.sub_connect)
    deadline = time.monotonic() + 10
    while not sub.poll(20):
        assert time.monotonic() < deadline, "the forger never got through to the broker"
        pub.send_multipart([probe, encode_envelope(keys.identity.name, 1, time.time_ns(), 0)])
    sub.close()
    return pub


def events(site: Mesh, cursor: int, kind: str, count: int) -> list[dict[str, Any]]:
    """The next *count* ``$sys.event`` payloads of *kind* after *cursor*."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while len(found) < count:
        assert time.monotonic() < deadline, f"only {len(found)} {kind} events: {found}"
        message = site.wait_for(
            "$sys.event", lambda p: isinstance(p, dict) and p.get("event") == kind, after=cursor
        )
        found.append(message.envelope.payload)
        cursor = site._index_of(message) + 1
    return found
