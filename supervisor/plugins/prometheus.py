"""A Prometheus scrape endpoint for the whole site, served beside the supervisor (plugin).

``[telemetry] prometheus = "127.0.0.1:9464"`` makes the supervisor serve
``/metrics`` in the text exposition format, through the official
``prometheus-client`` library, from what it already knows: every process's
state and heartbeat counters, every declared ``metric=True`` variable each
actor reports in its heartbeat, and the restarts and exits it counted. The
server runs on a thread of its own and only reads a snapshot that the
supervisor's loop replaces, so scraping never blocks supervision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from supervisor.runner import Supervisor

_NAME = re.compile(r"[^a-zA-Z0-9_]")


class SiteCollector:
    """Metric families of the last :meth:`update`d status and counters."""

    def __init__(self) -> None:
        self._status: dict[str, Any] = {}
        self._counts: dict[tuple[str, str], int] = {}

    def update(self, status: dict[str, Any], counts: dict[tuple[str, str], int]) -> None:
        """Replace what is served (called from the supervisor's loop)."""
        self._status, self._counts = status, counts

    def collect(self) -> Iterator[Metric]:
        """The families, made from the snapshot of the moment (called by the server thread)."""
        status, counts = self._status, self._counts
        actors = status.get("actors", [])
        up = GaugeMetricFamily(
            "enlil_up", "1 when the process is running", labels=["actor", "kind"]
        )
        messages = CounterMetricFamily(
            "enlil_messages",
            "Messages and events counted by each process",
            labels=["actor", "outcome"],
        )
        declared: dict[str, GaugeMetricFamily] = {}
        for a in actors:
            name = str(a["name"])
            up.add_metric([name, str(a["kind"])], int(a["state"] == "running"))
            for outcome, value in sorted(a.get("stats", {}).items()):
                if isinstance(value, int | float):
                    messages.add_metric([name, str(outcome)], value)
            for metric, value in sorted(a.get("metrics", {}).items()):
                if isinstance(value, bool | int | float):
                    family = declared.setdefault(
                        metric,
                        GaugeMetricFamily(
                            f"enlil_{_NAME.sub('_', metric)}",
                            f"Declared metric {metric}",
                            labels=["actor"],
                        ),
                    )
                    family.add_metric([name], float(value))
        restarts = CounterMetricFamily(
            "enlil_restarts", "Restarts of each actor by the supervisor", labels=["actor"]
        )
        exits = CounterMetricFamily(
            "enlil_exits", "Exits of each actor, by reason", labels=["actor", "reason"]
        )
        for (actor, kind), n in sorted(counts.items()):
            if kind == "restart":
                restarts.add_metric([actor], n)
            else:
                exits.add_metric([actor, kind], n)
        yield from (up, messages, restarts, exits)
        yield from (declared[name] for name in sorted(declared))


class PrometheusEndpoint:
    """``/metrics`` over HTTP on *address* (``host:port``); :meth:`update` swaps the page."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.collector = SiteCollector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        self.server, self._thread = start_http_server(
            int(port), addr=host or "127.0.0.1", registry=registry
        )
        self.address = f"{host or '127.0.0.1'}:{self.server.server_port}"

    def update(self, status: dict[str, Any], counts: dict[tuple[str, str], int]) -> None:
        """Replace what is served (called from the supervisor's loop)."""
        self.collector.update(status, counts)

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class PrometheusPlugin:
    """Serves the site's ``/metrics``, refreshed at every liveness watch."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.endpoint = PrometheusEndpoint(supervisor.site.telemetry.prometheus)
        supervisor.log.info("prometheus endpoint", address=self.endpoint.address)
        counts = supervisor.supervision.counts
        supervisor.liveness.on_watch.append(
            lambda: self.endpoint.update(supervisor.status(), dict(counts))
        )

    def close(self) -> None:
        """Stop serving."""
        self.endpoint.close()
