"""Metrics from the engine's counters and from declarations, against a real OTLP receiver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import OtlpReceiver

from actors.core.wire import encode_envelope
from actors.testing import MeshFactory

pytestmark = pytest.mark.slow


def last(points: list[Any], name: str, **attrs: Any) -> Any:
    """The newest point of metric *name* whose attributes include *attrs*."""
    for point in reversed(points):
        if point[0] == name and all(point[3].get(k) == v for k, v in attrs.items()):
            return point
    return None


def metered_site(receiver: OtlpReceiver, name: str, class_path: str) -> dict[str, Any]:
    """A one-actor site exporting metrics (and no traces) every 0.2 s to *receiver*."""
    return {
        "site": {"name": "metered"},
        "telemetry": {"otlp_endpoint": receiver.endpoint, "sampling": 0.0, "metrics_interval": 0.2},
        "actors": {name: {"class": class_path}},
    }


def test_declared_metrics_and_counters_arrive(receiver: OtlpReceiver, mesh: MeshFactory) -> None:
    """A metric=True State arrives with its value, unit and doc; counters by topic too."""
    site = mesh.start(metered_site(receiver, "m", "mesh_actors:Metered"))
    for n in (3, 4):
        site.publish("metered.in", n)
    points = receiver.wait_points(
        lambda p: (x := last(p, "enlil.total")) is not None and x[4] == 7.0
    )
    total = last(points, "enlil.total")
    assert total[1] == "Sum of the numbers so far" and total[2] == "{item}"
    assert total[3]["enlil.actor"] == "m" and total[5]["service.name"] == "metered"
    points = receiver.wait_points(
        lambda p: (
            (x := last(p, "enlil.topic.messages", topic="metered.in")) is not None and x[4] == 2.0
        )
    )
    assert last(points, "enlil.messages", outcome="accepted")[4] >= 2.0
    receiver.wait_points(lambda p: last(p, "enlil.step.duration") is not None)
    assert last(receiver.points, "enlil.process.rss")[4] > 0
    # Gaps per Input: a sender that skips two sequence numbers.
    for seq in (1, 4):
        site.send_frames([b"metered.in", encode_envelope("gappy", seq, 0, seq)])
    receiver.wait_points(
        lambda p: (x := last(p, "enlil.input.gaps", input="value")) is not None and x[4] == 2.0
    )


def test_site_metrics_count_restarts_and_exits_by_reason(
    receiver: OtlpReceiver, mesh: MeshFactory
) -> None:
    """The supervisor exports restarts and exits of each actor, by reason."""
    site = mesh.start(metered_site(receiver, "d", "mesh_actors:Doubler"))
    site.wait_restarted("d", site.kill("d"))
    points = receiver.wait_points(
        lambda p: (
            last(p, "enlil.site.restarts", **{"enlil.actor": "d"}) is not None
            and last(p, "enlil.site.exits", reason="killed") is not None
        )
    )
    assert last(points, "enlil.site.restarts", **{"enlil.actor": "d"})[4] == 1.0
    exits = last(points, "enlil.site.exits", reason="killed")
    assert exits[4] == 1.0 and exits[5]["service.instance.id"] == "supervisor"


def test_prometheus_endpoint_serves_the_whole_site(mesh: MeshFactory) -> None:
    """One scrape shows every process, its counters, declared metrics and restarts."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = mesh.start(
        {
            "telemetry": {"prometheus": f"127.0.0.1:{port}"},
            "actors": {"m": {"class": "mesh_actors:Metered"}},
        }
    )
    site.publish("metered.in", 3)
    site.publish("metered.in", 4)
    site.wait_restarted("m", site.kill("m"))
    site.publish("metered.in", 5)

    def page() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    site.wait_status(
        lambda s: 'enlil_metered_total_value{actor="m"} 5.0' in page(),
        what="the declared metric on the scrape page",
    )
    text = page()
    assert "# HELP enlil_metered_total_value Sum of the numbers so far ({item})" in text
    assert 'enlil_up{actor="broker",kind="broker"} 1' in text
    assert 'enlil_restarts_total{actor="m"} 1' in text
    assert 'enlil_exits_total{actor="m",reason="killed"} 1' in text
    assert 'enlil_messages_total{actor="m",outcome="accepted"}' in text
    assert "# TYPE enlil_messages_total counter" in text
    assert "enlil_control_up 1.0" in text


@pytest.mark.slow
def test_the_prometheus_page_passes_promtool(mesh: MeshFactory, tmp_path: Path) -> None:
    """A site with the serial link, its simulated device, the recorder and a durable
    counter: ``promtool check metrics`` finds nothing to say; cumulative counts are
    counters (``_total``), a declared metric's HELP is its doc, its unit in its name, and
    two declarations named alike (``errors``) are two families."""
    import shutil
    import socket
    import subprocess
    import urllib.request

    from test_serial import sim_site

    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./scripts/test installs it (Debian prometheus)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = sim_site()
    data["telemetry"] = {"prometheus": f"127.0.0.1:{port}"}
    data["actors"]["recorder"] = {"class": "actors.recorder:Recorder"}
    data["actors"]["m"] = {"class": "mesh_actors:Metered"}
    data["actors"]["commander"] = {"class": "reliable_actors:Commander"}  # a reliable pair
    data["actors"]["x"] = {"class": "reliable_actors:Executor"}
    site = mesh.start(data)
    site.publish("metered.in", 3)
    site.publish("cmd.go", 20)

    def page() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    site.wait_status(
        lambda s: all(
            f in page()
            for f in (
                "enlil_serial_link_bytes_in_bytes_total",
                "enlil_room_sim_air",
                'enlil_reliable_behind{actor="commander",reader="x",topic="cmd.out"} 0.0',
            )
        ),
        what="the link's, the simulator's and the reliable topic's metrics",
    )
    text = page()
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "# TYPE enlil_serial_link_reconnects_total counter" in text
    assert "# HELP enlil_serial_link_bytes_in_bytes_total Bytes read" in text
    assert "# TYPE enlil_recorder_errors_total counter" in text
    assert "# TYPE enlil_room_sim_air_celsius gauge" in text
    assert 'enlil_reliable_unacked{actor="commander",topic="cmd.out"} 0.0' in text
    assert 'enlil_reliable_sent_total{actor="commander",outcome="resent",topic="cmd.out"}' in text
    assert "# TYPE enlil_reliable_received_total counter" in text
    assert "enlil_bytes_in" not in text.replace("enlil_serial_link_bytes_in", "")


def test_a_plugin_sees_the_site_through_its_control_client_and_event_stream(
    mesh: MeshFactory,
) -> None:
    """A plugin's context: events as they happen, counts in status, one client for threads."""
    import threading

    import structlog

    from supervisor.plugins import PluginContext, counts_of

    site = mesh.start({"actors": {"d": {"class": "mesh_actors:Doubler"}}})
    context = PluginContext(site.site, structlog.get_logger())
    events = context.events()
    try:
        events.wait_connected(10.0)
        old = site.kill("d")
        seen: list[str] = []
        while "restarted" not in seen:
            event = events.next(timeout=20.0)
            assert event is not None, f"no event after {seen}"
            if event["actor"] == "d":
                seen.append(event["event"])
        assert seen[:2] == ["exited", "restarting"] and seen[-1] == "restarted"
        site.wait_restarted("d", old)
        assert counts_of(context.control.status())[("d", "restart")] == 1
        # Threads share the plugin's one client: each gets its own answers.
        answers: list[str] = []

        def ask() -> None:
            for _ in range(25):
                answers.append(context.control.status()["site"])

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30.0)
        assert answers == [site.site.site.name] * 100
    finally:
        events.close()
        context.close()


def test_calls_are_counted_in_otel_metrics_and_on_the_prometheus_page(
    receiver: OtlpReceiver, mesh: MeshFactory
) -> None:
    """Calls by outcome, the breaker's state, requests served: over OTLP and on /metrics."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = mesh.start(
        {
            "site": {"name": "metered"},
            "telemetry": {
                "otlp_endpoint": receiver.endpoint,
                "metrics_interval": 0.5,
                "prometheus": f"127.0.0.1:{port}",
            },
            "actors": {
                "server": {"class": "call_actors:SetPoint"},
                "asker": {"class": "call_actors:Asker"},
            },
        }
    )
    cursor = site.publish("ask.in", {"call": "sp", "request": {"value": 3.0}, "id": 1})
    site.wait_for("ask.out", after=cursor)
    cursor = site.publish("ask.in", {"call": "ghost", "request": None, "id": 2})
    site.wait_for("ask.out", after=cursor)
    points = receiver.wait_points(
        lambda p: (
            (x := last(p, "enlil.calls", call="sp", outcome="ok")) is not None
            and x[4] == 1.0
            and last(p, "enlil.calls", call="ghost", outcome="no_responders") is not None
            and last(p, "enlil.service.requests", handler="set_setpoint", outcome="replied")
            is not None
        )
    )
    assert last(points, "enlil.calls", call="ghost", outcome="no_responders")[4] == 1.0

    def page() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    site.wait_status(
        lambda s: (
            'enlil_calls_total{actor="asker",call="sp",outcome="ok",service="sp.set"} 1.0' in page()
        ),
        what="the calls on the scrape page",
    )
    text = page()
    assert (
        'enlil_service_requests_total{actor="server",handler="set_setpoint",outcome="replied"} 1.0'
        in text
    )
    assert "enlil_calls_total" in text and "# TYPE enlil_calls_total counter" in text
    assert 'enlil_call_breaker{actor="asker",call="retried",state="closed"} 1.0' in text
    assert 'enlil_call_breaker{actor="asker",call="retried",state="open"} 0.0' in text
    gauge = receiver.wait_points(
        lambda p: last(p, "enlil.call.breaker", call="retried") is not None
    )
    assert last(gauge, "enlil.call.breaker", call="retried")[4] == 0.0


def test_reliable_topics_are_measured_over_otlp(receiver: OtlpReceiver, mesh: MeshFactory) -> None:
    """A reliable writer's kept, resent and readers' lag, and its reader's recovered,
    arrive over OTLP (20% of the commands dropped on delivery)."""
    data = metered_site(receiver, "commander", "reliable_actors:Commander")
    data["actors"]["x"] = {"class": "reliable_actors:Executor"}
    drop = {"hop": "deliver", "kind": "drop", "probability": 0.2, "topic": "cmd.out"}
    data["faults"] = {"seed": 6, "rules": [drop]}
    site = mesh.start(data)
    site.publish("cmd.go", 200)
    points = receiver.wait_points(
        lambda p: (
            (x := last(p, "enlil.reliable.behind", reader="x", topic="cmd.out")) is not None
            and x[4] == 0
            and (r := last(p, "enlil.reliable.received", outcome="recovered")) is not None
            and r[4] > 0
            and (s := last(p, "enlil.reliable.sent", outcome="resent")) is not None
            and s[4] > 0
        )
    )
    assert last(points, "enlil.reliable.unacked", topic="cmd.out")[3]["enlil.actor"] == "commander"
    assert last(points, "enlil.reliable.received", outcome="lost") is None  # none lost
