"""Tracing across processes, shown against a real OTLP/HTTP receiver."""

from __future__ import annotations

import pytest
from otlp_receiver import OtlpReceiver

from actors.testing import MeshFactory

pytestmark = pytest.mark.slow


def chain(endpoint: str, sampling: float = 1.0) -> dict[str, object]:
    """Three Relays in a chain t1 -> a -> t2 -> b -> t3 -> c -> t4, exporting to *endpoint*."""
    relays = {}
    for i, name in enumerate("abc", start=1):
        relays[name] = {
            "class": "mesh_actors:Relay",
            "topics": {"value": f"t{i}", "out": f"t{i + 1}"},
        }
    return {
        "site": {"name": "traced"},
        "telemetry": {
            "otlp_endpoint": endpoint,
            "sampling": sampling,
            "resource": {"deployment.environment": "test"},
        },
        "actors": relays,
    }


def test_one_stimulus_through_three_actors_is_one_trace(
    receiver: OtlpReceiver, mesh: MeshFactory
) -> None:
    """Spans of three processes share a trace id and link child to parent."""
    site = mesh.start(chain(receiver.endpoint))
    cursor = site.publish("t1", 1)
    message = site.wait_for("t4", after=cursor)
    assert message.envelope.payload == 4
    assert message.envelope.trace is not None  # the last output carries the trace on
    spans = receiver.wait_for(lambda s: len({x.resource.get("enlil.actor") for x in s}) == 3)
    by_actor = {s.resource["enlil.actor"]: s for s in spans}
    a, b, c = by_actor["a"], by_actor["b"], by_actor["c"]
    assert a.trace_id == b.trace_id == c.trace_id
    assert a.parent_span_id == ""
    assert b.parent_span_id == a.span_id
    assert c.parent_span_id == b.span_id
    assert message.envelope.trace.split("-")[1] == a.trace_id
    for span, topic in ((a, "t1"), (b, "t2"), (c, "t3")):
        assert span.resource["service.name"] == "traced"
        assert span.resource["deployment.environment"] == "test"
        assert span.attributes["messaging.destination.name"] == topic
        assert span.attributes["enlil.actor"] == span.resource["enlil.actor"]
        assert isinstance(span.attributes["enlil.seq"], int)
    pids = {site.pid(name) for name in "abc"}
    assert len(pids) == 3


def test_unsampled_messages_carry_no_trace_and_make_no_span(
    receiver: OtlpReceiver, mesh: MeshFactory
) -> None:
    """With sampling 0, nothing is traced and envelopes carry no trace context."""
    site = mesh.start(chain(receiver.endpoint, sampling=0.0))
    cursor = site.publish("t1", 1)
    message = site.wait_for("t4", after=cursor)
    assert message.envelope.trace is None
    site.request("stop", name="c")  # its exporter flushes on the way out
    assert receiver.spans == []


def test_an_exception_is_recorded_on_the_span(receiver: OtlpReceiver, mesh: MeshFactory) -> None:
    """A step that raises ends its span with an error status and the exception."""
    site = mesh.start(
        {
            "site": {"name": "traced"},
            "telemetry": {"otlp_endpoint": receiver.endpoint},
            "actors": {"c": {"class": "mesh_actors:Crasher"}},
        }
    )
    old = site.pid("c")
    site.publish("crash.in", "crash")
    site.wait_restarted("c", old)
    spans = receiver.wait_for(lambda s: any(x.status_code == 2 for x in s))
    failed = next(s for s in spans if s.status_code == 2)
    assert "exception" in failed.events


def test_logs_inside_a_traced_step_carry_its_ids(receiver: OtlpReceiver, mesh: MeshFactory) -> None:
    """A record logged by a sampled step names the trace and span it ran in."""
    import json

    site = mesh.start(
        {
            "site": {"name": "traced"},
            "telemetry": {"otlp_endpoint": receiver.endpoint},
            "actors": {"chatty": {"class": "mesh_actors:Chatty"}},
        }
    )
    cursor = site.publish("chatty.in", 7)
    site.wait_for("chatty.out", after=cursor)
    spans = receiver.wait_for(lambda s: len(s) >= 1)
    log_file = site.site.site.run_dir / "logs" / "chatty.log"
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    got = next(r for r in records if r["event"] == "got a number")
    assert (got["trace_id"], got["span_id"]) == (spans[0].trace_id, spans[0].span_id)


def test_exported_logs_follow_the_export_level_and_carry_trace_ids(
    receiver: OtlpReceiver, mesh: MeshFactory
) -> None:
    """Records at or above otel_log_level are exported with their trace id; the local
    file keeps to the local level."""
    import json

    site = mesh.start(
        {
            "site": {"name": "traced"},
            "telemetry": {"otlp_endpoint": receiver.endpoint},
            "actors": {
                "chatty": {
                    "class": "mesh_actors:Chatty",
                    "log_level": "warning",
                    "otel_log_level": "info",
                }
            },
        }
    )
    cursor = site.publish("chatty.in", 9)
    site.wait_for("chatty.out", after=cursor)
    logs = receiver.wait_logs(lambda r: any(x[1] == "got a number" for x in r))
    record = next(x for x in logs if x[1] == "got a number")
    severity, _, attrs, trace_id, resource = record
    assert severity == "INFO" and attrs["value"] == 9 and attrs["actor"] == "chatty"
    assert resource["enlil.actor"] == "chatty"
    spans = receiver.wait_for(lambda s: len(s) >= 1)
    assert trace_id == spans[0].trace_id
    log_file = site.site.site.run_dir / "logs" / "chatty.log"
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    assert "got a number" not in events


def test_a_traced_call_is_a_span_on_the_caller_and_a_child_span_on_the_server(
    receiver: OtlpReceiver, mesh: MeshFactory
) -> None:
    """The asker's step span, its call span, and the server's span under the call: one
    trace across the two processes."""
    site = mesh.start(
        {
            "site": {"name": "traced"},
            "telemetry": {"otlp_endpoint": receiver.endpoint},
            "actors": {
                "server": {"class": "call_actors:SetPoint"},
                "asker": {"class": "call_actors:Asker"},
            },
        }
    )
    cursor = site.publish("ask.in", {"call": "sp", "request": {"value": 1.5}, "id": 1})
    answer = site.wait_for("ask.out", after=cursor).envelope.payload
    assert answer["ok"], answer
    spans = receiver.wait_for(lambda s: any(x.name == "server serve sp.set" for x in s))
    served = next(s for s in spans if s.name == "server serve sp.set")
    spans = receiver.wait_for(lambda s: any(x.name == "asker call sp.set" for x in s))
    call = next(s for s in spans if s.name == "asker call sp.set")
    step = next(s for s in spans if s.name == "asker ask.in")
    assert call.trace_id == served.trace_id == step.trace_id
    assert call.parent_span_id == step.span_id
    assert served.parent_span_id == call.span_id
    assert served.attributes["enlil.caller"] == "asker"
    assert call.attributes["rpc.service"] == "sp.set"


def test_a_collector_that_goes_away_is_one_warning_and_one_recovery_line(
    mesh: MeshFactory,
) -> None:
    """The OTLP receiver stops while a traced site runs, then comes back on its port: each
    process says "OTLP export failing" once in its JSON log (none of the SDK's plain-text
    retry lines reach the supervisor's output) and "OTLP export recovered" once spans flow
    again."""
    import json

    first = OtlpReceiver()
    port = int(first.endpoint.rsplit(":", 1)[1])
    site = mesh.start(chain(first.endpoint))
    cursor = site.publish("t1", 1)
    site.wait_for("t4", after=cursor)
    first.wait_for(lambda spans: len(spans) >= 3)
    first.close()  # the collector goes away
    log = site.site.site.run_dir / "logs" / "a.log"

    def said(event: str) -> int:
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        return sum(1 for x in lines if x.get("event", "").startswith(event))

    def traffic() -> bool:
        site.publish("t1", 2)
        return said("OTLP export failing") >= 1

    site.wait_until(traffic, 30, "the failing warning")
    again = OtlpReceiver(port)
    try:

        def recovered() -> bool:
            site.publish("t1", 3)
            return said("OTLP export recovered") >= 1

        site.wait_until(recovered, 30, "the recovery line")
        again.wait_for(lambda spans: len(spans) >= 1)
        assert said("OTLP export failing") == 1
        plain = [x for x in site.log_tail(2000).splitlines() if not x.startswith("{")]
        assert not [x for x in plain if "Transient error" in x or "Failed to export" in x]
    finally:
        site.close()
        again.close()
