"""hal.mqtt.MqttBridge through a real mosquitto on a loopback port, restarts included."""

from __future__ import annotations

import getpass
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from clitools import supervisor_cli
from paho.mqtt.enums import CallbackAPIVersion
from test_docs import diagnostics, node_tool

from actors.testing import Harness, MeshFactory
from hal.mqtt import MqttBridge

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Mosquitto:
    """A real mosquitto on 127.0.0.1, persistent across restarts (its sessions survive)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise RuntimeError("mosquitto is not installed (./scripts/test installs it)")
        self.binary = binary
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"user {getpass.getuser()}\n"  # as root: no drop to 'mosquitto' (tmp is ours)
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "log_dest stderr\n"  # unbuffered
            "persistence true\n"
            f"persistence_location {folder}/\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start it and wait for its 'running' line (a hang guard, not a delay)."""
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        seen = b""
        while b" running" not in seen:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                self.stop()
                raise RuntimeError("mosquitto did not start:\n" + seen.decode(errors="replace"))
            seen += chunk
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep draining

    def stop(self) -> None:
        """SIGTERM by pid; mosquitto saves its sessions and exits."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(20)
            self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto for one test; stopped (by pid) at the end."""
    m = Mosquitto(tmp_path)
    m.start()
    try:
        yield m
    finally:
        m.stop()


class Listener:
    """A test MQTT client with a persistent session: subscribes, collects, reconnects itself."""

    def __init__(self, port: int, pattern: str) -> None:
        self.messages: list[tuple[str, Any]] = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="enlil-test-listener", clean_session=False
        )
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe(pattern, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(20)

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append((message.topic, json.loads(message.payload)))
            self.cond.notify_all()

    def wait(self, predicate: Any, timeout: float = 30.0) -> list[tuple[str, Any]]:
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self.messages), timeout):
                raise AssertionError(f"not seen within {timeout}s; got {self.messages[-10:]}")
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def bridge_site(port: int) -> dict[str, Any]:
    return {
        "actors": {
            "doubler": {"class": "mesh_actors:Doubler"},
            "mqtt": {
                "class": "hal.mqtt:MqttBridge",
                "params": {
                    "port": port,
                    "retry_initial": 0.1,
                    "retry_max": 0.5,
                    "to_mqtt": {"numbers.out": "enlil/numbers", "stream.*": "enlil/stream"},
                    "from_mqtt": {"lab/in": "numbers.in", "lab/cmd/#": "cmd.*"},
                },
            },
        }
    }


def mqtt_publish(port: int, topic: str, payload: Any) -> None:
    """Publish one JSON message with QoS 1 and wait for the broker's acknowledgement."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="enlil-test-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(20)
    finally:
        client.loop_stop()
        client.disconnect()


def test_round_trip_through_mosquitto(mesh: MeshFactory, broker: Mosquitto) -> None:
    """MQTT -> bridge -> doubler -> bridge -> MQTT, and an MQTT '#' filter into an enlil family."""
    listener = Listener(broker.port, "enlil/#")
    try:
        site = mesh.start(bridge_site(broker.port))
        site.wait_for("mqtt.connected", lambda up: up is True)
        cursor = site.mark()
        mqtt_publish(broker.port, "lab/in", 5)
        assert site.wait_for("numbers.out", after=cursor).envelope.payload == 10.0
        listener.wait(lambda ms: ("enlil/numbers", 10.0) in ms)
        mqtt_publish(broker.port, "lab/cmd/heater", {"on": True})
        assert site.wait_for("cmd.heater", after=cursor).envelope.payload == {"on": True}
        mqtt_publish(broker.port, "lab/in", "not a number")  # wrong type: counted by the doubler
        site.publish("stream.temperature.kitchen", 21.5)
        listener.wait(lambda ms: ("enlil/stream/temperature/kitchen", 21.5) in ms)
        counts = site.wait_for("mqtt.forwarded_in", lambda n: n == 3, after=cursor)
        assert counts.envelope.payload == 3
    finally:
        listener.close()


def test_broker_restart_mid_stream_loses_nothing(mesh: MeshFactory, broker: Mosquitto) -> None:
    """Stop mosquitto mid-stream: the bridge reports it, queues, reconnects, delivers it all."""
    listener = Listener(broker.port, "enlil/stream/#")
    try:
        site = mesh.start(bridge_site(broker.port))
        site.wait_for("mqtt.connected", lambda up: up is True)
        for n in range(1, 51):
            site.publish("stream.n", n)
        listener.wait(lambda ms: len({v for _, v in ms}) >= 50)
        cursor = site.mark()
        broker.stop()
        site.wait_for("mqtt.connected", lambda up: up is False, after=cursor)
        for n in range(51, 101):  # while the broker is away: queued by the bridge (QoS 1)
            site.publish("stream.n", n)
        cursor = site.mark()
        broker.start()
        site.wait_for("mqtt.connected", lambda up: up is True, after=cursor)
        site.wait_for("mqtt.reconnects", lambda n: n == 1, after=cursor)
        for n in range(101, 151):
            site.publish("stream.n", n)
        got = listener.wait(lambda ms: {v for _, v in ms} >= set(range(1, 151)))
        assert {v for _, v in got} == set(range(1, 151))  # QoS 1: at least once, none lost
        # And the other way, after the restart.
        cursor = site.mark()
        mqtt_publish(broker.port, "lab/in", 7)
        assert site.wait_for("numbers.out", after=cursor).envelope.payload == 14.0
        assert site.actor("mqtt")["restarts"] == 0  # no crash, no restart
    finally:
        listener.close()


def test_bad_mappings_are_named() -> None:
    """A mapping the bridge cannot follow is a clear error naming the key."""
    with pytest.raises(ValueError, match=r"from_mqtt\['lab/\+/x'\]"):
        Harness(MqttBridge, name="mqtt", params={"from_mqtt": {"lab/+/x": "a.b"}})
    with pytest.raises(ValueError, match="'/#' filter maps to an enlil family"):
        Harness(MqttBridge, name="mqtt", params={"from_mqtt": {"lab/#": "a.b"}})
    with pytest.raises(ValueError, match=r"params\.format: 'xml' is not one of 'json', 'msgpack'"):
        Harness(MqttBridge, name="mqtt", params={"format": "xml"})


def test_a_link_fault_disconnects_the_bridge_and_it_reconnects(
    mesh: MeshFactory, broker: Mosquitto
) -> None:
    """A [faults] link partition on the bridge: the next message from MQTT disconnects it
    (connected false, on the ledger); the rule cleared, it reconnects and delivers."""
    site = mesh.start(bridge_site(broker.port))
    site.wait_for("mqtt.connected", lambda up: up is True)
    cursor = site.mark()
    site.control.fault_add({"hop": "link", "to": "mqtt", "kind": "partition", "for": 1.0e9})
    mqtt_publish(broker.port, "lab/in", 5)
    site.wait_for("mqtt.connected", lambda up: up is False, after=cursor)
    cursor = site.mark()
    site.control.fault_clear()
    site.wait_for("mqtt.connected", lambda up: up is True, after=cursor)
    mqtt_publish(broker.port, "lab/in", 6)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 12.0
    site.wait_status(
        lambda s: any(e["hop"] == "link" for e in site.control.faults()["entries"]),
        what="the disconnect on the ledger",
    )


def test_asyncapi_describes_the_mqtt_side_and_what_it_says_holds(
    mesh: MeshFactory, broker: Mosquitto, tmp_path: Path
) -> None:
    """The site's AsyncAPI document lists the MQTT broker as a server and a channel per
    mapped topic or filter (validated by the official parser); publishing on the MQTT
    topic a receive channel names lands on the enlil topic the document gives for it.
    The dictionary and the graph show the broker as a boundary."""
    site = mesh.start(bridge_site(broker.port))
    site.wait_for("mqtt.connected", lambda up: up is True)
    out = tmp_path / "docs"
    proc = supervisor_cli("docs", "--out", str(out), config=site.config_path)
    assert proc.returncode == 0, proc.stderr
    check = node_tool("validate_asyncapi.mjs", str(out / "asyncapi.json"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert [d for d in diagnostics(check) if d["severity"] == "error"] == []
    doc = json.loads((out / "asyncapi.json").read_text())
    assert doc["servers"]["mqtt-mqtt"] == {
        "host": f"127.0.0.1:{broker.port}",
        "protocol": "mqtt",
        "protocolVersion": "3.1.1",
        "description": "The MQTT broker (QoS 1, json payloads) (bridge: actor mqtt)",
        "bindings": {"mqtt": {"cleanSession": True, "keepAlive": 30, "bindingVersion": "0.2.0"}},
    }
    mqtt_side = [{"$ref": "#/servers/mqtt-mqtt"}]
    channels = {c["address"]: c for c in doc["channels"].values() if c["servers"] == mqtt_side}
    assert set(channels) == {"enlil/numbers", "enlil/stream/{rest}", "lab/in", "lab/cmd/{rest}"}
    own = [{"$ref": "#/servers/broker-publish"}, {"$ref": "#/servers/broker-subscribe"}]
    others = [c for c in doc["channels"].values() if c["address"] not in channels]
    assert others and all(c["servers"] == own for c in others)  # the site's own: its broker
    assert channels["lab/cmd/{rest}"]["parameters"]["rest"]["description"].startswith("one or more")
    messages = doc["components"]["messages"]
    lab_in = channels["lab/in"]
    message = messages[next(iter(lab_in["messages"]))]
    assert message["contentType"] == "application/json"
    assert message["payload"]["type"] == "number"  # numbers.in, as the doubler declares it
    actions = {
        doc["operations"][o]["channel"]["$ref"].rsplit("/", 1)[1]: doc["operations"][o]["action"]
        for o in doc["operations"]
        if o.startswith("mqtt-mqtt")
    }
    by_address = {c["address"]: cid for cid, c in doc["channels"].items()}
    assert actions[by_address["lab/cmd/{rest}"]] == "receive"
    assert actions[by_address["enlil/numbers"]] == "send"
    bridge_ops = [o for k, o in doc["operations"].items() if k.startswith("mqtt-")]
    qos = {o["bindings"]["mqtt"]["qos"] for o in bridge_ops}
    assert qos == {1}
    # What the document says, done: publish on lab/cmd/{rest} and read the enlil topic.
    cmd = channels["lab/cmd/{rest}"]
    topic = cmd["x-enlil-topic"].replace("*", "valve")
    cursor = site.mark()
    mqtt_publish(broker.port, cmd["address"].replace("{rest}", "valve"), {"open": True})
    assert site.wait_for(topic, after=cursor).envelope.payload == {"open": True}
    assert topic == "cmd.valve"
    graph = (out / "graph.mmd").read_text()
    assert f'[("mqtt://127.0.0.1:{broker.port}")]:::boundary' in graph
    assert '== "lab/cmd/{rest}" ==>' in graph
    dictionary = (out / "dictionary.md").read_text()
    assert "| `lab/cmd/{rest}` | mqtt in |" in dictionary


def test_the_bridge_describes_its_mqtt_side_from_its_params() -> None:
    """Pure: msgpack payloads, a bare '#' filter, a family out; a bad mapping gives nothing
    (check names it)."""
    params = {
        "host": "mqtt.local",
        "port": 8883,
        "format": "msgpack",
        "qos": 0,
        "to_mqtt": {"room.*": "lab/room/"},
        "from_mqtt": {"#": "all.*"},
    }
    (side,) = MqttBridge.boundary_from_params(params)
    assert (side.protocol, side.address, side.content_type) == (
        "mqtt",
        "mqtt.local:8883",
        "application/msgpack",
    )
    assert [(r.address, r.topic, r.inbound) for r in side.routes] == [
        ("lab/room/{rest}", "room.*", False),
        ("{rest}", "all.*", True),
    ]
    assert MqttBridge.boundary_from_params({"from_mqtt": {"a/+/b": "x"}}) == []
