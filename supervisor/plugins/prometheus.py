"""A Prometheus scrape endpoint for the whole site, served beside the supervisor (plugin).

``[telemetry] prometheus = "127.0.0.1:9464"`` makes the supervisor serve
``/metrics`` in the text exposition format, through the official
``prometheus-client`` library, from the ``status`` reply of the moment:
every process's state and heartbeat counters, every declared
``metric=True`` variable each actor reports in its heartbeat, and the
restarts and exits the supervisor counted. The server runs on threads of its
own and asks the control endpoint once per scrape, as a tool would, so
scraping never blocks supervision (``enlil_control_up`` is 0 when the
supervisor did not answer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from supervisor.client import ControlError, ControlTimeout
from supervisor.plugins import CannotListen, PluginContext, counts_of

_NAME = re.compile(r"[^a-zA-Z0-9_]")


class SiteCollector:
    """Metric families of the status that *ask* returns (None: the supervisor did not answer)."""

    def __init__(self, ask: Callable[[], dict[str, Any] | None]) -> None:
        self._ask = ask

    def collect(self) -> Iterator[Metric]:
        """The families, made from the status of the moment (called by a server thread)."""
        status = self._ask()
        control = GaugeMetricFamily(
            "enlil_control_up", "1 when the supervisor answered this scrape's status request"
        )
        control.add_metric([], int(status is not None))
        yield control
        if status is None:
            return
        counts = counts_of(status)
        actors = status.get("actors", [])
        up = GaugeMetricFamily(
            "enlil_up", "1 when the process is running", labels=["actor", "kind"]
        )
        messages = CounterMetricFamily(
            "enlil_messages",
            "Messages and events counted by each process",
            labels=["actor", "outcome"],
        )
        declared: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for a in actors:
            name = str(a["name"])
            up.add_metric([name, str(a["kind"])], int(a["state"] == "running"))
            for outcome, value in _numbers(a.get("stats")):
                messages.add_metric([name, outcome], value)
            meta = a.get("declared_metrics")
            meta = meta if isinstance(meta, dict) else {}
            for metric, value in _numbers(a.get("metrics"), flags=True):
                family_name, kind, text = declared_family(metric, meta.get(metric))
                family = declared.get(family_name)
                if family is None:
                    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                    family = declared[family_name] = cls(family_name, text, labels=["actor"])
                family.add_metric([name], value)
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
        yield from _call_families(actors)
        yield from _reliable_families(actors)
        yield from (declared[name] for name in sorted(declared))


#: Units (UCUM, as declarations write them) in Prometheus's base-unit words.
UNIT_WORDS: Final = {
    "s": "seconds",
    "ms": "milliseconds",
    "By": "bytes",
    "degC": "celsius",
    "%": "percent",
    "1": "ratio",
    "Hz": "hertz",
    "V": "volts",
    "A": "amperes",
    "W": "watts",
    "m": "meters",
}


def _snake(name: str) -> str:
    """``SerialLink`` -> ``serial_link``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def declared_family(metric: str, meta: Any) -> tuple[str, str, str]:
    """The family name (without a counter's ``_total``, which the exposition adds), kind
    and HELP of declared metric *metric*, from its declaration (*meta*: kind, doc, unit,
    class): ``enlil_<class>_<variable>[_<unit>]``, so that one family is one
    declaration's meaning; its doc is the HELP. Without a declaration (an actor whose
    class did not load): ``enlil_<variable>``, a gauge."""
    if not isinstance(meta, dict):
        return f"enlil_{_NAME.sub('_', metric)}", "gauge", f"Declared metric {metric}"
    unit = str(meta.get("unit") or "")
    word = UNIT_WORDS.get(unit, _NAME.sub("_", unit).lower().strip("_"))
    if unit.startswith("{"):  # a UCUM annotation ({item}): a count, no unit in the name
        word = ""
    parts = ["enlil", _snake(str(meta.get("class", ""))), _NAME.sub("_", metric)]
    if word and not parts[-1].endswith(word):
        parts.append(word)
    kind = "counter" if meta.get("kind") == "counter" else "gauge"
    if kind == "counter" and parts[-1] == "total":
        parts.pop()  # the exposition adds it
    elif parts[-1] == "total":
        parts.append("value")  # _total is for counters only
    doc = str(meta.get("doc") or f"Declared metric {metric}")
    text = f"{doc} ({unit})" if unit and not word else doc
    return "_".join(p for p in parts if p), kind, text


def _numbers(table: Any, *, flags: bool = False) -> list[tuple[str, float]]:
    """The numeric entries of a map from a heartbeat, by name (a peer's data: anything
    else is skipped; with *flags*, booleans count as 0 and 1)."""
    if not isinstance(table, dict):
        return []
    return [
        (str(k), float(v))
        for k, v in sorted(table.items(), key=lambda kv: str(kv[0]))
        if isinstance(v, int | float) and (flags or not isinstance(v, bool))
    ]


def _call_families(actors: list[dict[str, Any]]) -> Iterable[Metric]:
    """Calls by outcome, breaker states, requests served and messages shed, per actor."""
    calls = CounterMetricFamily(
        "enlil_calls",
        "Calls made and their attempts, by call and outcome",
        labels=["actor", "call", "service", "outcome"],
    )
    breakers = GaugeMetricFamily(
        "enlil_call_breaker",
        "1 for the state each call's circuit breaker is in",
        labels=["actor", "call", "state"],
    )
    served = CounterMetricFamily(
        "enlil_service_requests",
        "Requests served, by handler and outcome",
        labels=["actor", "handler", "outcome"],
    )
    shed = CounterMetricFamily(
        "enlil_shed", "Messages shed by a rate limit", labels=["actor", "variable"]
    )
    faults = CounterMetricFamily(
        "enlil_faults_injected",
        "Faults injected by each process, per fault rule ([faults], ctl fault)",
        labels=["actor", "rule"],
    )
    for a in actors:
        name = str(a["name"])
        for rule, value in _numbers(a.get("faults")):
            faults.add_metric([name, rule], value)
        report = a.get("calls")
        if not isinstance(report, dict):
            continue
        made, serving = report.get("calls"), report.get("services")
        for call, stats in sorted((made or {}).items()) if isinstance(made, dict) else []:
            if not isinstance(stats, dict):
                continue
            service = str(stats.get("service", ""))
            for outcome, value in _numbers(stats):
                if outcome not in ("breaker_opened", "in_flight"):
                    calls.add_metric([name, str(call), service, outcome], value)
            state = stats.get("breaker")
            if isinstance(state, str):
                for level in ("closed", "half_open", "open"):
                    breakers.add_metric([name, str(call), level], float(state == level))
        for handler, counts in sorted(serving.items()) if isinstance(serving, dict) else []:
            for outcome, value in _numbers(counts):
                served.add_metric([name, str(handler), outcome], value)
        for variable, value in _numbers(report.get("shed")):
            shed.add_metric([name, variable], value)
    yield from (calls, breakers, served, shed, faults)


def _reliable_families(actors: list[dict[str, Any]]) -> Iterable[Metric]:
    """Reliable topics: what each writer keeps, sent again, shed and gave up, how far behind
    each reader is; what each reader recovered, lost and dropped as redelivered."""
    kept = GaugeMetricFamily(
        "enlil_reliable_unacked",
        "Messages a reliable writer keeps until its readers acknowledge them",
        labels=["actor", "topic"],
    )
    sent = CounterMetricFamily(
        "enlil_reliable_sent",
        "A reliable writer's messages sent again (resent), shed by a full window, and given "
        "up after max_deliver sends (dead)",
        labels=["actor", "topic", "outcome"],
    )
    behind = GaugeMetricFamily(
        "enlil_reliable_behind",
        "Messages a reliable writer sent that a reader has not acknowledged yet",
        labels=["actor", "topic", "reader"],
    )
    taken = CounterMetricFamily(
        "enlil_reliable_received",
        "A reliable reader's messages recovered (delivered after they had been lost), lost "
        "(a writer said they are not coming) and dropped as redelivered",
        labels=["actor", "topic", "outcome"],
    )
    for a in actors:
        name = str(a["name"])
        reliable = a.get("reliable")
        if not isinstance(reliable, dict):
            continue
        written = reliable.get("out")
        for topic, out in sorted(written.items()) if isinstance(written, dict) else []:
            if not isinstance(out, dict):
                continue
            numbers = dict(_numbers(out))
            kept.add_metric([name, str(topic)], numbers.get("unacked", 0.0))
            for outcome in ("resent", "shed", "dead"):
                sent.add_metric([name, str(topic), outcome], numbers.get(outcome, 0.0))
            last = numbers.get("last", 0.0)
            for reader, acked in _numbers(out.get("readers")):
                behind.add_metric([name, str(topic), reader], max(0.0, last - acked))
        read = reliable.get("in")
        for outcome, per_topic in sorted(read.items()) if isinstance(read, dict) else []:
            for topic, value in _numbers(per_topic):
                taken.add_metric([name, topic, str(outcome)], value)
    yield from (kept, sent, behind, taken)


class PrometheusEndpoint:
    """``/metrics`` over HTTP on *address* (``host:port``), made from what *ask* returns."""

    def __init__(self, address: str, ask: Callable[[], dict[str, Any] | None]) -> None:
        host, _, port = address.rpartition(":")
        self.collector = SiteCollector(ask)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        self.server, self._thread = start_http_server(
            int(port), addr=host or "127.0.0.1", registry=registry
        )
        self.address = f"{host or '127.0.0.1'}:{self.server.server_port}"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class PrometheusPlugin:
    """Serves the site's ``/metrics``, asking the supervisor for its status at each scrape."""

    def __init__(self, context: PluginContext) -> None:
        self.context = context
        address = context.site.telemetry.prometheus
        try:
            self.endpoint = PrometheusEndpoint(address, self._status)
        except OSError as exc:
            context.close()
            raise CannotListen("telemetry.prometheus", address, exc.strerror or str(exc)) from None
        context.log.info("prometheus endpoint", address=self.endpoint.address)

    def _status(self) -> dict[str, Any] | None:
        try:
            status: dict[str, Any] = self.context.control.status()
        except (ControlError, ControlTimeout) as exc:
            self.context.log.warning("prometheus scrape without status", error=str(exc))
            return None
        return status

    def close(self) -> None:
        """Stop serving, then the control client."""
        self.endpoint.close()
        self.context.close()
