"""The ``[faults]``, ``[web]`` and ``[security]`` sections of site.toml, the checks across
actors (``after``, ``control``), and the address checks they share with the rest of
:mod:`actors.site.parse` (pure core, no IO).

Each parser takes the collector of problems (anything with ``add(key, reason)``):
every bad value is reported with its key, and what is sound is kept.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Final, Protocol

from actors.core.access import ROLES, AccessError, ControlRights, Rights
from actors.core.faults import FaultError, parse_faults, parse_rule
from actors.site import site_keys
from actors.site.model import (
    CURVE_MODES,
    ActorConfig,
    FaultsConfig,
    SecurityConfig,
    WebConfig,
)

_HOST: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9\-.]{0,251}[A-Za-z0-9])?")
MAX_PORT: Final = 65535
_TOKEN: Final = re.compile(r"[A-Za-z0-9._~-]+")
_ORIGIN: Final = re.compile(r"(https?|file|app|electron)://[^\s/]*")
#: ``[web]``'s keys, their types and defaults.
WEB_KEYS: Final[dict[str, tuple[tuple[type, ...], Any]]] = {
    k.name: (k.types, k.default) for k in site_keys.WEB_KEYS
}
#: ``[security]``'s keys, their types and defaults.
SECURITY_KEYS: Final[dict[str, tuple[tuple[type, ...], Any]]] = {
    k.name: (k.types, k.default) for k in site_keys.SECURITY_KEYS
}
_ACCESS_KEYS: Final = ("publish", "subscribe", "deny_publish", "deny_subscribe")
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


def parse_faults_section(
    col: Problems, data: Any, actors: set[str], hosts: set[str] | None = None
) -> FaultsConfig:
    """``[faults]``: every bad rule reported (each names its key); the good ones kept
    (``to`` and ``from`` name *actors*, or, at the host hop, *hosts*)."""
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
        known, what = (hosts or set(), "host") if rule.hop == "host" else (actors, "actor")
        for key, name in (("to", rule.to), ("from", rule.sender)):
            if name is not None and name not in known:
                col.add(f"{where}.{key}", f"names unknown {what} {name!r}")
        good.append(rule)
    return FaultsConfig(seed, tuple(good))


def parse_web(col: Problems, data: Any, folder: Path, run_dir: Path) -> WebConfig:
    """``[web]``: where the web view listens (off when empty; a bare ``:port`` is loopback),
    its tokens (empty: one is made at each start), the file the token is written to
    (relative: to site.toml's *folder*) and the foreign origins it lets in."""
    if data is None:
        return WebConfig(token_file=run_dir / "web.token")
    if not isinstance(data, dict):
        col.add("web", f"must be a table, got {type(data).__name__}")
        return WebConfig(token_file=run_dir / "web.token")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in WEB_KEYS:
            col.add(f"web.{key}", f"unknown key (known: {', '.join(WEB_KEYS)})")
            continue
        kinds = WEB_KEYS[key][0]
        if not isinstance(value, kinds):
            names = " or ".join(t.__name__ for t in kinds)
            col.add(f"web.{key}", f"expected {names}, got {type(value).__name__}")
            continue
        values[key] = value
    listen = _address(col, "web.listen", values.get("listen", ""), "127.0.0.1:8080")
    foxglove = _address(col, "web.foxglove", values.get("foxglove", ""), "127.0.0.1:8765")
    if foxglove and not listen:
        col.add("web.foxglove", "needs web.listen: the Foxglove endpoint is served by the view")
    tokens = {}
    for key in ("token", "read_token"):
        token = values.get(key, "")
        if token and not _token_ok(token):
            col.add(f"web.{key}", f"must be at least {MIN_TOKEN} characters of A-Z a-z 0-9 - _ .")
            token = ""
        tokens[key] = token
    if tokens["token"] and tokens["token"] == tokens["read_token"]:
        col.add("web.read_token", "must differ from web.token (that one also acts)")
        tokens["read_token"] = ""
    origins = []
    for i, origin in enumerate(values.get("origins", [])):
        if not (isinstance(origin, str) and _ORIGIN.fullmatch(origin)):
            col.add(f"web.origins[{i}]", f"{origin!r} is not an origin (scheme://host[:port])")
            continue
        origins.append(origin.lower())
    token_file = Path(values.get("token_file") or run_dir / "web.token")
    return WebConfig(
        listen=listen,
        token=tokens["token"],
        foxglove=foxglove,
        read_token=tokens["read_token"],
        token_file=token_file if token_file.is_absolute() else folder / token_file,
        origins=tuple(origins),
    )


def _token_ok(token: str) -> bool:
    # Only characters that pass unquoted through a URL's query and fragment.
    return len(token) >= MIN_TOKEN and bool(_TOKEN.fullmatch(token))


def _address(col: Problems, key: str, value: str, example: str) -> str:
    """host:port checked ("" if bad or unset); a bare ``:port`` is loopback."""
    host, _, port = value.rpartition(":")
    if value and not ((not host or host_ok(host)) and port_ok(port)):
        col.add(key, f"{value!r} is not host:port, port 1 to {MAX_PORT} (e.g. {example})")
        return ""
    return f"127.0.0.1:{port}" if value and not host else value


def parse_security(col: Problems, data: Any, folder: Path) -> SecurityConfig:
    """``[security]``: whether CURVE is on, the key folder, the roles and access rules;
    every bad value reported with its key."""
    if data is None:
        return SecurityConfig(keys=folder / "keys")
    if not isinstance(data, dict):
        col.add("security", f"must be a table, got {type(data).__name__}")
        return SecurityConfig(keys=folder / "keys")
    values: dict[str, Any] = {k: default for k, (_, default) in SECURITY_KEYS.items()}
    for key, value in data.items():
        if key not in SECURITY_KEYS:
            col.add(f"security.{key}", f"unknown key (known: {', '.join(SECURITY_KEYS)})")
        elif not isinstance(value, SECURITY_KEYS[key][0]):
            names = " or ".join(t.__name__ for t in SECURITY_KEYS[key][0])
            col.add(f"security.{key}", f"expected {names}, got {type(value).__name__}")
        else:
            values[key] = value
    curve = values["curve"]
    curve = ("on" if curve else "off") if isinstance(curve, bool) else curve
    if curve not in CURVE_MODES:
        col.add("security.curve", f'{curve!r} is not true, false or "auto"')
        curve = "auto"
    for key, role in [("default_role", values["default_role"])] + [
        (f"roles.{k}", v) for k, v in values["roles"].items()
    ]:
        if role not in ROLES:
            col.add(f"security.{key}", f"{role!r} is not a role (roles: {', '.join(ROLES)})")
    roles = {k: v for k, v in values["roles"].items() if v in ROLES}
    keys = Path(values["keys"])
    paths = []
    for i, glob in enumerate(values["paths"]):
        if not isinstance(glob, str) or not glob:
            col.add(f"security.paths[{i}]", "expected a path or glob (e.g. /dev/ttyUSB*)")
        else:
            paths.append(glob if Path(glob).is_absolute() else str((folder / glob).resolve()))
    return SecurityConfig(
        curve=curve,
        keys=keys if keys.is_absolute() else (folder / keys).resolve(),
        checks=values["checks"],
        default_role=values["default_role"] if values["default_role"] in ROLES else "read",
        roles=roles,
        access=_access(col, values["access"]),
        paths=tuple(paths),
    )


def _access(col: Problems, data: dict[str, Any]) -> dict[str, Rights]:
    """``[security.access.NAME]`` tables: lists of topic patterns under known keys."""
    out = {}
    for name, table in data.items():
        where = f"security.access.{name}"
        if not isinstance(table, dict):
            col.add(where, f"must be a table, got {type(table).__name__}")
            continue
        lists: dict[str, list[str]] = {}
        for key, value in table.items():
            if key not in _ACCESS_KEYS:
                col.add(f"{where}.{key}", f"unknown key (known: {', '.join(_ACCESS_KEYS)})")
            elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                col.add(f"{where}.{key}", "expected a list of topic patterns")
            else:
                try:
                    Rights.of(value)
                except AccessError as exc:
                    col.add(f"{where}.{key}", str(exc))
                else:
                    lists[key] = value
        out[name] = Rights.of(*(lists.get(key, []) for key in _ACCESS_KEYS))
    return out


def control_rights(col: Problems, key: str, value: Any) -> ControlRights:
    """``[actors.NAME] control``: the actors it may start, stop, restart or ask about."""
    rights, problems = ControlRights.parse(value)
    for problem in problems:
        sub, reason = problem.split(": ", 1)
        col.add(key + sub, reason)
    return rights


def check_control(col: Problems, actors: dict[str, ActorConfig]) -> None:
    """Unknown names in ``control``; an actor that would stop or restart itself."""
    for name, actor in actors.items():
        for unknown in sorted(actor.control.named() - set(actors)):
            col.add(f"actors.{name}.control", f"names unknown actor {unknown!r}")
        for op in ("stop", "restart"):
            if name in actor.control.targets.get(op, ()):
                col.add(
                    f"actors.{name}.control",
                    f"an actor cannot {op} itself (its answer would never reach it)",
                )


def check_after(col: Problems, actors: dict[str, ActorConfig]) -> None:
    """Unknown names and cycles in ``after``."""
    for name, actor in actors.items():
        for dep in actor.after:
            if dep == name:
                col.add(f"actors.{name}.after", "an actor cannot start after itself")
            elif dep not in actors:
                col.add(f"actors.{name}.after", f"names unknown actor {dep!r}")
    # Depth-first search for a cycle; report it once, as a path.
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(actors, WHITE)
    stack: list[str] = []

    def visit(name: str) -> bool:
        colour[name] = GREY
        stack.append(name)
        for dep in actors[name].after:
            if dep not in actors or dep == name:
                continue
            if colour[dep] == GREY:
                cycle = [*stack[stack.index(dep) :], dep]
                col.add(f"actors.{name}.after", "cyclic start order: " + " -> ".join(cycle))
                return True
            if colour[dep] == WHITE and visit(dep):
                return True
        stack.pop()
        colour[name] = BLACK
        return False

    for name in actors:
        if colour[name] == WHITE and visit(name):
            return
