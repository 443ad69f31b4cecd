"""Records across real processes: published by one, delivered to another actor process,
checked there, and a failure with a record in it replayed in pytest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from clitools import supervisor_cli
from mcap.reader import make_reader
from record_types import Corner, Fix, Quality, Vec3, Vec3Framed
from test_web import READ_TOKEN, TOOLS, free_port, web_site

from actors.core.types import coerce
from actors.snapshots import read_snapshot
from actors.testing import MeshFactory, replay
from supervisor.client import ControlError

pytestmark = pytest.mark.slow

FIX = Fix(
    frame="map",
    position=Vec3(1.0, 2.0, 3.0),
    quality=Quality.STALE,
    corners=[Corner("a", Vec3(0.0, 0.0))],
    covariance=(0.1, 0.2, 0.3),
    raw=b"\x00\xff",
)


def test_a_nested_record_travels_is_checked_and_replays_as_a_record(mesh: MeshFactory) -> None:
    """Delivered as the record; evolution accepted; a wrong shape counted; the crash it
    caused replayed from the snapshot, in pytest, with the records as records."""
    site = mesh.start({"actors": {"t": {"class": "record_types:Crasher"}}})
    cursor = site.publish("rover.fix", FIX)
    moved = site.wait_for("rover.moved", after=cursor)
    assert coerce(moved.envelope.payload, Fix) == FIX
    # A newer writer's unknown field, an older writer's missing optional ones.
    newer = {"frame": "map", "position": {"x": 4.0, "y": 0.0}, "heading": 90.0}
    cursor = site.publish("rover.fix", newer)
    moved = site.wait_for("rover.moved", after=cursor)
    assert coerce(moved.envelope.payload, Fix) == Fix("map", Vec3(4.0, 0.0))
    # From a shell: pub parses the record as JSON, tap prints what flows as JSON.
    cursor = site.mark()
    pub = supervisor_cli(
        "pub",
        "rover.fix",
        '{"frame": "odom", "position": {"x": 6, "y": 1}}',
        config=site.config_path,
    )
    assert pub.returncode == 0, pub.stderr
    moved = site.wait_for("rover.moved", after=cursor)
    assert coerce(moved.envelope.payload, Fix) == Fix("odom", Vec3(6.0, 1.0))
    # A wrong shape: counted, not delivered.
    site.publish("rover.fix", {"frame": "map", "position": {"x": "far", "y": 0.0}})
    actor = site.wait_actor("t", lambda a: a["stats"]["type_rejected"] >= 1, what="rejected")
    assert actor["stats"]["accepted"] == 3
    # A fix that makes the actor fail: its snapshot replays in pytest with records.
    old = site.pid("t")
    site.publish("rover.fix", {"frame": "map", "position": {"x": 7.0, "y": 0.0}, "note": "crash"})
    site.wait_restarted("t", old)
    [record] = site.request("snapshots", name="t")
    snap = read_snapshot(Path(record["file"]))
    failed = snap.events[snap.failed_event or 0]
    # In the file, the record's map of every field (z's default too).
    assert failed.payload["position"] == {"x": 7.0, "y": 0.0, "z": 0.0}
    # The step reads self.fix.position.x: only a record (not a map) fails as it did.
    with pytest.raises(RuntimeError, match=r"x=7\.0"):
        replay(snap)


def test_records_recorded_to_mcap_validate_against_their_schema_and_play_back(
    mesh: MeshFactory, tmp_path: Path
) -> None:
    """``record`` writes each record with a JSON Schema naming its types; read back with the
    mcap library, every message validates against its schema; ``play`` gives them back to
    a fresh site, which takes them as records."""
    site = mesh.start({"actors": {"t": {"class": "record_types:Tracker"}}})
    out = tmp_path / "rover.mcap"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "supervisor", "record", "rover.*"),
            *("-o", str(out), "--count", "6", "--config", str(site.config_path)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("recording into")
    for x in (1.0, 2.0, 3.0):
        site.publish("rover.fix", Fix("map", Vec3(x, 0.0), raw=b"\x01\x02"))
    assert proc.wait(timeout=60) == 0
    proc.stdout.close()
    validated = []
    with out.open("rb") as f:
        for schema, channel, message in make_reader(f).iter_messages(log_time_order=True):
            assert schema is not None and schema.encoding == "jsonschema"
            document = json.loads(schema.data)
            assert document["properties"]["value"] == {"$ref": "#/$defs/Fix"}
            assert document["$defs"]["Vec3"]["properties"]["x"]["x-unit"] == "m"
            record = json.loads(message.data)
            jsonschema.Draft202012Validator(document).validate(record)
            validated.append((channel.topic, record["value"]["position"]["x"]))
    assert sorted(validated) == sorted(
        [(t, x) for t in ("rover.fix", "rover.moved") for x in (1.0, 2.0, 3.0)]
    )
    # A value that does not fit the schema is caught by the same check (it can fail).
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(document).validate({**record, "value": {"frame": 1}})
    site.close()

    fresh = mesh.start({"actors": {"t": {"class": "record_types:Tracker"}}})
    cursor = fresh.mark()
    play = supervisor_cli(
        "play", str(out), "--rate", "0", "--topics", "rover.fix", config=fresh.config_path
    )
    assert play.returncode == 0, play.stderr
    moved = fresh.collect("rover.moved", 3, after=cursor)
    assert [coerce(m.envelope.payload, Fix).position.x for m in moved] == [1.0, 2.0, 3.0]
    assert coerce(moved[0].envelope.payload, Fix).raw == b"\x01\x02"


def published_schemas(*names: str) -> dict[str, Any]:
    """Foxglove's published JSON Schemas (@foxglove/schemas), by schema name."""
    proc = subprocess.run(
        ["node", str(TOOLS / "foxglove_schemas.mjs"), *names],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=TOOLS,
    )
    schemas: dict[str, Any] = json.loads(proc.stdout)
    return schemas


WELL_KNOWN = {
    "rover.pose": "foxglove.PoseInFrame",
    "rover.gps": "foxglove.LocationFix",
    "rover.log": "foxglove.Log",
    "rover.camera": "foxglove.CompressedImage",
}


def test_foxglove_sees_its_own_types_and_the_messages_validate_against_its_schemas(
    mesh: MeshFactory, tmp_path: Path
) -> None:
    """The official client sees each topic of a standard type advertised under Foxglove's
    schema name, and the poses it receives validate against Foxglove's published schema;
    an MCAP recording keeps all four types in Foxglove's form, each message valid too."""
    published = published_schemas("PoseInFrame", "LocationFix", "Log", "CompressedImage")
    fox = free_port()
    data = web_site(free_port())
    data["web"]["foxglove"] = f"127.0.0.1:{fox}"
    data["actors"] = {"gallery": {"class": "record_types:Gallery", "period": 0.1}}
    site = mesh.start(data)
    site.wait_until(lambda: "Foxglove endpoint on" in site.log_tail(200), what="the endpoint")
    out = tmp_path / "gallery.mcap"
    recorder = subprocess.Popen(
        [
            *(sys.executable, "-m", "supervisor", "record", "rover.*"),
            *("-o", str(out), "--count", "20", "--config", str(site.config_path)),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = subprocess.run(
        [
            *("node", str(TOOLS / "foxglove_client.mjs")),
            *(f"ws://127.0.0.1:{fox}/?token={READ_TOKEN}", "rover.pose", "5"),
        ],
        capture_output=True,
        text=True,
        cwd=TOOLS,
        timeout=60,
        check=False,
    )
    assert recorder.wait(timeout=60) == 0
    assert client.returncode == 0, client.stdout + client.stderr
    got = json.loads(client.stdout.splitlines()[-1])
    channels = {c["topic"]: c for c in got["channels"]}
    for topic, name in WELL_KNOWN.items():
        assert channels[topic]["schemaName"] == name, channels[topic]
        assert channels[topic]["encoding"] == "json"
    poses = [m["record"] for m in got["messages"]]
    assert len(poses) == 5
    for pose in poses:
        jsonschema.Draft7Validator(published["foxglove.PoseInFrame"]).validate(pose)
    assert poses[0]["frame_id"] == "map" and set(poses[0]["pose"]) == {"position", "orientation"}
    seen = set()
    with out.open("rb") as f:
        for schema, channel, message in make_reader(f).iter_messages():
            assert schema is not None and schema.name == WELL_KNOWN[channel.topic]
            record = json.loads(message.data)
            jsonschema.Draft7Validator(published[schema.name]).validate(record)
            seen.add(schema.name)
    assert seen == set(WELL_KNOWN.values())
    # What Foxglove would reject is caught by the same check: it can fail.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(published["foxglove.Log"]).validate({"level": "info"})


def test_a_large_frame_reaches_a_memoryview_input_without_a_copy(mesh: MeshFactory) -> None:
    """1 MiB published as bytes arrives in a ``memoryview`` Input as a view of ZeroMQ's
    received frame itself (no copy in the runtime); a small one as a view of its bytes."""
    site = mesh.start({"actors": {"camera": {"class": "record_types:Camera"}}})
    cursor = site.publish("camera.raw", b"\x00" * (1024 * 1024 - 1) + b"\x07")
    seen = site.wait_for("camera.seen", after=cursor).envelope.payload
    assert seen == {"size": 1024 * 1024, "holder": "Frame", "readonly": True, "last": 7}
    cursor = site.publish("camera.raw", b"small")
    seen = site.wait_for("camera.seen", after=cursor).envelope.payload
    assert seen["holder"] == "bytes" and seen["size"] == 5


def test_a_swap_that_changes_a_record_type_is_checked_like_a_state_change(
    mesh: MeshFactory,
) -> None:
    """A version whose State record gained an optional field takes the old value; one
    whose record no longer fits is refused, the field named, and the old one goes on."""
    site = mesh.start({"actors": {"t": {"class": "record_types:Tracker"}}})
    cursor = site.publish("rover.fix", FIX)
    site.wait_for("rover.moved", after=cursor)
    pid = site.pid("t")
    with pytest.raises(ControlError, match=r"last .*missing required field `r`") as caught:
        site.request("swap", name="t", **{"class": "record_types:TrackerPolar"})
    assert "rolled back, the running version kept" in str(caught.value)
    assert site.pid("t") == pid
    site.request("swap", name="t", **{"class": "record_types:TrackerFramed"})

    def last() -> Any:
        snap = read_snapshot(Path(site.request("snapshot", name="t")["path"]))
        assert snap.state is not None
        return snap.state["state"]["last"]

    # The new field's default filled in (a snapshot's map may leave a default out).
    assert coerce(last(), Vec3Framed) == Vec3Framed(1.0, 2.0, 3.0, "map")
    cursor = site.publish("rover.fix", Fix("odom", Vec3(5.0, 0.0)))
    site.wait_for("rover.moved", after=cursor)
    assert coerce(last(), Vec3Framed) == Vec3Framed(5.0, 0.0, 0.0, "odom")


def test_a_durable_record_survives_kill_9(mesh: MeshFactory) -> None:
    """A State record marked durable is stored as the map of its fields and comes back as
    the record after kill -9."""
    site = mesh.start(
        {"persistence": {"interval": 0.1}, "actors": {"h": {"class": "record_types:Homing"}}}
    )
    cursor = site.publish("rover.fix", Fix("map", Vec3(2.0, 0.0)))
    assert site.wait_for("rover.away", after=cursor).envelope.payload == 0.0
    site.wait_until(
        lambda: (site.request("state", name="h")["values"] or {}).get("home") is not None,
        20,
        "home stored",
    )
    assert site.request("state", name="h")["values"]["home"] == {"x": 2.0, "y": 0.0, "z": 0.0}
    site.wait_restarted("h", site.kill("h"))
    cursor = site.publish("rover.fix", Fix("map", Vec3(5.0, 0.0)))
    assert site.wait_for("rover.away", after=cursor).envelope.payload == 3.0
