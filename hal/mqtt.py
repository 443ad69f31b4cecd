"""``hal.mqtt:MqttBridge``: enlil topics to an MQTT broker and back (shell: a real broker).

Many sites already run an MQTT broker; the bridge forwards chosen enlil
topics there and chosen MQTT topics into the site::

    [actors.mqtt]
    class = "hal.mqtt:MqttBridge"
    params = { host = "127.0.0.1", port = 1883, format = "json",
               to_mqtt = { "sensor.temperature" = "lab/temperature", "room.*" = "lab/room" },
               from_mqtt = { "lab/setpoint" = "thermostat.setpoint", "lab/cmd/#" = "cmd.*" } }

Mapping rules: an exact enlil topic maps to an exact MQTT topic; an enlil
family ``a.*`` maps to an MQTT prefix, the rest of the topic following with
dots as slashes (``room.rx`` -> ``lab/room/rx``). Back, an exact MQTT topic
maps to an exact enlil topic, and a filter ``x/#`` to a family ``y.*``
(``lab/cmd/heater`` -> ``cmd.heater``). Do not map one topic both ways: the
bridge would echo it.

Payloads are JSON or msgpack (``format``). A value that cannot be encoded, a
payload that cannot be decoded, and a message that cannot be queued are
counted (``dropped``, ``decode_errors``), never fatal.

paho-mqtt runs without a thread: its socket is polled with the actor's
sockets (``self.enlil.watch``) and its keep-alive work runs on a timer. When
the broker goes away the bridge reports ``connected = false`` and reconnects
with exponential backoff and jitter; with ``qos = 1`` (the default) messages
published meanwhile wait in paho's queue (at most ``queue_limit``) and go out
after the reconnect.

The bridge describes its MQTT side (:meth:`MqttBridge.boundary_from_params`):
the site's AsyncAPI document lists the broker as a server with a channel per
mapped topic or filter, and the dictionary and graph show it as a boundary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgpack
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from actors import Actor, Input, Output, Param, State
from actors.core.backoff import jittered, next_delay
from actors.core.boundary import Boundary, Route
from actors.core.faults import UNPLUG
from actors.core.topics import TopicError, parse_pattern
from hal.core.links import publish_counts

FORMATS = ("json", "msgpack")


def _to_mqtt_rules(mapping: Mapping[str, str]) -> list[tuple[str, bool, str]]:
    """``(enlil prefix or topic, is family, mqtt topic or prefix)``, longest first."""
    rules = []
    for enlil, target in mapping.items():
        pattern = parse_pattern(enlil)
        if not isinstance(target, str) or not target or any(c in target for c in "+#"):
            raise ValueError(f"to_mqtt[{enlil!r}]: {target!r} is not an MQTT topic")
        rules.append((pattern.prefix, not pattern.exact, target.rstrip("/")))
    return sorted(rules, key=lambda r: -len(r[0]))


def _from_mqtt_rules(mapping: Mapping[str, str]) -> list[tuple[str, bool, str]]:
    """``(mqtt topic or prefix, is filter, enlil topic or prefix)``."""
    rules = []
    for source, enlil in mapping.items():
        if not isinstance(enlil, str):
            raise ValueError(f"from_mqtt[{source!r}]: {enlil!r} is not an enlil topic")
        pattern = parse_pattern(enlil)
        wild = source.endswith("/#") or source == "#"
        if "+" in source or ("#" in source and not wild):
            raise ValueError(f"from_mqtt[{source!r}]: only exact topics and 'prefix/#' filters")
        if wild == pattern.exact:
            raise ValueError(
                f"from_mqtt[{source!r}] = {enlil!r}: a '/#' filter maps to an enlil "
                "family 'x.*', an exact topic to an exact topic"
            )
        rules.append((source[:-1] if wild else source, wild, pattern.prefix))
    return rules


class MqttBridge(Actor):
    """Forwards chosen enlil topics to an MQTT broker and chosen MQTT topics into the site."""

    outgoing = Input(
        "{name}.out",
        object,
        doc="Messages to forward to MQTT (topics: to_mqtt's keys)",
        default=None,
    )
    incoming = Output("{name}.in", object, doc="Messages from MQTT (topics: from_mqtt's values)")
    connected = Output("{name}.connected", bool, doc="Whether the MQTT session is up", metric=True)
    forwarded_out = Output("{name}.forwarded_out", int, doc="Sent to MQTT", metric="counter")
    forwarded_in = Output("{name}.forwarded_in", int, doc="Received from MQTT", metric="counter")
    dropped = Output(
        "{name}.dropped", int, doc="Not sent: not encodable, or the queue full", metric="counter"
    )
    decode_errors = Output(
        "{name}.decode_errors", int, doc="MQTT payloads that did not decode", metric="counter"
    )
    reconnects = Output("{name}.reconnects", int, doc="Sessions after the first", metric="counter")

    host = Param("127.0.0.1", doc="MQTT broker host")
    port = Param(1883, doc="MQTT broker port", minimum=1, maximum=65535)
    client_id = Param("", doc="MQTT client id (default: enlil-<actor name>)")
    username = Param("", doc="MQTT user name (empty: none)")
    password = Param("", doc="MQTT password")
    keepalive = Param(30, doc="MQTT keep-alive", unit="s", minimum=1, maximum=65535)
    qos = Param(1, doc="QoS of what the bridge publishes and subscribes: 0 or 1", choices=(0, 1))
    format = Param(
        "json", doc="Payload encoding on the MQTT side: json or msgpack", choices=FORMATS
    )
    to_mqtt = Param({}, doc="enlil topic (or 'a.*') -> MQTT topic (or prefix)", type=dict)
    from_mqtt = Param({}, doc="MQTT topic (or 'x/#') -> enlil topic (or 'y.*')", type=dict)
    queue_limit = Param(1000, doc="Messages waiting for the broker, at most", minimum=1)
    retry_initial = Param(0.2, doc="First reconnect delay", unit="s", minimum=0.001, maximum=3600)
    retry_max = Param(10.0, doc="Longest reconnect delay", unit="s", minimum=0.001, maximum=3600)
    connect_timeout = Param(
        2.0, doc="Longest wait for the TCP connection", unit="s", minimum=0.01, maximum=600
    )

    sessions = State(0, doc="MQTT sessions opened")
    retry_delay = State(0.0, doc="Delay before the next reconnect", unit="s")
    last_error = State("", doc="Why the session last ended or failed")

    hal = True
    period = 1.0  # how often the status is published

    @classmethod
    def topics_from_params(cls, params: Mapping[str, Any]) -> dict[str, list[str]]:
        """Inputs from to_mqtt's enlil topics; the output on from_mqtt's."""
        return {
            "outgoing": list(params.get("to_mqtt") or {}),
            "incoming": list((params.get("from_mqtt") or {}).values()),
        }

    @classmethod
    def boundary_from_params(cls, params: Mapping[str, Any]) -> list[Boundary]:
        """The MQTT broker, with a route per to_mqtt and from_mqtt entry (none while a
        mapping is wrong: ``check_params`` says why)."""
        to_mqtt, from_mqtt = params.get("to_mqtt") or {}, params.get("from_mqtt") or {}
        try:
            _to_mqtt_rules(to_mqtt)
            _from_mqtt_rules(from_mqtt)
        except (ValueError, TopicError):
            return []
        routes = []
        for enlil, target in to_mqtt.items():
            if parse_pattern(enlil).exact:
                routes.append(Route(target, enlil, inbound=False))
            else:
                rest = f"the rest of a topic of the family {enlil!r}, its dots as slashes"
                address = target.rstrip("/") + "/{rest}"
                routes.append(Route(address, enlil, inbound=False, parameters=(("rest", rest),)))
        for source, enlil in from_mqtt.items():
            if source == "#" or source.endswith("/#"):
                rest = (
                    f"one or more topic levels (the '#' of the filter {source!r}): they "
                    f"become the rest of the enlil topic in {enlil!r}, slashes as dots"
                )
                routes.append(Route(source[:-1] + "{rest}", enlil, True, (("rest", rest),)))
            else:
                routes.append(Route(source, enlil, inbound=True))
        fmt = params.get("format", "json")
        server: dict[str, Any] = {
            "cleanSession": True,
            "keepAlive": int(params.get("keepalive", 30)),
        }
        if params.get("client_id"):  # else enlil-<actor name>, which the params do not know
            server["clientId"] = str(params["client_id"])
        server["bindingVersion"] = "0.2.0"
        return [
            Boundary(
                name="mqtt",
                protocol="mqtt",
                host=str(params.get("host", "127.0.0.1")),
                port=int(params.get("port", 1883)),
                content_type="application/json" if fmt == "json" else "application/msgpack",
                description=f"The MQTT broker (QoS {params.get('qos', 1)}, {fmt} payloads)",
                routes=tuple(routes),
                protocol_version="3.1.1",
                server_bindings={"mqtt": server},
                operation_bindings={
                    "mqtt": {"qos": int(params.get("qos", 1)), "bindingVersion": "0.2.0"}
                },
            )
        ]

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Every to_mqtt and from_mqtt entry: a topic on each side that maps."""
        problems = []
        for key, rules in (("to_mqtt", _to_mqtt_rules), ("from_mqtt", _from_mqtt_rules)):
            try:
                rules(params.get(key) or {})
            except (ValueError, TopicError) as exc:
                problems.append(f"{key}: {exc}")
        return problems

    def __init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.qos not in (0, 1):
            raise ValueError(f"qos {self.qos!r} is not 0 or 1")
        try:
            self._out_rules = _to_mqtt_rules(self.to_mqtt)
            self._in_rules = _from_mqtt_rules(self.from_mqtt)
        except TopicError as exc:
            raise ValueError(str(exc)) from None
        self._counts = dict.fromkeys(
            ("forwarded_out", "forwarded_in", "dropped", "decode_errors"), 0
        )
        self._client: mqtt.Client | None = None
        self._fd: int | None = None
        self._misc: Any = None
        self._up = False
        self._stopping = False
        self._configured = False  # paho knows host and port after the first connect()

    # -- hooks ---------------------------------------------------------------

    def on_start(self) -> None:
        """Runs in the bridge's process: connects (or schedules retries)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id or f"enlil-{self.enlil.name}",
            protocol=mqtt.MQTTv311,
        )
        client.max_queued_messages_set(self.queue_limit)
        client.connect_timeout = self.connect_timeout
        if self.username:
            client.username_pw_set(self.username, self.password or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self.connected = False
        self.reconnects = 0
        publish_counts(self, self._counts, changed_only=False)
        self._connect()

    def on_stop(self) -> None:
        """Runs at stop: ends the MQTT session cleanly."""
        self._stopping = True
        if self._client is not None and self._up:
            self._client.disconnect()
            self._client.loop_write()
        self._unwatch()

    def step(self) -> None:
        """Forwards a message to MQTT; every period, publishes the bridge's status."""
        if self.enlil.trigger == "outgoing":
            self._forward(self.enlil.topic or "", self.outgoing)
            return
        self.connected = self._up
        publish_counts(self, self._counts)

    # -- the session -----------------------------------------------------------

    def _connect(self) -> None:
        assert self._client is not None
        try:
            if self._configured:
                self._client.reconnect()
            else:
                self._configured = True
                self._client.connect(self.host, self.port, self.keepalive)
        except (OSError, ValueError) as exc:
            self._retry(f"connect failed: {exc}")
            return
        self._watch()
        if self._misc is None:
            self._misc = self.enlil.call_later(1.0, self._keepalive)

    def _watch(self) -> None:
        assert self._client is not None
        sock = self._client.socket()
        if sock is None:
            self._unwatch()
            return
        self._fd = sock.fileno()
        writable = self._writable if self._client.want_write() else None
        self.enlil.watch(self._fd, self._readable, writable)

    def _unwatch(self) -> None:
        if self._fd is not None:
            self.enlil.watch(self._fd)
            self._fd = None

    def _retry(self, why: str) -> None:
        self.retry_delay = next_delay(self.retry_delay, self.retry_initial, self.retry_max)
        self.last_error = why
        self.enlil.call_later(jittered(self.retry_delay, self.enlil.random), self._connect)

    def _readable(self) -> None:
        assert self._client is not None
        self._client.loop_read()
        self._after_io()

    def _writable(self) -> None:
        assert self._client is not None
        self._client.loop_write()
        self._after_io()

    def _after_io(self) -> None:
        if self._client is not None and self._client.socket() is not None:
            self._watch()

    def _keepalive(self) -> None:
        assert self._client is not None
        if self._client.socket() is not None:
            self._client.loop_misc()  # pings, and notices a broker that went silent
            self._after_io()
        self._misc = self.enlil.call_later(1.0, self._keepalive)

    # paho callbacks: they run inside loop_read/loop_write/loop_misc, so inside ours.

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = f"broker refused the session: {reason}"
            return
        self.sessions += 1
        self.reconnects = self.sessions - 1
        self.retry_delay = 0.0
        self._up = True
        self.connected = True
        self.enlil.log.info("mqtt connected", host=self.host, port=self.port)
        for source, wild, _ in self._in_rules:
            client.subscribe(source + "#" if wild else source, qos=self.qos)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._unwatch()
        self._up = False
        self.connected = False
        if self._stopping:
            return
        self.enlil.log.warning("mqtt disconnected", reason=str(reason))
        self.retry_delay = 0.0
        self._retry(f"disconnected: {reason}")

    def _link_fault(self, direction: str, payload: bytes | bytearray) -> bytes | bytearray | None:
        """Fault injection (a [faults] link rule): the payload lost (None), flipped, or the
        broker disconnected (None; the bridge reconnects as after any disconnect)."""
        fault = self.enlil.link_fault
        if fault is None:
            return payload
        changed = fault(direction, bytes(payload))
        if changed == UNPLUG:
            if self._client is not None:
                self._client.disconnect()
            return None
        return changed if isinstance(changed, bytes) else None

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        topic = self._enlil_topic(message.topic)
        if topic is None:
            return
        body = self._link_fault("rx", message.payload)
        if body is None:
            return
        try:
            value = json.loads(body) if self.format == "json" else msgpack.unpackb(body, raw=False)
        except (ValueError, msgpack.UnpackException) as exc:
            self._counts["decode_errors"] += 1
            self.enlil.log.warning("undecodable mqtt payload", topic=message.topic, error=str(exc))
            return
        self._counts["forwarded_in"] += 1
        self.enlil.send("incoming", value, topic=topic)

    # -- mapping ---------------------------------------------------------------

    def _enlil_topic(self, mqtt_topic: str) -> str | None:
        for source, wild, target in self._in_rules:
            if wild and mqtt_topic.startswith(source) and len(mqtt_topic) > len(source):
                return target + mqtt_topic[len(source) :].replace("/", ".")
            if not wild and mqtt_topic == source:
                return target
        return None

    def _mqtt_topic(self, topic: str) -> str | None:
        for prefix, family, target in self._out_rules:
            if family and topic.startswith(prefix):
                return f"{target}/{topic[len(prefix) :].replace('.', '/')}"
            if not family and topic == prefix:
                return target
        return None

    def _forward(self, topic: str, value: Any) -> None:
        assert self._client is not None
        target = self._mqtt_topic(topic)
        if target is None:
            return
        try:
            payload = (
                json.dumps(value).encode()
                if self.format == "json"
                else msgpack.packb(value, use_bin_type=True)
            )
        except (TypeError, ValueError) as exc:
            self._counts["dropped"] += 1
            self.enlil.log.warning("payload not encodable", topic=topic, error=str(exc))
            return
        sent = self._link_fault("tx", payload)
        if sent is None:
            self._counts["dropped"] += 1
            return
        info = self._client.publish(target, sent, qos=self.qos)
        if info.rc == mqtt.MQTT_ERR_SUCCESS or (self.qos and info.rc == mqtt.MQTT_ERR_NO_CONN):
            self._counts["forwarded_out"] += 1  # sent, or queued for the reconnect
        else:
            self._counts["dropped"] += 1
        self._after_io()
