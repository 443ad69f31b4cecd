"""A Foxglove WebSocket protocol endpoint: Foxglove and Lichtblick panels on enlil topics
(shell).

Our implementation of the published spec (``foxglove.websocket.v1``, JSON
messages): on connect, ``serverInfo`` and an ``advertise`` of a channel per
topic, each with the JSON Schema of its records (:mod:`actors.core.records`:
``{"value", "sender", "seq"}``, the value's schema from the declared type; a topic of
one of Foxglove's well-known types in Foxglove's own form, :mod:`actors.messages`);
topics seen on the live graph later are advertised as they appear. A
``subscribe`` makes the web view's bridge read the topic; each message then
goes to the client as a binary ``MESSAGE_DATA`` frame (opcode 1, subscription
id, the envelope's time in nanoseconds, the record). A client that reads too
slowly loses messages (at most :data:`QUEUE` wait for it), never the view.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import uuid
from typing import Any, Final

from aiohttp import WSMsgType, web

from actors.core.records import MESSAGE_ENCODING, SCHEMA_ENCODING, ChannelForm, channel_form
from supervisor.core.webaccess import WebAccess
from supervisor.web.guard import guard

SUBPROTOCOL: Final = "foxglove.websocket.v1"
#: Messages waiting for one client, at most (then the newest are dropped and counted).
QUEUE: Final = 1000
_MESSAGE_DATA: Final = 1
_HEADER: Final = struct.Struct("<BIQ")
#: Bytes of a message from a client, at most.
MAX_INBOUND: Final = 64 * 1024


class FoxgloveClient:
    """One connected client: its subscriptions and what waits to be sent to it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        #: subscription id -> channel id
        self.subscriptions: dict[int, int] = {}
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        self.dropped = 0


class FoxgloveBridge:
    """The channels (a topic each) and the clients; fed with every message the view reads."""

    def __init__(self, site_name: str, types: dict[str, Any], tap: Any) -> None:
        self.site_name = site_name
        self.types = types
        #: tap(topic, on): start or stop reading a topic (the view's bridge).
        self.tap = tap
        self.channels: dict[int, dict[str, Any]] = {}
        self.by_topic: dict[str, int] = {}
        #: How each channel's messages are written (Foxglove's form for its own types).
        self.forms: dict[int, ChannelForm] = {}
        self.clients: set[FoxgloveClient] = set()
        self.session = uuid.uuid4().hex
        for topic in sorted(types):
            if topic[:1] != "$":  # the framework's topics are not the site's channels
                self._channel(topic)

    def _channel(self, topic: str) -> dict[str, Any]:
        ident = self.by_topic.get(topic)
        if ident is not None:
            return self.channels[ident]
        ident = len(self.channels) + 1
        form = channel_form(topic, self.types.get(topic, object))
        channel = {
            "id": ident,
            "topic": topic,
            "encoding": MESSAGE_ENCODING,
            "schemaName": form.schema_name,
            "schema": json.dumps(form.schema),
            "schemaEncoding": SCHEMA_ENCODING,
        }
        self.channels[ident] = channel
        self.forms[ident] = form
        self.by_topic[topic] = ident
        return channel

    async def seen(self, topics: list[str]) -> None:
        """Concrete topics that flow (on the live graph): advertise those that are new. A
        family (``room.*``) is never a channel: each of its topics is, once it flows."""
        new = [
            self._channel(t)
            for t in topics
            if t not in self.by_topic and t[:1] != "$" and "*" not in t
        ]
        if new:
            text = json.dumps({"op": "advertise", "channels": new})
            for client in list(self.clients):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await client.ws.send_str(text)

    def message(self, topic: str, sender: str, seq: int, payload: Any, at: float) -> None:
        """A message the view read: to each client subscribed to its channel."""
        ident = self.by_topic.get(topic)
        if ident is None or not self.clients:
            return
        data: bytes | None = None
        for client in self.clients:
            for sub, channel in client.subscriptions.items():
                if channel != ident:
                    continue
                if data is None:
                    data = self.forms[ident].encode(payload, sender, seq)
                frame = _HEADER.pack(_MESSAGE_DATA, sub, int(at * 1e9)) + data
                try:
                    client.queue.put_nowait(frame)
                except asyncio.QueueFull:
                    client.dropped += 1

    def _watched(self) -> set[int]:
        return {c for client in self.clients for c in client.subscriptions.values()}

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """One client, from its handshake to its close; refused (400) unless it offers the
        ``foxglove.websocket.v1`` subprotocol, as the spec asks."""
        offered = {
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        }
        if SUBPROTOCOL not in offered:
            return web.json_response(
                {"ok": False, "error": f"the WebSocket must offer the {SUBPROTOCOL} subprotocol"},
                status=400,
            )
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), max_msg_size=MAX_INBOUND)
        await ws.prepare(request)
        client = FoxgloveClient(ws)
        self.clients.add(client)
        sender = asyncio.create_task(self._send(client))
        try:
            await ws.send_str(
                json.dumps(
                    {
                        "op": "serverInfo",
                        "name": f"enlil site {self.site_name}",
                        # No capability (clientPublish...) needs supportedEncodings: not sent.
                        "capabilities": [],
                        "metadata": {},
                        "sessionId": self.session,
                    }
                )
            )
            channels = list(self.channels.values())
            await ws.send_str(json.dumps({"op": "advertise", "channels": channels}))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._request(client, msg.data)
        finally:
            sender.cancel()
            self.clients.discard(client)
            before = set(client.subscriptions.values())
            for channel in before - self._watched():
                self.tap(self.channels[channel]["topic"], False)
        return ws

    async def _request(self, client: FoxgloveClient, text: str) -> None:
        try:
            ask = json.loads(text)
            op = ask["op"]
            if op == "subscribe":
                for sub in ask["subscriptions"]:
                    sid, channel = int(sub["id"]), int(sub["channelId"])
                    if channel not in self.channels:
                        raise ValueError(f"no channel {channel}")
                    if channel not in self._watched():
                        self.tap(self.channels[channel]["topic"], True)
                    client.subscriptions[sid] = channel
            elif op == "unsubscribe":
                for sid in ask["subscriptionIds"]:
                    channel = client.subscriptions.pop(int(sid), 0)  # ids start at 1
                    if channel and channel not in self._watched():
                        self.tap(self.channels[channel]["topic"], False)
            else:
                raise ValueError(f"operation {op!r} is not supported")
        except (ValueError, KeyError, TypeError) as exc:
            status = {"op": "status", "level": 2, "message": f"refused: {exc}"}
            await client.ws.send_str(json.dumps(status))

    async def _send(self, client: FoxgloveClient) -> None:
        warned = 0
        while True:
            frame = await client.queue.get()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await client.ws.send_bytes(frame)
            if client.dropped > warned:
                warned = client.dropped
                text = f"{warned} message(s) dropped: this client reads too slowly"
                status = {"op": "status", "level": 1, "message": text}
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await client.ws.send_str(json.dumps(status))


def make_foxglove_app(bridge: FoxgloveBridge, access: WebAccess) -> web.Application:
    """The Foxglove endpoint's application (one WebSocket route, ``/``), every request let
    in by *access* (a token in ``?token=``, as a Foxglove or Lichtblick user writes it in
    the connection's URL; either token reads)."""
    app = web.Application(middlewares=[guard(access, lambda _request: "read")])
    app.router.add_get("/", bridge.serve)
    return app
