"""``python -m supervisor web``: serve the live web view of a running site (shell).

The supervisor starts this command itself when ``[web] listen`` is set (its
:class:`~supervisor.plugins.web.WebPlugin`); run by hand, it serves any
running site (``--listen`` over site.toml's). The actions' token comes from
``[web] token``, from standard input (``--token-stdin``: how the supervisor
hands over the one it made, never in argv or the environment), or is made
now; it is printed with the URL, in the fragment (``#token=``), which a
browser never sends to a server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import signal
import sys
from typing import Any, Final

from actors.process import PARENT_ENV, parent_alive, set_title
from actors.site import SiteConfig

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


def is_loopback(host: str) -> bool:
    """Whether *host* names this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cmd_web(site: SiteConfig, listen: str | None, token_stdin: bool) -> int:
    """Serve until SIGTERM, Ctrl-C, or (when started by one) the supervisor's end."""
    listen = listen or site.web.listen or DEFAULT_LISTEN
    host, _, port = listen.rpartition(":")
    host = host or "127.0.0.1"
    if not port.isdigit():
        print(f"error: --listen {listen!r} is not host:port", file=sys.stderr)
        return EXIT_USAGE
    token = site.web.token
    if token_stdin:
        token = sys.stdin.readline().strip() or token
    token = token or secrets.token_urlsafe(24)
    set_title(site.site.name, "web")
    try:
        return asyncio.run(_serve(site, host.strip("[]"), int(port), token))
    except OSError as exc:
        print(f"error: the web view cannot listen on {listen}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE


async def _serve(site: SiteConfig, host: str, port: int, token: str) -> int:
    from aiohttp import web  # noqa: PLC0415 - only this command needs the web stack

    from supervisor.web.server import make_app  # noqa: PLC0415

    runner = web.AppRunner(make_app(site, token), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    shown = f"[{host}]" if ":" in host else host
    where = "loopback only" if is_loopback(host) else f"every client that can reach {host}"
    print(
        f"web view of site {site.site.name!r} on http://{shown}:{port}/#token={token} "
        f"({where}; read-only without the token)",
        flush=True,
    )
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
        await runner.cleanup()
    return 0
