"""A reliable writer's and reader's counters as OpenTelemetry metrics (shell).

Registered on an actor's meter when it has reliable Outputs or Inputs: what the writer
keeps (``enlil.reliable.unacked``), sent again, shed and gave up
(``enlil.reliable.sent``), how far behind each reader is (``enlil.reliable.behind``);
what the reader recovered, lost and dropped as redelivered (``enlil.reliable.received``).
The same figures as ``ctl status`` and the Prometheus page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation


def register(meter: Any, engine: Any, actor: dict[str, str]) -> None:
    """Add the reliable metrics of *engine* to *meter* (*actor*: its attributes)."""

    def outs() -> Iterable[tuple[str, dict[str, Any]]]:
        return (engine.reliable.statistics().get("out") or {}).items()

    def unacked(options: CallbackOptions) -> Iterable[Observation]:
        for topic, out in outs():
            yield Observation(out["unacked"], {**actor, "topic": topic})

    def sent(options: CallbackOptions) -> Iterable[Observation]:
        for topic, out in outs():
            for outcome in ("resent", "shed", "dead"):
                yield Observation(out[outcome], {**actor, "topic": topic, "outcome": outcome})

    def behind(options: CallbackOptions) -> Iterable[Observation]:
        for topic, out in outs():
            for reader, acked in (out["readers"] or {}).items():
                lag = max(0, out["last"] - acked)
                yield Observation(lag, {**actor, "topic": topic, "reader": reader})

    def received(options: CallbackOptions) -> Iterable[Observation]:
        taken = engine.reliable.statistics().get("in") or {}
        for outcome, per_topic in taken.items():
            for topic, n in per_topic.items():
                yield Observation(n, {**actor, "topic": topic, "outcome": outcome})

    meter.create_observable_gauge(
        "enlil.reliable.unacked",
        callbacks=[unacked],
        unit="{message}",
        description="Messages a reliable writer keeps until its readers acknowledge them",
    )
    meter.create_observable_counter(
        "enlil.reliable.sent",
        callbacks=[sent],
        unit="{message}",
        description="A reliable writer's messages sent again (resent), shed by a full "
        "window, and given up after max_deliver sends (dead)",
    )
    meter.create_observable_gauge(
        "enlil.reliable.behind",
        callbacks=[behind],
        unit="{message}",
        description="Messages a reliable writer sent that a reader has not acknowledged yet",
    )
    meter.create_observable_counter(
        "enlil.reliable.received",
        callbacks=[received],
        unit="{message}",
        description="A reliable reader's messages recovered, lost and dropped as redelivered",
    )
