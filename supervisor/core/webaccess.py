"""Who may read or act through the web view and its Foxglove endpoint (pure core, no IO).

Every HTTP and WebSocket request is held against three things, as Jupyter
does against DNS rebinding and foreign pages:

- its ``Host`` header must name the address the endpoint listens on (its
  loopback names when it listens on loopback; any IP literal or this
  machine's own names when it listens on every address) with its port: a
  page of another site that rebinds its own name to 127.0.0.1 is refused;
- its ``Origin`` header, when there is one (a browser always sends it on a
  WebSocket and on a cross-site request), must be the endpoint's own origin
  or one that ``[web] origins`` names: a page of another site is refused;
- it must carry a token (``Authorization: Bearer``, or ``?token=`` where a
  browser cannot set a header: the WebSocket, a download link), except for the
  page's own files, which hold nothing of the site. The action token may read
  and act; the read token (``[web] read_token``, when set) may only read.

:func:`decide` returns the role the request has, or :class:`Refused` with the
status and the reason to answer. Nothing here logs a token.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Final, Literal

#: What a request is for: the page's own files, reading the site, or acting on it.
Need = Literal["page", "read", "act"]
#: The roles a token gives.
Role = Literal["admin", "read"]
#: Names every loopback listener also answers to.
LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS: Final = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True)
class Refused:
    """The request is refused: answer *status* with *reason* (which names no token)."""

    status: int
    reason: str


@dataclass(frozen=True)
class WebAccess:
    """What one endpoint (the view or the Foxglove endpoint) lets in."""

    #: The action token (reads and acts).
    token: str
    #: The host and port the endpoint listens on (``listen`` of site.toml, split).
    host: str
    port: int
    #: A read-only token ("": none).
    read_token: str = ""
    #: Origins let in besides the endpoint's own (``[web] origins``).
    origins: frozenset[str] = frozenset()
    #: This machine's own names (for an endpoint that listens on every address).
    machine_names: frozenset[str] = frozenset()

    def host_ok(self, header: str | None) -> bool:
        """Whether a ``Host`` header names this endpoint."""
        parsed = split_host(header or "")
        if parsed is None:
            return False
        name, port = parsed
        if port != self.port:
            return False
        listen = self.host.strip("[]").lower()
        if listen in _WILDCARDS:
            return is_ip(name) or name in LOOPBACK_NAMES or name in self.machine_names
        if is_loopback(listen):
            return name == listen or name in LOOPBACK_NAMES
        return name == listen

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """Whether an ``Origin`` header (absent: not a browser's cross-site request) is let in."""
        if origin is None:
            return True
        origin = origin.strip().lower()
        own = {f"http://{(host_header or '').lower()}", f"https://{(host_header or '').lower()}"}
        return origin in own or origin in self.origins

    def role(self, given: str) -> Role | None:
        """The role a token gives (compared in constant time), or None."""
        if not given:
            return None
        if hmac.compare_digest(given.encode(), self.token.encode()):
            return "admin"
        if self.read_token and hmac.compare_digest(given.encode(), self.read_token.encode()):
            return "read"
        return None


def decide(
    access: WebAccess, need: Need, host: str | None, origin: str | None, given: str
) -> Role | Refused | None:
    """The role of a request for *need* (None: no token, which only the page's files
    accept), or why it is refused."""
    if not access.host_ok(host):
        return Refused(403, "forbidden: the Host header does not name this endpoint")
    if not access.origin_ok(origin, host):
        return Refused(403, "forbidden: requests from another site's page are refused")
    role = access.role(given)
    if need == "page":
        return role
    if role is None:
        what = "actions need" if need == "act" else "reading the site needs"
        return Refused(403, f"forbidden: {what} the token (see [web] token_file)")
    if need == "act" and role != "admin":
        return Refused(403, "forbidden: the read token cannot act")
    return role


def bearer(authorization: str | None, query_token: str | None) -> str:
    """The token a request carries: its ``Authorization: Bearer`` header, else ``?token=``."""
    given = (authorization or "").strip()
    if given[:7].lower() == "bearer ":
        return given[7:].strip()
    return (query_token or "").strip()


def split_host(header: str) -> tuple[str, int] | None:
    """``host:port`` or ``[v6]:port`` of a Host header, lowercased (port 80 if none)."""
    header = header.strip().lower()
    if not header:
        return None
    if header.startswith("["):
        name, sep, rest = header[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else "80"
    else:
        name, _, port_text = header.partition(":")
        port_text = port_text or "80"
    if not port_text.isdigit() or not name:
        return None
    return name, int(port_text)


def is_ip(name: str) -> bool:
    """Whether *name* is an IP address literal."""
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether *host* names this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
