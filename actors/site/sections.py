"""The ``[faults]`` and ``[web]`` sections of site.toml, and the address checks they share
with the rest of :mod:`actors.site.parse` (pure core, no IO).

Each parser takes the collector of problems (anything with ``add(key, reason)``):
every bad value is reported with its key, and what is sound is kept.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final, Protocol

from actors.core.faults import FaultError, parse_faults, parse_rule
from actors.site.model import FaultsConfig, WebConfig

_HOST: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9\-.]{0,251}[A-Za-z0-9])?")
MAX_PORT: Final = 65535
#: ``[web]``'s keys, their types and defaults.
_WEB_KEYS: Final[dict[str, tuple[type, Any]]] = {
    "listen": (str, ""),
    "token": (str, ""),
    "foxglove": (str, ""),
}
#: The shortest token accepted (characters): a short one is guessed.
MIN_TOKEN: Final = 16


class Problems(Protocol):
    """Where a parser reports what is wrong."""

    def add(self, key: str, reason: str) -> None: ...


def host_ok(host: str) -> bool:
    """A host name, an IPv4 address or a bracketed IPv6 address."""
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return bool(_HOST.fullmatch(host))


def port_ok(port: str) -> bool:
    """A TCP port number, 1 to 65535."""
    return port.isdigit() and 1 <= int(port) <= MAX_PORT


def parse_faults_section(col: Problems, data: Any, actors: set[str]) -> FaultsConfig:
    """``[faults]``: every bad rule reported (each names its key); the good ones kept."""
    if data is None:
        return FaultsConfig()
    if not isinstance(data, dict):
        col.add("faults", f"must be a table, got {type(data).__name__}")
        return FaultsConfig()
    try:
        seed, _ = parse_faults({k: v for k, v in data.items() if k != "rules"})
    except FaultError as exc:
        col.add(exc.key, exc.reason)
        seed = 0
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        col.add("faults.rules", "must be an array of tables ([[faults.rules]])")
        return FaultsConfig(seed)
    good = []
    for i, table in enumerate(rules):
        where = f"faults.rules[{i}]"
        try:
            rule = parse_rule(i, table, where)
        except FaultError as exc:
            col.add(exc.key, exc.reason)
            continue
        for key, name in (("to", rule.to), ("from", rule.sender)):
            if name is not None and name not in actors:
                col.add(f"{where}.{key}", f"names unknown actor {name!r}")
        good.append(rule)
    return FaultsConfig(seed, tuple(good))


def parse_web(col: Problems, data: Any) -> WebConfig:
    """``[web]``: where the web view listens (off when empty; a bare ``:port`` is loopback)
    and the token its actions need (empty: one is made at each start)."""
    if data is None:
        return WebConfig()
    if not isinstance(data, dict):
        col.add("web", f"must be a table, got {type(data).__name__}")
        return WebConfig()
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _WEB_KEYS:
            col.add(f"web.{key}", f"unknown key (known: {', '.join(_WEB_KEYS)})")
            continue
        kind = _WEB_KEYS[key][0]
        if not isinstance(value, kind):
            col.add(f"web.{key}", f"expected {kind.__name__}, got {type(value).__name__}")
            continue
        values[key] = value
    listen = _address(col, "web.listen", values.get("listen", ""), "127.0.0.1:8080")
    foxglove = _address(col, "web.foxglove", values.get("foxglove", ""), "127.0.0.1:8765")
    if foxglove and not listen:
        col.add("web.foxglove", "needs web.listen: the Foxglove endpoint is served by the view")
    token = values.get("token", "")
    if token and (len(token) < MIN_TOKEN or not token.isprintable() or " " in token):
        col.add("web.token", f"must be at least {MIN_TOKEN} printable characters, no spaces")
        token = ""
    return WebConfig(listen=listen, token=token, foxglove=foxglove)


def _address(col: Problems, key: str, value: str, example: str) -> str:
    """host:port checked ("" if bad or unset); a bare ``:port`` is loopback."""
    host, _, port = value.rpartition(":")
    if value and not ((not host or host_ok(host)) and port_ok(port)):
        col.add(key, f"{value!r} is not host:port, port 1 to {MAX_PORT} (e.g. {example})")
        return ""
    return f"127.0.0.1:{port}" if value and not host else value
