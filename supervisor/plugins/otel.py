"""Site-wide metrics over OTLP: restarts and exits the supervisor counted (plugin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.telemetry import SiteMetrics, TracingConfig

if TYPE_CHECKING:
    from supervisor.runner import Supervisor


class SiteMetricsPlugin:
    """Exports the supervisor's counters to the site's OTLP endpoint."""

    def __init__(self, supervisor: Supervisor) -> None:
        site = supervisor.site
        telemetry = site.telemetry
        self.metrics = SiteMetrics(
            TracingConfig(
                endpoint=telemetry.otlp_endpoint,
                site=site.site.name,
                actor="supervisor",
                resource=telemetry.resource,
                protocol=telemetry.protocol,
            ),
            supervisor.supervision.counts,
            interval=telemetry.metrics_interval,
        )

    def close(self) -> None:
        """Flush and stop the exporter."""
        self.metrics.shutdown()
