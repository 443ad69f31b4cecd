"""Site-wide metrics over OTLP: restarts and exits the supervisor counted (plugin)."""

from __future__ import annotations

from actors.telemetry import SiteMetrics, TracingConfig
from supervisor.client import ControlError, ControlTimeout
from supervisor.plugins import PluginContext, counts_of


class SiteMetricsPlugin:
    """Exports the restarts and exits of ``status`` to the site's OTLP endpoint."""

    def __init__(self, context: PluginContext) -> None:
        self.context = context
        site = context.site
        telemetry = site.telemetry
        self.metrics = SiteMetrics(
            TracingConfig.of_site(site, "supervisor"),
            self._counts,
            interval=telemetry.metrics_interval,
        )

    def _counts(self) -> dict[tuple[str, str], int]:
        """The counts of the moment (on the exporter's thread); none while the site is silent."""
        try:
            return counts_of(self.context.control.status())
        except (ControlError, ControlTimeout):
            return {}

    def close(self) -> None:
        """Flush and stop the exporter, then the control client."""
        self.metrics.shutdown()
        self.context.close()
