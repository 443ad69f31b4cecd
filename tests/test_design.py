"""Design checks on the declared graph (pure core): each problem, with actors and topics named."""

from __future__ import annotations

from typing import Any

from actors import Actor, Input, Output
from actors.core.params import resolve_topics
from actors.core.type_schema import Schemas
from supervisor.core.design import ActorDecl, Design, compare_live, compatible, overlaps
from supervisor.core.render import asyncapi, dot, mermaid


class Source(Actor):
    """Produces a float reading."""

    reading = Output("plant.reading", float, doc="A reading", unit="degC")


class IntSource(Actor):
    """Produces an int on the same topic."""

    reading = Output("plant.reading", int, doc="A count")


class Shared(Actor):
    """Declares its Output shared."""

    reading = Output("plant.reading", float, doc="A reading", shared=True)


class Sink(Actor):
    """Needs a reading."""

    reading = Input("plant.reading", float, doc="A reading")


class TextSink(Actor):
    """Wants text on the reading topic."""

    reading = Input("plant.reading", str, doc="A reading as text")


class Waiter(Actor):
    """Waits for a topic nobody produces."""

    go = Input("plant.go", bool, doc="Start signal")


class Optional(Actor):
    """Reads a topic nobody produces, with a default."""

    mode = Input("plant.mode", str, doc="Operating mode", default="auto")


class Operator(Actor):
    """Takes a command from outside the site."""

    command = Input(
        "plant.command", str, doc="From the operator's tools", default="", external=True
    )


class Family(Actor):
    """Reads the whole plant family."""

    anything = Input("plant.*", object, doc="Everything under plant", default=None)


class Meter(Actor):
    """Publishes a metric nobody reads."""

    load = Output("plant.load", float, doc="Load", metric=True)


def decl(name: str, cls: type[Actor]) -> ActorDecl:
    topics, errors = resolve_topics(cls._enlil_spec, {}, name)
    assert not errors
    return ActorDecl(
        name=name,
        class_path=f"tests:{cls.__name__}",
        doc=cls._enlil_spec.doc,
        hal=False,
        spec=cls._enlil_spec,
        topics={n: [t] for n, t in topics.items()},
    )


def design(**actors: type[Actor]) -> Design:
    return Design("test", [decl(name, cls) for name, cls in actors.items()])


def findings(**actors: type[Actor]) -> list[tuple[str, str, str]]:
    return [(f.severity, f.topic, f.message) for f in design(**actors).check()]


def test_a_clean_design_has_no_findings() -> None:
    assert findings(source=Source, sink=Sink) == []


def test_consumed_but_never_produced() -> None:
    """Required input: error (its actor never steps); with a default: warning; external: none."""
    (severity, topic, message), *_ = findings(waiter=Waiter)
    assert (severity, topic) == ("error", "plant.go")
    assert "waiter.go has no default, so its actor never steps" in message
    [(severity, topic, message)] = findings(optional=Optional)
    assert (severity, topic) == ("warning", "plant.mode")
    assert "consumed but never produced" in message and "optional.mode" in message
    assert findings(operator=Operator) == []


def test_produced_but_never_consumed_is_a_warning_except_for_metrics() -> None:
    [(severity, topic, message)] = findings(source=Source)
    assert (severity, topic) == ("warning", "plant.reading")
    assert message == "produced but never consumed (by source.reading)"
    assert findings(meter=Meter) == []  # the telemetry consumes metrics


def test_two_producers_warn_unless_shared() -> None:
    found = findings(a=Source, b=Shared, sink=Sink)
    assert [f for f in found if "several producers" in f[2]] == [
        (
            "warning",
            "plant.reading",
            "has several producers: a.reading, b.reading "
            "(declare Output(..., shared=True) on each if that is meant)",
        )
    ]
    assert findings(a=Shared, b=Shared, sink=Sink) == []


def test_type_disagreement_is_an_error_naming_both_ends() -> None:
    found = findings(source=Source, sink=TextSink)
    assert (
        "error",
        "plant.reading",
        "source.reading produces float but sink.reading consumes str",
    ) in found
    assert findings(source=IntSource, sink=Sink) == []  # an int is accepted for a float


def test_families_connect_to_their_members() -> None:
    """A 'plant.*' consumer consumes plant.reading; the producer is not unconsumed."""
    d = design(source=Source, all=Family)
    assert d.check() == []
    assert [e.label for e in d.consumers_of("plant.reading")] == ["all.anything"]
    assert overlaps("plant.*", "plant.a.b") and not overlaps("plant.*", "plants.a")
    assert "plant.reading" in dot(d) and "-.->" in mermaid(d)


def test_type_compatibility_rules() -> None:
    assert compatible(list[int], list) and compatible(dict[str, int], dict[str, int])
    assert not compatible(list, list[int]) and not compatible(str, bytes)
    assert compatible(object, str)  # 'anything' is not held against the consumer
    assert Schemas().of(list[float]) == {"type": "array", "items": {"type": "number"}}


def test_asyncapi_has_channels_operations_and_sys_topics() -> None:
    doc: dict[str, Any] = asyncapi(design(source=Source, all=Family), {})
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {"plant.reading", "plant.{rest}", "$sys.event", "$sys.heartbeat.{process}"} <= addresses
    actions = {(o["summary"], o["action"]) for o in doc["operations"].values()}
    assert {("source.reading (send)", "send"), ("all.anything (receive)", "receive")} <= actions
    message = doc["components"]["messages"]["plant_reading"]
    assert message["contentType"] == "application/msgpack"
    assert message["payload"]["type"] == "number"
    assert message["payload"]["title"] == "PlantReading"  # a named model, not an anonymous one
    headers = message["headers"]
    assert headers["title"] == "PlantReadingEnvelope" and headers["type"] == "object"
    assert headers["x-enlil-wire"][-1] == "payload"


def test_live_graph_differences() -> None:
    """An actor down, a missing subscription and an undeclared publish are reported."""
    d = design(source=Source, sink=Sink)
    status = {
        "actors": [
            {
                "name": "source",
                "kind": "actor",
                "state": "running",
                "topics": {"subscribed": [], "published": ["plant.reading", "plant.extra"]},
            },
            {"name": "sink", "kind": "actor", "state": "backoff", "topics": {}},
        ]
    }
    found = {(x.kind, x.actor, x.topic) for x in compare_live(d, status)}
    assert found == {("actor_down", "sink", ""), ("undeclared_publish", "source", "plant.extra")}
    status["actors"][1] = {
        "name": "sink",
        "kind": "actor",
        "state": "running",
        "topics": {"subscribed": [], "published": []},
    }
    found = {(x.kind, x.actor, x.topic) for x in compare_live(d, status)}
    assert ("not_subscribed", "sink", "plant.reading") in found


class ReliableSource(Actor):
    """Sends readings that must arrive."""

    reading = Output("plant.reading", float, doc="A reading", reliable=True)


class ReliableSink(Actor):
    """Reads every reading once, in order."""

    reading = Input("plant.reading", float, doc="A reading", reliable=True)


def test_a_reliable_reader_of_an_at_most_once_writer_is_warned_of() -> None:
    """Read reliably but sent at most once: what is lost would not come again. With the
    writer reliable, the channel says how (its writers, acks and heartbeats)."""
    [(severity, topic, message)] = findings(src=Source, sink=ReliableSink)
    assert (severity, topic) == ("warning", "plant.reading")
    assert "read reliably (by sink.reading) but sent at most once (by src.reading)" in message
    assert findings(src=ReliableSource, sink=ReliableSink) == []
    doc = asyncapi(design(src=ReliableSource, sink=ReliableSink), {})
    assert doc["channels"]["plant_reading"]["x-enlil-reliable"] == {
        "writers": ["src"],
        "acks": ["$sys.ack.src"],
        "heartbeats": "$sys.hb.plant.reading",
    }
    rows = {r["actor"]: r for r in design(src=ReliableSource, sink=ReliableSink).dictionary()}
    assert rows["src"]["reliable"] and rows["sink"]["reliable"]
