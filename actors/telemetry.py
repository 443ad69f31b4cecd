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

import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import psutil
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from actors import reliable_metrics
from actors.core.declarations import metric_kind
from actors.export_health import install, watched
from actors.site import SiteConfig

#: The breaker states as gauge levels.
_BREAKER_LEVELS: Final = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True)
class TracingConfig:
    """Where spans go and how many new traces are sampled."""

    endpoint: str
    site: str
    actor: str
    ratio: float = 1.0
    resource: dict[str, str] = field(default_factory=dict)
    metrics_interval: float = 5.0
    protocol: str = "http"
    #: The site's host this process runs on ("" on a site of one host).
    host: str = ""

    @classmethod
    def of_site(cls, site: SiteConfig, actor: str) -> TracingConfig:
        """The settings of process *actor* (an actor's name, or ``supervisor``) of *site*."""
        telemetry = site.telemetry
        return cls(
            endpoint=telemetry.otlp_endpoint,
            site=site.site.name,
            actor=actor,
            ratio=telemetry.sampling,
            resource=telemetry.resource,
            metrics_interval=telemetry.metrics_interval,
            protocol=telemetry.protocol,
            host=site.host,
        )

    def otel_resource(self) -> Resource:
        """``service.name`` = the site, ``service.instance.id`` and ``enlil.actor`` = the
        actor (or ``supervisor``), ``enlil.host`` = the site's host (whose clock stamped its
        spans, on a site of several), plus the configured extra attributes."""
        return Resource.create(
            {
                "service.name": self.site,
                "service.instance.id": self.actor,
                "enlil.actor": self.actor,
                **({"enlil.host": self.host} if self.host else {}),
                **self.resource,
            }
        )

    def exporter(self, signal: str) -> Any:
        """The OTLP exporter of *signal* (traces, metrics, logs) for this protocol.

        http/protobuf posts to ``<endpoint>/v1/<signal>``; gRPC talks to the
        endpoint itself (its module is imported only when chosen).
        """
        base = self.endpoint.rstrip("/")
        for suffix in ("/v1/traces", "/v1/metrics", "/v1/logs"):
            base = base.removesuffix(suffix)
        if self.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc import (  # noqa: PLC0415
                _log_exporter as grpc_logs,
            )
            from opentelemetry.exporter.otlp.proto.grpc import (  # noqa: PLC0415
                metric_exporter as grpc_metrics,
            )
            from opentelemetry.exporter.otlp.proto.grpc import (  # noqa: PLC0415
                trace_exporter as grpc_traces,
            )

            insecure = base.startswith("http://")
            kinds = {
                "traces": grpc_traces.OTLPSpanExporter,
                "metrics": grpc_metrics.OTLPMetricExporter,
                "logs": grpc_logs.OTLPLogExporter,
            }
            kind = watched(kinds[signal], install(self.endpoint), signal)
            return kind(endpoint=base, insecure=insecure, timeout=5)
        http_kinds = {
            "traces": OTLPSpanExporter,
            "metrics": OTLPMetricExporter,
            "logs": OTLPLogExporter,
        }
        kind = watched(http_kinds[signal], install(self.endpoint), signal)
        return kind(endpoint=f"{base}/v1/{signal}", timeout=5)


class Tracing:
    """Starts and ends the spans of one actor process; exports them over OTLP/HTTP."""

    def __init__(self, config: TracingConfig) -> None:
        self.config = config
        resource = config.otel_resource()
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(
            BatchSpanProcessor(config.exporter("traces"), schedule_delay_millis=200)
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


class Metrics:
    """An actor's metrics, exported periodically over OTLP/HTTP.

    Counters and gauges are observed from the engine's own counters when the
    reader collects (every ``interval`` seconds), so the hot path only adds to
    plain integers; step durations are taken from the engine in batches.
    """

    def __init__(self, config: TracingConfig, engine: Any, interval: float = 5.0) -> None:
        self.engine = engine
        resource = config.otel_resource()
        self.reader = PeriodicExportingMetricReader(
            config.exporter("metrics"), export_interval_millis=int(interval * 1000)
        )
        self.provider = MeterProvider(resource=resource, metric_readers=[self.reader])
        meter = self.provider.get_meter("enlil")
        self._process = psutil.Process()
        self._process.cpu_percent(None)
        actor = {"enlil.actor": config.actor}
        meter.create_observable_counter(
            "enlil.messages",
            callbacks=[self._messages],
            unit="{message}",
            description="Messages handled, by outcome (received, accepted, malformed, ...)",
        )
        meter.create_observable_counter(
            "enlil.topic.messages",
            callbacks=[self._topics],
            unit="{message}",
            description="Messages accepted (in) and published (out), by topic",
        )
        meter.create_observable_counter(
            "enlil.input.gaps",
            callbacks=[self._input_counts(0)],
            unit="{message}",
            description="Messages missing from the sequence numbers, by Input",
        )
        meter.create_observable_counter(
            "enlil.input.duplicates",
            callbacks=[self._input_counts(1)],
            unit="{message}",
            description="Repeated sequence numbers dropped, by Input",
        )
        meter.create_observable_gauge(
            "enlil.process.rss",
            callbacks=[self._rss],
            unit="By",
            description="Resident memory of the actor's process",
        )
        meter.create_observable_gauge(
            "enlil.process.cpu",
            callbacks=[self._cpu],
            unit="%",
            description="CPU use of the actor's process since the last collection",
        )
        if engine.calls.lines or engine.spec.services or engine.limits.limiter is not None:
            self._call_metrics(meter)
        if engine.reliable.writer is not None or engine.reliable.reader is not None:
            reliable_metrics.register(meter, engine, actor)
        #: The process's fault counts per rule (set by the runtime when rules apply to it).
        self.faults: Callable[[], dict[str, int]] | None = None
        meter.create_observable_counter(
            "enlil.faults.injected",
            callbacks=[self._faults],
            unit="{fault}",
            description="Faults injected by this process, per fault rule",
        )
        self._step = meter.create_histogram(
            "enlil.step.duration", unit="s", description="Duration of step()"
        )
        for var in [*engine.spec.states.values(), *engine.spec.outputs.values()]:
            kind = metric_kind(getattr(var, "metric", False))
            if kind is not None:
                make = (
                    meter.create_observable_counter
                    if kind == "counter"
                    else meter.create_observable_gauge
                )
                make(
                    f"enlil.{var.name}",
                    callbacks=[self._declared(var.name)],
                    unit=var.unit or "1",
                    description=var.doc or "",
                )
        self._actor = actor
        engine.step_times = []

    def _call_metrics(self, meter: Any) -> None:
        """Calls by outcome and breaker state, requests served, messages shed."""
        meter.create_observable_counter(
            "enlil.calls",
            callbacks=[self._calls],
            unit="{call}",
            description="Calls made and their attempts, by call and outcome (ok, failed, "
            "retries, timeouts, late, circuit_open, rate_limited, ...)",
        )
        meter.create_observable_gauge(
            "enlil.call.breaker",
            callbacks=[self._breakers],
            unit="1",
            description="State of each call's circuit breaker: 0 closed, 1 half-open, 2 open",
        )
        meter.create_observable_counter(
            "enlil.service.requests",
            callbacks=[self._served],
            unit="{request}",
            description="Requests served, by handler and outcome (replied, errors, expired, ...)",
        )
        meter.create_observable_counter(
            "enlil.shed",
            callbacks=[self._shed],
            unit="{message}",
            description="Messages shed by the rate limit of an Input or Output",
        )

    def _calls(self, options: CallbackOptions) -> Iterable[Observation]:
        for call, stats in self.engine.calls.statistics().items():
            for outcome, n in stats.items():
                if isinstance(n, int) and outcome not in ("breaker_opened", "in_flight"):
                    attrs = {**self._actor, "call": call, "service": stats["service"]}
                    yield Observation(n, {**attrs, "outcome": outcome})

    def _breakers(self, options: CallbackOptions) -> Iterable[Observation]:
        for call, line in self.engine.calls.lines.items():
            if line.breaker is not None:
                state = _BREAKER_LEVELS[str(line.breaker.state)]
                yield Observation(state, {**self._actor, "call": call})

    def _served(self, options: CallbackOptions) -> Iterable[Observation]:
        for handler, counts in self.engine.rpc.service_counts.items():
            for outcome, n in counts.items():
                yield Observation(n, {**self._actor, "handler": handler, "outcome": outcome})

    def _shed(self, options: CallbackOptions) -> Iterable[Observation]:
        for name, n in self.engine.limits.shed().items():
            yield Observation(n, {**self._actor, "variable": name})

    def _faults(self, options: CallbackOptions) -> Iterable[Observation]:
        counts = self.faults() if self.faults is not None else {}
        for rule, n in counts.items():
            yield Observation(n, {**self._actor, "rule": rule})

    def _messages(self, options: CallbackOptions) -> Iterable[Observation]:
        stats = self.engine.statistics()
        for outcome in (
            "received",
            "accepted",
            "malformed",
            "unsupported_version",
            "type_rejected",
            "filtered",
            "duplicates",
            "gaps",
            "published",
            "steps",
            "recovered",
            "lost",
        ):
            yield Observation(getattr(stats, outcome), {**self._actor, "outcome": outcome})

    def _topics(self, options: CallbackOptions) -> Iterable[Observation]:
        for topic, n in list(self.engine.topic_in.items()):
            yield Observation(n, {**self._actor, "topic": topic, "direction": "in"})
        for topic_b, n in list(self.engine.topic_out.items()):
            yield Observation(n, {**self._actor, "topic": topic_b.decode(), "direction": "out"})

    def _input_counts(self, index: int) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            for name, counts in list(self.engine.input_stats.items()):
                yield Observation(counts[index], {**self._actor, "input": name})

        return observe

    def _rss(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(self._process.memory_info().rss, self._actor)

    def _cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(self._process.cpu_percent(None), self._actor)

    def _declared(self, name: str) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            value = getattr(self.engine.actor, name, None)
            if isinstance(value, bool | int | float):
                yield Observation(float(value), self._actor)

        return observe

    def take_steps(self) -> None:
        """Move the step durations the engine collected into the histogram."""
        times = self.engine.step_times
        if times:
            self.engine.step_times = []
            for duration in times:
                self._step.record(duration, self._actor)

    def shutdown(self) -> None:
        """Export a last time and stop."""
        self.take_steps()
        self.provider.shutdown()


class SiteMetrics:
    """The supervisor's metrics: restarts and exits of every actor, by reason.

    *counts* returns the map ``(actor, kind) -> number`` where kind is
    ``restart`` or an exit reason (``normal``, ``exit``, ``killed``, ``hung``,
    ``limit``, ``stopped``); it is called once per export, on the exporter's thread.
    """

    def __init__(
        self,
        config: TracingConfig,
        counts: Callable[[], Mapping[tuple[str, str], int]],
        interval: float = 5.0,
    ) -> None:
        resource = config.otel_resource()
        reader = PeriodicExportingMetricReader(
            config.exporter("metrics"), export_interval_millis=int(interval * 1000)
        )
        self.provider = MeterProvider(resource=resource, metric_readers=[reader])
        self._counts = counts
        self._now: Mapping[tuple[str, str], int] = {}
        self._asked = -math.inf
        self._fresh_for = interval / 2
        meter = self.provider.get_meter("enlil")
        meter.create_observable_counter(
            "enlil.site.restarts",
            callbacks=[self._restarts],
            unit="{restart}",
            description="Restarts of each actor by the supervisor",
        )
        meter.create_observable_counter(
            "enlil.site.exits",
            callbacks=[self._exits],
            unit="{exit}",
            description="Exits of each actor, by reason",
        )

    def _current(self) -> Mapping[tuple[str, str], int]:
        """The counts, asked for once per export (both instruments read the same answer)."""
        now = time.monotonic()
        if now - self._asked >= self._fresh_for:
            self._now, self._asked = self._counts(), now
        return self._now

    def _restarts(self, options: CallbackOptions) -> Iterable[Observation]:
        for (actor, kind), n in self._current().items():
            if kind == "restart":
                yield Observation(n, {"enlil.actor": actor})

    def _exits(self, options: CallbackOptions) -> Iterable[Observation]:
        for (actor, kind), n in self._current().items():
            if kind != "restart":
                yield Observation(n, {"enlil.actor": actor, "reason": kind})

    def shutdown(self) -> None:
        """Export a last time and stop."""
        self.provider.shutdown()


_SEVERITY = {
    "debug": SeverityNumber.DEBUG,
    "info": SeverityNumber.INFO,
    "warning": SeverityNumber.WARN,
    "error": SeverityNumber.ERROR,
    "critical": SeverityNumber.FATAL,
}
_RESERVED_KEYS = frozenset({"event", "level", "timestamp", "trace_id", "span_id"})


class LogExport:
    """Exports log records at or above a process's OpenTelemetry level over OTLP/HTTP."""

    def __init__(self, config: TracingConfig) -> None:
        resource = config.otel_resource()
        self.provider = LoggerProvider(resource=resource)
        self.provider.add_log_record_processor(
            BatchLogRecordProcessor(config.exporter("logs"), schedule_delay_millis=200)
        )
        self.logger = self.provider.get_logger("enlil")

    def __call__(self, event: dict[str, Any]) -> None:
        """Export one structlog event dict (called by actors.logs)."""
        level = str(event.get("level", "info"))
        context = None
        if "trace_id" in event and "span_id" in event:
            span_context = SpanContext(
                int(event["trace_id"], 16),
                int(event["span_id"], 16),
                is_remote=False,
                trace_flags=TraceFlags(1),
            )
            context = set_span_in_context(NonRecordingSpan(span_context))
        attributes = {
            k: v if isinstance(v, str | bool | int | float) else repr(v)
            for k, v in event.items()
            if k not in _RESERVED_KEYS
        }
        self.logger.emit(
            timestamp=time.time_ns(),
            context=context,
            severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
            severity_text=level.upper(),
            body=str(event.get("event", "")),
            attributes=attributes,
        )

    def shutdown(self) -> None:
        """Export what is pending and stop."""
        self.provider.shutdown()
