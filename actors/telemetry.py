"""Tracing over OpenTelemetry: the one module of enlil that imports it (shell).

The engine calls a :class:`Tracing` only for sampled work, so an unsampled
message never touches the SDK: a message is sampled when its envelope carries
a W3C ``traceparent`` (its producer was sampled: parent-based sampling), and a
new root (a message without trace context, or a periodic step) is sampled
with probability ``ratio``. A sampled step runs in a span whose parent is the
producer's span; what the step publishes carries the step's own span as
trace context, so one stimulus that flows through three actors is one trace.

The provider, its batch exporter (a thread) and the OTLP/HTTP exporter are
created in the actor's process after it starts: never before a fork.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


@dataclass(frozen=True)
class TracingConfig:
    """Where spans go and how many new traces are sampled."""

    endpoint: str
    site: str
    actor: str
    ratio: float = 1.0
    resource: dict[str, str] = field(default_factory=dict)


class Tracing:
    """Starts and ends the spans of one actor process; exports them over OTLP/HTTP."""

    def __init__(self, config: TracingConfig) -> None:
        self.config = config
        resource = Resource.create(
            {
                "service.name": config.site,
                "service.instance.id": config.actor,
                "enlil.actor": config.actor,
                **config.resource,
            }
        )
        self.provider = TracerProvider(resource=resource)
        endpoint = config.endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        self.provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint, timeout=5), schedule_delay_millis=200
            )
        )
        self.tracer = self.provider.get_tracer("enlil")
        self._propagator = TraceContextTextMapPropagator()
        self._ratio = config.ratio
        self._random = random.random

    def sample_root(self) -> bool:
        """Whether a new trace starts here (probability ``ratio``)."""
        ratio = self._ratio
        return ratio >= 1.0 or (ratio > 0.0 and self._random() < ratio)

    def start(self, name: str, parent: str | None, attributes: dict[str, Any]) -> Span:
        """Start a span, child of the W3C *parent* when given, else a new root."""
        context: Context | None = None
        if parent is not None:
            context = self._propagator.extract({"traceparent": parent})
        kind = SpanKind.CONSUMER if parent is not None else SpanKind.INTERNAL
        return self.tracer.start_span(name, context=context, kind=kind, attributes=attributes)

    @staticmethod
    def traceparent(span: Span) -> str:
        """The W3C ``traceparent`` that makes a message a child of *span*."""
        ctx = span.get_span_context()
        return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-01"

    @staticmethod
    def end(span: Span, exc: BaseException | None = None) -> None:
        """End *span*, recording *exc* on it if the step raised."""
        if exc is not None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()

    def shutdown(self) -> None:
        """Export what is pending (bounded by the exporter's timeout) and stop."""
        self.provider.shutdown()
