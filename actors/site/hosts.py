"""``[hosts.NAME]`` of site.toml and the placement of actors on them (pure core, no IO).

A site on several machines names each in ``[hosts.NAME]`` (the first is the
main host, which runs every actor that names no ``host``). Each machine runs
``python -m supervisor --config site.toml --host NAME``: its view of the site
(:class:`~actors.site.model.SiteConfig` with ``host`` set) has the actors it
runs in ``actors`` and the others in ``elsewhere``, and its own run folder,
``<run_dir>/<host>``, so that hosts sharing a file system (a test, an NFS home)
never share a socket, a pid file or a state database.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Final, Protocol

from actors.site.model import ActorConfig, HostConfig
from actors.site.sections import host_ok
from actors.site.site_keys import HOST_KEYS

#: The variable that names this machine's host when ``--host`` is not given.
HOST_ENV: Final = "ENLIL_HOST"
_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}")


class Collector(Protocol):
    """The parser's collector of problems (:mod:`actors.site.parse`)."""

    def add(self, key: str, reason: str) -> None: ...

    def table(self, data: Any, where: str, schema: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
        """One table checked against *schema*, with defaults filled in."""
        ...

    def number(self, key: str, value: float | None, kind: str = "") -> None: ...


def parse_hosts(col: Collector, data: Any) -> dict[str, HostConfig]:
    """``[hosts]``: every sound host, the main one first."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        col.add("hosts", "must be a table of [hosts.NAME] tables")
        return {}
    schema = {k.name: (k.types, k.default) for k in HOST_KEYS}
    hosts: dict[str, HostConfig] = {}
    seen: dict[tuple[str, int], str] = {}
    for name, table in data.items():
        where = f"hosts.{name}"
        if not _NAME.fullmatch(name):
            col.add(where, "a host name is letters, digits, '_' and '-' (up to 64)")
            continue
        h = col.table(table, where, schema)
        for key in ("port", "control_port"):
            col.number(f"{where}.{key}", h[key], f"hosts.{key}")
        address, bind = h["address"] or "", h["bind"]
        if h["address"] is not None and not host_ok(address):
            col.add(f"{where}.address", f"{address!r} is not a host name or an IP address")
        if bind != "*" and not host_ok(bind):
            col.add(f"{where}.bind", f"{bind!r} is not '*', a host name or an IP address")
        if h["port"] == h["control_port"]:
            col.add(f"{where}.control_port", f"must differ from port ({h['port']})")
        for key in ("port", "control_port"):
            other = seen.setdefault((address, h[key]), f"{where}.{key}")
            if other != f"{where}.{key}":
                col.add(f"{where}.{key}", f"{address}:{h[key]} is taken by {other}")
        if address:
            hosts[name] = HostConfig(name, address, h["port"], h["control_port"], bind)
    if not data:
        col.add("hosts", "names no host: leave [hosts] out for a site of one host")
    return hosts


def this_host(col: Collector, hosts: dict[str, HostConfig], wanted: str) -> str:
    """The host a view is of: *wanted* (``--host`` or ``ENLIL_HOST``), else the main host."""
    if not hosts:
        if wanted:
            col.add("hosts", f"--host {wanted}: the site declares no [hosts.NAME]")
        return ""
    if not wanted:
        return next(iter(hosts))
    if wanted not in hosts:
        col.add("hosts", f"--host {wanted}: no such host (known: {', '.join(hosts)})")
        return next(iter(hosts))
    return wanted


def place(
    col: Collector, hosts: dict[str, HostConfig], actors: dict[str, ActorConfig], host: str
) -> tuple[dict[str, ActorConfig], dict[str, ActorConfig]]:
    """The actors *host* runs and the others' (each with its host filled in); every actor
    on an unknown host, and every ``after`` across hosts, is a problem."""
    if not hosts:
        for name, actor in actors.items():
            if actor.host:
                col.add(f"actors.{name}.host", f"{actor.host!r}: the site declares no [hosts]")
        return dict(actors), {}
    main = next(iter(hosts))
    placed = {}
    for name, actor in actors.items():
        if actor.host and actor.host not in hosts:
            col.add(f"actors.{name}.host", f"no host {actor.host!r} (known: {', '.join(hosts)})")
        placed[name] = dataclasses.replace(actor, host=actor.host or main)
    for name, actor in placed.items():
        for dep in actor.after:
            other = placed.get(dep)
            if other is not None and other.host != actor.host:
                col.add(
                    f"actors.{name}.after",
                    f"{dep!r} runs on host {other.host!r}, {name!r} on {actor.host!r}: "
                    "start order holds within one host",
                )
    local = {n: a for n, a in placed.items() if a.host == host}
    return local, {n: a for n, a in placed.items() if a.host != host}
