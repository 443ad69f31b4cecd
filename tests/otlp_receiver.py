"""A real OTLP/HTTP trace receiver for tests: decodes what exporters POST to /v1/traces."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class ReceivedSpan:
    """One span as received, with its resource's attributes."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int
    events: list[str] = field(default_factory=list)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class OtlpReceiver:
    """Listens on 127.0.0.1 (*port*, else an ephemeral one); collects spans; waits on a
    condition."""

    def __init__(self, port: int = 0) -> None:
        self.spans: list[ReceivedSpan] = []
        #: (metric name, description, unit, point attributes, value, resource attributes)
        #: (severity text, body, attributes, trace id hex, resource attributes)
        self.logs: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = []
        self.points: list[tuple[str, str, str, dict[str, Any], float, dict[str, Any]]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path.endswith("/v1/logs"):
                    receiver._add_logs(ExportLogsServiceRequest.FromString(body))
                    reply = ExportLogsServiceResponse().SerializeToString()
                elif self.path.endswith("/v1/metrics"):
                    receiver._add_metrics(ExportMetricsServiceRequest.FromString(body))
                    reply = ExportMetricsServiceResponse().SerializeToString()
                else:
                    receiver._add(ExportTraceServiceRequest.FromString(body))
                    reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _add(self, request: ExportTraceServiceRequest) -> None:
        with self._cond:
            for rs in request.resource_spans:
                resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        self.spans.append(
                            ReceivedSpan(
                                name=s.name,
                                trace_id=s.trace_id.hex(),
                                span_id=s.span_id.hex(),
                                parent_span_id=s.parent_span_id.hex(),
                                attributes={a.key: _value(a.value) for a in s.attributes},
                                resource=resource,
                                status_code=s.status.code,
                                events=[e.name for e in s.events],
                            )
                        )
            self._cond.notify_all()

    def _add_logs(self, request: ExportLogsServiceRequest) -> None:
        with self._cond:
            for rl in request.resource_logs:
                resource = {a.key: _value(a.value) for a in rl.resource.attributes}
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        attrs = {a.key: _value(a.value) for a in r.attributes}
                        self.logs.append(
                            (r.severity_text, _value(r.body), attrs, r.trace_id.hex(), resource)
                        )
            self._cond.notify_all()

    def wait_logs(self, predicate: Callable[[list[Any]], bool], timeout: float = 20.0) -> list[Any]:
        """Wait until *predicate* holds on the log records received so far."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.logs), timeout):
                raise AssertionError(f"logs never matched; got {self.logs[-20:]}")
            return list(self.logs)

    def _add_metrics(self, request: ExportMetricsServiceRequest) -> None:
        with self._cond:
            for rm in request.resource_metrics:
                resource = {a.key: _value(a.value) for a in rm.resource.attributes}
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        for p in getattr(m, kind).data_points:
                            attrs = {a.key: _value(a.value) for a in p.attributes}
                            if kind == "histogram":
                                value = float(p.count)
                            else:
                                value = float(p.as_double if p.HasField("as_double") else p.as_int)
                            self.points.append(
                                (m.name, m.description, m.unit, attrs, value, resource)
                            )
            self._cond.notify_all()

    def wait_points(
        self, predicate: Callable[[list[Any]], bool], timeout: float = 20.0
    ) -> list[Any]:
        """Wait until *predicate* holds on the metric points received so far."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.points), timeout):
                raise AssertionError(f"metrics never matched; got {self.points[-20:]}")
            return list(self.points)

    def wait_for(
        self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 20.0
    ) -> list[ReceivedSpan]:
        """Wait until *predicate* holds on the spans received so far; return them."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.spans), timeout):
                raise AssertionError(f"spans never matched; got {self.spans}")
            return list(self.spans)

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
