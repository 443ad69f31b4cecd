"""The web view's door (shell): an aiohttp middleware that holds every request against
:mod:`supervisor.core.webaccess` before any handler runs, for the view and for its
Foxglove endpoint alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from supervisor.core.webaccess import Need, Refused, WebAccess, bearer, decide

#: The role (``admin`` or ``read``) the request's token gave, set by :func:`guard`.
ROLE: Final = "enlil.role"


def _need(request: web.Request) -> Need:
    path = request.path
    if path == "/" or path.startswith("/static/"):
        return "page"
    return "act" if path == "/api/action" else "read"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(access: WebAccess, need: Callable[[web.Request], Need] = _need) -> Middleware:
    """A middleware that holds every request against *access* before any handler runs
    (*need* tells what a request is for: the view's pages, reading, acting)."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = bearer(request.headers.get("Authorization"), request.query.get("token"))
        verdict = decide(
            access, need(request), request.headers.get("Host"), request.headers.get("Origin"), given
        )
        if isinstance(verdict, Refused):
            return web.json_response({"ok": False, "error": verdict.reason}, status=verdict.status)
        request[ROLE] = verdict
        return await handler(request)

    return check
