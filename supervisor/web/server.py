"""The web view's server: pages, a WebSocket that pushes the site live, actions (shell).

``python -m supervisor web --config site.toml`` (or the supervisor itself, when
``[web] listen`` is set) runs :func:`serve` in a process of its own: it sees
the site as any tool does, through the control endpoint and the broker
(:class:`~supervisor.web.bridge.SiteBridge`), so it never slows the
supervisor's loop. aiohttp serves the page (``static/``: plain HTML, CSS and
JavaScript, nothing from the network) and ``/ws``, where each page gets the
site table and live graph every second, the events feed, and the messages of
the topics it taps (a bounded sample per push). Every request is held
against :mod:`supervisor.core.webaccess` first (its Host, its Origin, its
token): reading the site needs a token, actions (restart, stop, start, swap,
log level) the action token (``Authorization: Bearer TOKEN``, or ``?token=``
on the WebSocket and a download link).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any, Final

from aiohttp import WSMsgType, web

from actors.core.topics import TopicError, parse_pattern
from actors.site import SiteConfig
from supervisor.core.webaccess import WebAccess
from supervisor.core.webfeed import EVENTS_KEPT, SiteView, Tap, event_row, gap_row
from supervisor.docs import declared_types
from supervisor.web.bridge import SiteBridge
from supervisor.web.foxglove import FoxgloveBridge
from supervisor.web.guard import ROLE, guard
from supervisor.web.pages import actor_page, snapshot_file, snapshot_list, snapshot_view

STATIC: Final = Path(__file__).parent / "static"
#: Seconds between two pushes to a page (taps and events are batched).
PUSH: Final = 0.25
#: Topics one page may tap at once.
MAX_TAPS: Final = 8
#: The ops an action may ask for, and the arguments each needs (then those it may have).
ACTIONS: Final = {
    "restart": (("name",), ()),
    "stop": (("name",), ()),
    "start": (("name",), ()),
    "loglevel": (("name", "level"), ()),
    "swap": (("name",), ("class",)),
}
#: Bytes of a WebSocket message from a page, at most.
MAX_INBOUND: Final = 4096


def _json(value: Any) -> str:
    return json.dumps(value, default=_fallback, separators=(",", ":"))


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": value[:256].hex(), "size": len(value)}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


class Page:
    """One connected page: what it taps, and what waits to be pushed to it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.taps: set[str] = set()
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)


class Hub:
    """What every page sees; fed by the bridge (on the event loop's thread)."""

    def __init__(self, site: SiteConfig, types: dict[str, Any] | None) -> None:
        self.site = site
        self.view = SiteView()
        self.latest: dict[str, Any] | None = None
        #: The last ``status`` reply itself (an actor's page reads its metrics).
        self.status: dict[str, Any] | None = None
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        self.taps: dict[str, Tap] = {}
        self.pages: weakref.WeakSet[Page] = weakref.WeakSet()
        self.loop = asyncio.get_running_loop()
        self.bridge = SiteBridge(site, self._from_thread)
        #: The Foxglove endpoint's side (with the declared topics' types), if it is served.
        self.foxglove = (
            FoxgloveBridge(site.site.name, types, self.bridge.tap) if types is not None else None
        )

    def _from_thread(self, kind: str, data: Any) -> None:
        self.loop.call_soon_threadsafe(self.take, kind, data)

    def take(self, kind: str, data: Any) -> None:
        """A status reply or a message from the bridge."""
        if kind == "status":
            if data is None:
                self.latest = {"type": "site", "down": True, "actors": [], "graph": {}}
            else:
                self.latest = self.view.update(data, time.monotonic())
                gaps, self.view.new_gaps = self.view.new_gaps, []
                for actor, missed, total in gaps:
                    self._event(gap_row(actor, missed, total, time.time()))
                if self.foxglove is not None:  # the topics (not the services) on the graph
                    topics = [
                        e["topic"]
                        for e in self.latest["graph"]["edges"]
                        if e["from"].startswith("t:") or e["to"].startswith("t:")
                    ]
                    self.loop.create_task(self.foxglove.seen(topics))
            self.status = data
            return
        topic, sender, seq, payload, at = data
        if self.foxglove is not None:
            self.foxglove.message(topic, sender, seq, payload, at)
        for pattern, tap in self.taps.items():
            if parse_pattern(pattern).matches(topic):
                tap.take(sender, seq, payload if topic == tap.topic else [topic, payload], at)
        if topic == "$sys.fault" and isinstance(payload, dict):
            self.view.take_fault(payload)
        if topic == "$sys.event" and isinstance(payload, dict) and payload.get("event") == "exited":
            marked = self.view.exited(str(payload.get("actor")), time.monotonic(), self.latest)
            self.latest = marked or self.latest
        if topic.startswith("$sys.") and (row := event_row(topic, sender, payload, at)):
            self._event(row)

    def _event(self, row: dict[str, Any]) -> None:
        self.events.append(row)
        for page in self.pages:
            page.events.append(row)

    def tap(self, page: Page, topic: str, on: bool) -> None:
        """Page *page* starts or stops watching *topic*."""
        if on and topic not in page.taps and len(page.taps) < MAX_TAPS:
            page.taps.add(topic)
            if topic not in self.taps:
                self.taps[topic] = Tap(topic)
                self.bridge.tap(topic, True)
        elif not on and topic in page.taps:
            page.taps.discard(topic)
            self._untap_unwatched(topic)

    def _untap_unwatched(self, topic: str) -> None:
        if topic in self.taps and not any(topic in p.taps for p in self.pages):
            del self.taps[topic]
            self.bridge.tap(topic, False)

    async def push(self) -> None:
        """Every :data:`PUSH` seconds: the site, new events and taps to every page."""
        sent_site: dict[int, int] = {}
        while True:
            await asyncio.sleep(PUSH)
            now = time.monotonic()
            batches = {topic: tap.drain(now) for topic, tap in self.taps.items()}
            site = self.latest
            for page in list(self.pages):
                out: list[dict[str, Any]] = []
                if site is not None and sent_site.get(id(page)) != id(site):
                    sent_site[id(page)] = id(site)
                    out.append(site)
                if page.events:
                    out.append({"type": "events", "events": list(page.events)})
                    page.events.clear()
                out += [batches[t] for t in page.taps if t in batches]
                for message in out:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await page.ws.send_str(_json(message))


HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def socket(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_INBOUND)
    await ws.prepare(request)
    page = Page(ws)
    hub.pages.add(page)
    first: list[dict[str, Any]] = [{"type": "hello", "role": request[ROLE]}]
    if hub.latest is not None:
        first.append(hub.latest)
    first.append({"type": "events", "events": list(hub.events)})
    for message in first:
        await ws.send_str(_json(message))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                ask = json.loads(msg.data)
                topic = str(ask["topic"])
                parse_pattern(topic)
            except (ValueError, KeyError, TypeError, TopicError):
                await ws.send_str(_json({"type": "error", "message": "bad tap request"}))
                continue
            hub.tap(page, topic, ask.get("op") != "untap")
    finally:
        hub.pages.discard(page)
        for topic in list(page.taps):
            page.taps.discard(topic)
            hub._untap_unwatched(topic)
    return ws


async def action(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    try:
        ask = await request.json()
        op = str(ask["op"])
        needed, optional = ACTIONS[op]
        args = {key: str(ask[key]) for key in needed}
        args |= {key: str(ask[key]) for key in optional if ask.get(key)}
    except (ValueError, KeyError, TypeError):
        return web.json_response(
            {"ok": False, "error": f"an action is one of {', '.join(ACTIONS)} with its arguments"},
            status=400,
        )
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(None, _request, hub.site, op, args)
    except Exception as exc:  # noqa: BLE001 - the page shows what the supervisor said
        return web.json_response({"ok": False, "error": str(exc)}, status=409)
    return web.json_response({"ok": True, "result": result}, dumps=_json)


def _request(site: SiteConfig, op: str, args: dict[str, str]) -> Any:
    from supervisor.client import ControlClient  # noqa: PLC0415 - one per action, own thread

    with ControlClient.for_site(site, 30.0) as client:
        return client.request(op, None, **args)


async def snapshots(request: web.Request) -> web.StreamResponse:
    return web.json_response(snapshot_list(request.app[HUB].site), dumps=_json)


async def snapshot(request: web.Request) -> web.StreamResponse:
    site = request.app[HUB].site
    path = snapshot_file(site, request.match_info["actor"], request.match_info["file"])
    if path is None:
        raise web.HTTPNotFound(text="no such snapshot")
    if request.query.get("download"):
        return web.FileResponse(
            path, headers={"Content-Disposition": f'attachment; filename="{path.name}"'}
        )
    return web.json_response(snapshot_view(site, path), dumps=_json)


async def actor(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    loop = asyncio.get_running_loop()  # the first page imports the actors' classes
    page = await loop.run_in_executor(
        None, actor_page, hub.site, request.match_info["name"], hub.status
    )
    if page is None:
        raise web.HTTPNotFound(text="no such actor")
    return web.json_response(page, dumps=_json)


def make_app(site: SiteConfig, access: WebAccess, foxglove: bool = False) -> web.Application:
    """The application: pages, ``/ws``, ``/api/...``, every request let in by *access* (and,
    with *foxglove*, the hub's side of a Foxglove endpoint:
    :func:`~supervisor.web.foxglove.make_foxglove_app` serves it)."""
    app = web.Application(client_max_size=64 * 1024, middlewares=[guard(access)])

    async def start(app: web.Application) -> Any:
        types = None
        if foxglove:  # the actors' classes tell the topics' types (imported once, aside)
            types = await asyncio.get_running_loop().run_in_executor(None, declared_types, site)
        hub = Hub(site, types)
        app[HUB] = hub
        hub.bridge.start()
        pusher = asyncio.create_task(hub.push())
        yield
        pusher.cancel()
        hub.bridge.stop()
        for page in list(hub.pages):
            await page.ws.close()

    app.cleanup_ctx.append(start)
    app.router.add_get("/", index)
    app.router.add_get("/ws", socket)
    app.router.add_post("/api/action", action)
    app.router.add_get("/api/snapshots", snapshots)
    app.router.add_get("/api/snapshots/{actor}/{file}", snapshot)
    app.router.add_get("/api/actors/{name}", actor)
    app.router.add_static("/static/", STATIC)
    return app
