"""Records as message types (fast: one actor in this process): declared, checked on
receipt, evolved, kept in State and snapshots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import msgpack
import pytest
import structlog
from record_types import Asker, Corner, Crasher, Fix, Quality, Tracker, Vec3

from actors import Actor, DeclarationError, Input, State
from actors.core.types import check_type, coerce, record_fields, type_name
from actors.core.wire import decode_message, encode_envelope
from actors.testing import Harness

FIX = Fix(
    frame="map",
    position=Vec3(1.0, 2.0),
    quality=Quality.STALE,
    corners=[Corner("a", Vec3(0.0, 0.0)), Corner("b", Vec3(5.0, 0.0, 1.0))],
    covariance=(0.1, 0.2, 0.3),
    note="ok",
    raw=b"$GPGGA",
)


def _frames(payload: object, seq: int = 1) -> list[bytes]:
    """A message on rover.fix whose payload is *payload* as msgpack carries it."""
    env = msgpack.packb([1, "gps", seq, 0, None, payload], use_bin_type=True)
    return [b"rover.fix", env]


def _plain(fix: Fix) -> dict[str, object]:
    return decode_message([b"t", encode_envelope("s", 1, 0, fix)]).envelope.payload  # type: ignore[no-any-return]


def test_a_nested_record_arrives_as_the_record() -> None:
    """Published as a record, delivered as the same record, with enum, tuple, bytes and
    a list of Structs inside."""
    h = Harness(Tracker)
    out = h.feed("fix", FIX)
    assert h.inputs["fix"] == FIX and type(h.inputs["fix"].corners[0]) is Corner
    assert [m.topic for m in out] == ["rover.moved"]
    assert out[0].envelope.payload == FIX and type(out[0].envelope.payload) is Fix
    assert h.outputs["moved"] == FIX
    assert h.state["last"] == Vec3(1.0, 2.0)


def test_on_the_wire_a_record_is_the_map_of_its_fields() -> None:
    """Other tools see a msgpack map: enums as their value, bytes as bin, tuples as arrays."""
    plain = _plain(FIX)
    assert plain["quality"] == "stale" and plain["raw"] == b"$GPGGA"
    assert plain["covariance"] == [0.1, 0.2, 0.3]
    assert plain["corners"][1] == {"name": "b", "at": {"x": 5.0, "y": 0.0, "z": 1.0}}  # type: ignore[index]


def test_unknown_fields_are_ignored_and_missing_optional_ones_get_their_defaults() -> None:
    """Evolution: a newer writer's extra field and an older writer's missing ones."""
    h = Harness(Tracker)
    newer = {**_plain(FIX), "heading": 270.0, "position": {"x": 1.0, "y": 2.0, "w": 9}}
    h.feed_frames(_frames(newer))
    assert h.inputs["fix"].position == Vec3(1.0, 2.0)
    older = {"frame": "map", "position": {"x": 3.0, "y": 4.0}}
    h.feed_frames(_frames(older, seq=2))
    fix = h.inputs["fix"]
    assert fix.quality is Quality.GOOD and fix.corners == [] and fix.note is None
    assert fix.covariance == (0.0, 0.0, 0.0) and fix.raw == b""
    assert h.statistics().type_rejected == 0 and h.state["fixes"] == 2


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"frame": "map", "position": {"x": "one", "y": 2.0}}, "$.position.x"),
        ({"frame": "map"}, "missing required field `position`"),
        ({"frame": "map", "position": {"x": 1, "y": 2}, "quality": "lost"}, "$.quality"),
        ({"frame": "map", "position": {"x": 1, "y": 2}, "covariance": [1.0]}, "$.covariance"),
        ([1, 2], "Expected `object`"),
        (4.5, "Expected `object`"),
    ],
)
def test_a_wrong_shape_is_counted_type_rejected_with_the_field_named(
    payload: object, where: str
) -> None:
    """The Input keeps its value, the step does not run, the warning names the field."""
    h = Harness(Tracker)
    h.feed("fix", FIX)
    with structlog.testing.capture_logs() as logs:
        assert h.feed_frames(_frames(payload, seq=2)) == []
    stats = h.statistics()
    assert stats.type_rejected == 1 and stats.malformed == 0
    assert h.inputs["fix"] == FIX and h.state["fixes"] == 1
    [warning] = [e for e in logs if e.get("reason") == "type_rejected"]
    assert where in warning["detail"] and "input 'fix' wants Fix" in warning["detail"]


def test_a_malformed_envelope_is_still_malformed_not_a_type_error() -> None:
    """The typed decoder says what the plain one says about a broken envelope."""
    h = Harness(Tracker)
    h.feed_frames([b"rover.fix", b"\xc1junk"])
    h.feed_frames([b"rover.fix", msgpack.packb([2, "gps", 1, 0, None, {}])])
    stats = h.statistics()
    assert (stats.malformed, stats.unsupported_version, stats.type_rejected) == (1, 1, 0)


def test_a_record_output_takes_its_map_of_fields_and_refuses_a_wrong_one() -> None:
    """Assigning the map of a record's fields gives the record; a wrong map is a TypeError
    naming the Output and the field."""
    h = Harness(Tracker)
    h.engine.actor.moved = {"frame": "odom", "position": {"x": 1, "y": 1}}  # type: ignore[assignment]
    assert h.engine.actor.moved == Fix("odom", Vec3(1.0, 1.0))
    with pytest.raises(TypeError, match=r"Tracker.moved .*field `y` - at `\$.position`"):
        h.engine.actor.moved = {"frame": "odom", "position": {"x": 1}}  # type: ignore[assignment]


def test_a_snapshot_keeps_records_and_replays_them_as_records() -> None:
    """The failure snapshot's memory and events round-trip through msgpack as records."""
    h = Harness(Crasher)
    h.feed("fix", FIX)
    with pytest.raises(RuntimeError, match=r"x=3\.0"):
        h.feed("fix", Fix("map", Vec3(3.0, 0.0), note="crash"))
    snap = h.engine.keeper.snapshot("exception")
    again = type(snap).decode(snap.encode())
    h2 = Harness(Crasher, start=False)
    assert again.state is not None
    h2.engine.keeper.restore(again.state)
    assert type(h2.state["last"]) is Vec3 and h2.state["last"] == Vec3(3.0, 0.0)
    assert h2.inputs["fix"] == Fix("map", Vec3(3.0, 0.0), note="crash")
    # In the file an event's payload is the record's map of fields, as on the wire.
    assert again.events[-1].payload["position"] == {"x": 3.0, "y": 0.0, "z": 0.0}


def test_record_types_need_docs_on_the_class_and_every_field() -> None:
    """Mandatory docs stay mandatory: the record and the field are named."""

    @dataclass
    class NoDoc:
        x: float = field(metadata={"doc": "x"})

    with pytest.raises(DeclarationError, match="record NoDoc has no docstring"):
        type("A", (Actor,), {"v": Input("a.v", NoDoc, doc="v")})

    @dataclass
    class FieldNoDoc:
        """Has a doc."""

        x: float

    with pytest.raises(DeclarationError, match=r"record FieldNoDoc, field 'x': no doc"):
        type("B", (Actor,), {"v": State(FieldNoDoc(1.0), doc="v")})

    @dataclass
    class BadField:
        """Has a doc."""

        x: set[int] = field(metadata={"doc": "x"})

    with pytest.raises(DeclarationError, match=r"field 'x': type .*set.* is not supported"):
        type("C", (Actor,), {"v": Input("a.v", BadField, doc="v")})


def test_fields_carry_doc_unit_and_default() -> None:
    """What the dictionary and the schemas are made of."""
    fields = {f.name: f for f in record_fields(Fix)}
    assert fields["covariance"].unit == "m^2" and fields["position"].required
    assert fields["quality"].default is Quality.GOOD and not fields["quality"].required
    corner = {f.name: f for f in record_fields(Corner)}
    assert corner["at"].doc == "where it is" and corner["at"].type is Vec3
    assert type_name(Fix | None) == "Fix | None"
    assert type_name(list[Corner]) == "list[Corner]"
    check_type(dict[str, list[Fix]])
    assert coerce({"x": 1, "y": 2}, Vec3) == Vec3(1.0, 2.0)


def test_a_service_takes_and_gives_records() -> None:
    """A Call's request and the service's reply are records at both ends."""
    asker = Harness(Asker)
    tracker = Harness(Tracker, clock=asker.clock)
    asker.serve("rover.where", tracker)
    tracker.feed("fix", FIX)
    asker.feed("offset", Vec3(1.0, 1.0))
    answer = asker.state["answer"]
    assert type(answer) is Fix and answer.position == Vec3(2.0, 3.0)
    assert type(answer.corners[0]) is Corner and answer.corners[0].at == Vec3(1.0, 2.0)


def test_a_foxglove_type_is_written_in_foxglove_form_and_read_back() -> None:
    """Its schema is named as Foxglove names it and written inline; the message is the
    fields themselves with bytes as base64, and comes back with its bytes."""
    from actors.core.records import channel_form, decode_recorded
    from actors.messages import CompressedImage, Timestamp

    form = channel_form("cam", CompressedImage)
    assert form.foxglove and form.schema_name == "foxglove.CompressedImage"
    assert form.schema["properties"]["data"]["contentEncoding"] == "base64"
    assert form.schema["properties"]["timestamp"]["title"] == "time"
    image = CompressedImage(Timestamp.of(1.25), "cam", b"\x89PNG", "png")
    data = form.encode(image, "s", 1)
    assert json.loads(data)["data"] == "iVBORw==" and json.loads(data)["timestamp"] == {
        "sec": 1,
        "nsec": 250_000_000,
    }
    back = decode_recorded(form.schema_name, json.dumps(form.schema).encode(), data)
    assert coerce(back, CompressedImage) == image
    plain = channel_form("rover.fix", Fix)
    assert plain.schema_name == "enlil.rover.fix" and not plain.foxglove


def test_the_demo_thermostat_logs_each_switch_for_foxglove() -> None:
    """The demo's Foxglove panel: a Log line (Foxglove's type) each time the heater switches."""
    from actors.loader import load_class
    from actors.messages import Log, LogLevel
    from supervisor.cli import DEMO

    thermostat = Harness(load_class("demo_actors:Thermostat", [DEMO.parent]))
    out = thermostat.feed("temperature", 15.0)
    [log] = [m for m in out if m.topic == "thermostat.log"]
    line = coerce(log.envelope.payload, Log)
    assert line.level is LogLevel.INFO and line.message.startswith("heater on at 15.00 degC")
    assert [m.topic for m in thermostat.feed("temperature", 15.5)] == ["heater.command"]
    assert "thermostat.log" in [m.topic for m in thermostat.feed("temperature", 25.0)]


def test_a_record_left_at_its_defaults_is_written_whole() -> None:
    """A Log decoded from a map without its optional fields (msgspec leaves their defaults
    on the class) is still written with every field: Foxglove requires them."""
    from actors.core.records import channel_form
    from actors.core.types import to_builtins
    from actors.messages import Log

    form = channel_form("t.log", Log)
    sparse = {"timestamp": {"sec": 1}, "level": 2, "message": "hi"}
    written = json.loads(form.encode(sparse, "s", 1))
    assert written == {
        "timestamp": {"sec": 1, "nsec": 0},
        "level": 2,
        "message": "hi",
        "name": "",
        "file": "",
        "line": 0,
    }
    assert to_builtins(coerce({"x": 1.0, "y": 2.0}, Vec3)) == {"x": 1.0, "y": 2.0, "z": 0.0}
