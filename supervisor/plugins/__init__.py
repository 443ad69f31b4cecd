"""Plugins: what runs beside the supervisor's parts and only watches them (shell).

A plugin is made from the running :class:`~supervisor.runner.Supervisor`;
it may read its status and counters at every liveness watch, and listen to
every lifecycle event (``Supervisor.events.listeners``). It is closed when
the site stops. The site's settings decide which plugins run
(:func:`start_plugins`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from supervisor.runner import Supervisor


class Plugin(Protocol):
    """What the supervisor does with a plugin: close it when the site stops."""

    def close(self) -> None:
        """Stop whatever the plugin runs (threads, servers, exporters)."""


def start_plugins(supervisor: Supervisor) -> list[Plugin]:
    """The plugins *supervisor*'s site asks for, started."""
    plugins: list[Plugin] = []
    telemetry = supervisor.site.telemetry
    if telemetry.otlp_endpoint:
        from supervisor.plugins.otel import SiteMetricsPlugin  # noqa: PLC0415 - only when used

        plugins.append(SiteMetricsPlugin(supervisor))
    if telemetry.prometheus:
        from supervisor.plugins.prometheus import PrometheusPlugin  # noqa: PLC0415

        plugins.append(PrometheusPlugin(supervisor))
    return plugins
