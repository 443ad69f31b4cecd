"""``python -m supervisor web``: serve the live web view of a running site (shell).

The supervisor starts this command itself when ``[web] listen`` is set (its
:class:`~supervisor.plugins.web.WebPlugin`); run by hand, it serves any
running site (``--listen`` over site.toml's). The token comes from
``[web] token``, from standard input (``--token-stdin``: how the supervisor
hands over the one it made, never in argv or the environment), or is made
now. It is printed with the URL, in the fragment (``#token=``), which a
browser never sends to a server, when standard output is a terminal or no
``[web] token_file`` holds it; otherwise the banner names the file, so that a
log or the journal never holds the token.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from typing import Any, Final

from actors.process import PARENT_ENV, parent_alive, set_title
from actors.site import SiteConfig
from supervisor.core.webaccess import WebAccess, is_loopback

#: The address the view listens on when neither site.toml nor --listen says.
DEFAULT_LISTEN: Final = "127.0.0.1:8080"
EXIT_USAGE: Final = 2
EXIT_UNAVAILABLE: Final = 69


def add_command(sub: Any, config_arg: Any) -> None:
    """Add ``web`` to the command line's subcommands."""
    p = sub.add_parser("web", help="serve the live web view of a running site")
    config_arg(p)
    p.add_argument("--listen", help=f"host:port (default: [web] listen, else {DEFAULT_LISTEN})")
    p.add_argument("--token-stdin", action="store_true", help="read the actions' token from stdin")
    p.add_argument("--foxglove", help="host:port of a Foxglove endpoint (default: [web] foxglove)")


def _host_port(value: str) -> tuple[str, int] | None:
    host, _, port = value.rpartition(":")
    return ((host or "127.0.0.1").strip("[]"), int(port)) if port.isdigit() else None


def cmd_web(site: SiteConfig, args: Any) -> int:
    """Serve until SIGTERM, Ctrl-C, or (when started by one) the supervisor's end."""
    listen = args.listen or site.web.listen or DEFAULT_LISTEN
    foxglove = args.foxglove or site.web.foxglove
    where = _host_port(listen)
    fox = _host_port(foxglove) if foxglove else None
    if where is None or (foxglove and fox is None):
        print(f"error: {listen!r} or {foxglove!r} is not host:port", file=sys.stderr)
        return EXIT_USAGE
    token = site.web.token
    if args.token_stdin:
        token = sys.stdin.readline().strip() or token
    token = token or secrets.token_urlsafe(24)
    set_title(site.site.name, "web")
    try:
        return asyncio.run(_serve(site, where, fox, token))
    except OSError as exc:
        print(f"error: the web view cannot listen on {listen}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE


def access(site: SiteConfig, where: tuple[str, int], token: str) -> WebAccess:
    """What an endpoint listening on *where* lets in: site.toml's tokens and origins."""
    wildcard = where[0].strip("[]") in ("", "0.0.0.0", "::")
    names = {socket.gethostname().lower()} if wildcard else set()  # no lookup: no network
    return WebAccess(
        token=token,
        host=where[0],
        port=where[1],
        read_token=site.web.read_token,
        origins=frozenset(site.web.origins),
        machine_names=frozenset(names),
    )


def _with_token(site: SiteConfig, url: str, token: str) -> str:
    """*url* followed by the token, or by where to find it (a log is not a terminal)."""
    path = site.web.token_file
    try:
        in_file = path.read_text().strip() == token
    except OSError:
        in_file = False
    if in_file and not sys.stdout.isatty():
        return f"{url}... (the token is in {path})"
    return f"{url}{token}"


async def _serve(
    site: SiteConfig, where: tuple[str, int], fox: tuple[str, int] | None, token: str
) -> int:
    from aiohttp import web  # noqa: PLC0415 - only this command needs the web stack

    from supervisor.web.foxglove import SUBPROTOCOL, make_foxglove_app  # noqa: PLC0415
    from supervisor.web.server import HUB, make_app  # noqa: PLC0415

    host, port = where
    app = make_app(site, access(site, where, token), foxglove=fox is not None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    runners = [runner]
    shown = f"[{host}]" if ":" in host else host
    reach = "loopback only" if is_loopback(host) else f"every client that can reach {host}"
    url = f"http://{shown}:{port}/"
    shown_url = _with_token(site, url + "#token=", token)
    print(f"web view of site {site.site.name!r} on {shown_url} ({reach})", flush=True)
    foxglove = app[HUB].foxglove
    if fox is not None and foxglove is not None:
        fox_app = make_foxglove_app(foxglove, access(site, fox, token))
        fox_runner = web.AppRunner(fox_app, access_log=None)
        await fox_runner.setup()
        runners.append(fox_runner)
        await web.TCPSite(fox_runner, *fox).start()
        url = _with_token(site, f"ws://{fox[0]}:{fox[1]}/?token=", token)
        print(f"Foxglove endpoint on {url} ({SUBPROTOCOL})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = int(os.environ[PARENT_ENV]) if os.environ.get(PARENT_ENV, "").isdigit() else None
    try:
        while not stop.is_set():
            with_timeout = asyncio.wait_for(stop.wait(), timeout=0.5)
            try:
                await with_timeout
            except TimeoutError:
                if not parent_alive(parent):
                    break  # the supervisor went: so does its view
    finally:
        for each in reversed(runners):
            await each.cleanup()
    return 0
