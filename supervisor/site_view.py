"""The status of a site of several hosts, gathered from every host's supervisor (shell).

``ctl graph`` holds the whole site's running graph against its declared one, and
``faults report`` the whole site's counters against the faults injected: each
asks this host's supervisor and each other host's (at its control port, with the
tool's own key) for their status, tags each actor with its host, and keeps each
host's view of its links, so that an edge across hosts that does not flow is
named (:mod:`supervisor.core.host_edges`). A host that does not answer is
named too, and its actors count as absent.
"""

from __future__ import annotations

from typing import Any

from actors.site import SiteConfig
from supervisor.client import ControlClient, ControlError, ControlTimeout


def every_host(
    site: SiteConfig, client: ControlClient, timeout: float
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The merged status (``unreachable``: host -> why) and each host's links (host -> its
    view of every other host's link: ``up``, ``down`` or ``never``)."""
    status: dict[str, Any] = client.request("status", timeout)
    actors = [_tagged(a, site.host) for a in status["actors"]]
    counts = dict(status.get("counts") or {})
    links = {site.host: _links(status)} if site.host else {}
    unreachable = {}
    for host, config in site.peers.items():
        try:
            other = client.client_at(config.control).request("status", timeout)
        except (ControlError, ControlTimeout) as exc:
            unreachable[host] = str(exc)
            continue
        actors += [_tagged(a, host) for a in other["actors"] if a.get("kind") != "broker"]
        counts.update(other.get("counts") or {})
        links[host] = _links(other)
    merged = {**status, "actors": actors, "counts": counts, "unreachable": unreachable}
    return merged, links


def _tagged(actor: dict[str, Any], host: str) -> dict[str, Any]:
    return {**actor, "host": host} if host else actor


def _links(status: dict[str, Any]) -> dict[str, str]:
    hosts = status.get("hosts")
    if not isinstance(hosts, dict):
        return {}
    return {h: str(v.get("link", "never")) for h, v in hosts.items() if isinstance(v, dict)}
