"""A Prometheus scrape endpoint for the whole site, served beside the supervisor (plugin).

``[telemetry] prometheus = "127.0.0.1:9464"`` makes the supervisor serve
``/metrics`` in the text exposition format, from what it already knows: every
process's state and heartbeat counters, every declared ``metric=True``
variable each actor reports in its heartbeat, and the restarts and exits it
counted. The server runs on a thread of its own and only reads a snapshot that
the supervisor's loop replaces, so scraping never blocks supervision.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supervisor.runner import Supervisor

_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(status: dict[str, Any], counts: dict[tuple[str, str], int]) -> str:
    """The text exposition of a site's status and counters."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{{{labels}}} {value}" for labels, value in samples)

    actors = status.get("actors", [])
    family(
        "enlil_up",
        "gauge",
        "1 when the process is running",
        [
            (f'actor="{_label(a["name"])}",kind="{a["kind"]}"', int(a["state"] == "running"))
            for a in actors
        ],
    )
    messages = []
    for a in actors:
        for outcome, value in sorted(a.get("stats", {}).items()):
            if isinstance(value, int | float):
                messages.append((f'actor="{_label(a["name"])}",outcome="{_label(outcome)}"', value))
    family(
        "enlil_messages_total", "counter", "Messages and events counted by each process", messages
    )
    family(
        "enlil_restarts_total",
        "counter",
        "Restarts of each actor by the supervisor",
        [
            (f'actor="{_label(actor)}"', n)
            for (actor, kind), n in sorted(counts.items())
            if kind == "restart"
        ],
    )
    family(
        "enlil_exits_total",
        "counter",
        "Exits of each actor, by reason",
        [
            (f'actor="{_label(actor)}",reason="{_label(kind)}"', n)
            for (actor, kind), n in sorted(counts.items())
            if kind != "restart"
        ],
    )
    declared: dict[str, list[tuple[str, float]]] = {}
    for a in actors:
        for name, value in sorted(a.get("metrics", {}).items()):
            if isinstance(value, bool | int | float):
                declared.setdefault(name, []).append((f'actor="{_label(a["name"])}"', float(value)))
    for name, samples in sorted(declared.items()):
        family(f"enlil_{_NAME.sub('_', name)}", "gauge", f"Declared metric {name}", samples)
    return "\n".join(lines) + "\n"


class PrometheusEndpoint:
    """``/metrics`` over HTTP on *address* (``host:port``); :meth:`update` swaps the page."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._page = b""
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served here")
                    return
                body = endpoint._page
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        bound_host, bound_port = self.server.server_address[:2]
        self.address = f"{bound_host!s}:{bound_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="prometheus", daemon=True
        )
        self._thread.start()

    def update(self, status: dict[str, Any], counts: dict[tuple[str, str], int]) -> None:
        """Replace the page served (called from the supervisor's loop)."""
        self._page = exposition(status, counts).encode()

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
