"""Plugins: what runs beside the supervisor and sees the site only as a tool would (shell).

A plugin is made from a :class:`PluginContext`: the site's settings, a
:class:`~supervisor.client.ControlClient` on the site's control endpoint and
the ``$sys.event`` stream (:meth:`PluginContext.events`). It never touches the
supervisor's parts: its requests are answered by the supervisor's loop like
any tool's (bounded per turn), so a slow or broken plugin cannot stall
supervision, and a plugin could as well run in a process of its own. It runs
on threads of its own and is closed when the site stops. The site's settings
decide which built-in plugins run (:func:`start_plugins`); no user module is
ever imported into the supervisor's process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from actors.keys import ClientKeys
from actors.site import SiteConfig
from supervisor.client import ControlClient, EventStream

#: Seconds a plugin waits for the supervisor's answer (short: it runs while the site does).
PLUGIN_TIMEOUT = 2.0


class Plugin(Protocol):
    """What the supervisor does with a plugin: close it when the site stops."""

    def close(self) -> None:
        """Stop whatever the plugin runs (threads, servers, exporters)."""


@dataclass
class PluginContext:
    """What a plugin gets: the site, a control client, the event stream, a logger."""

    site: SiteConfig
    log: Any
    #: The keys an in-process plugin connects with on a secured site (the supervisor's).
    keys: ClientKeys | None = None
    control: ControlClient = field(init=False)

    def __post_init__(self) -> None:
        self.control = ControlClient(
            self.site.supervisor.control_connect, timeout=PLUGIN_TIMEOUT, keys=self.keys
        )

    def events(self) -> EventStream:
        """A new stream of the site's lifecycle events (the caller closes it)."""
        broker = self.site.broker
        return EventStream(broker.pub_connect, broker.sub_connect, None, self.keys)

    def close(self) -> None:
        """Close the control client."""
        self.control.close()


def counts_of(status: dict[str, Any]) -> dict[tuple[str, str], int]:
    """``(actor, kind) -> number`` from a ``status`` reply's ``counts`` (restarts, exits)."""
    counts: dict[tuple[str, str], int] = {}
    for actor, kinds in status.get("counts", {}).items():
        for kind, n in kinds.items():
            counts[str(actor), str(kind)] = int(n)
    return counts


class CannotListen(Exception):
    """An address of the site is taken (or not ours to bind): the key, the address, why."""

    def __init__(self, key: str, address: str, reason: str) -> None:
        super().__init__(f"{key}: cannot listen on {address}: {reason}")
        self.key, self.address = key, address


def start_plugins(site: SiteConfig, log: Any, keys: ClientKeys | None = None) -> list[Plugin]:
    """The built-in plugins *site* asks for, started (the control endpoint is bound); on a
    secured site they connect with *keys*. CannotListen (the plugins started so far
    closed) when one cannot listen where site.toml says."""
    plugins: list[Plugin] = []
    try:
        _start(site, log, keys, plugins)
    except BaseException:
        for plugin in plugins:
            plugin.close()
        raise
    return plugins


def _start(site: SiteConfig, log: Any, keys: ClientKeys | None, plugins: list[Plugin]) -> None:
    telemetry = site.telemetry
    if telemetry.otlp_endpoint:
        from supervisor.plugins.otel import SiteMetricsPlugin  # noqa: PLC0415 - only when used

        plugins.append(SiteMetricsPlugin(PluginContext(site, log, keys)))
    if telemetry.prometheus:
        from supervisor.plugins.prometheus import PrometheusPlugin  # noqa: PLC0415

        plugins.append(PrometheusPlugin(PluginContext(site, log, keys)))
    if site.web.listen:
        from supervisor.plugins.web import WebPlugin  # noqa: PLC0415

        plugins.append(WebPlugin(PluginContext(site, log, keys)))
