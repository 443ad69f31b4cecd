"""Records across real processes: published by one, delivered to another actor process,
checked there, and a failure with a record in it replayed in pytest."""

from __future__ import annotations

from pathlib import Path

import pytest
from record_types import Corner, Fix, Quality, Vec3

from actors.core.types import coerce
from actors.snapshots import read_snapshot
from actors.testing import MeshFactory, replay

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
    # A wrong shape: counted, not delivered.
    site.publish("rover.fix", {"frame": "map", "position": {"x": "far", "y": 0.0}})
    actor = site.wait_actor("t", lambda a: a["stats"]["type_rejected"] >= 1, what="rejected")
    assert actor["stats"]["accepted"] == 2
    # A fix that makes the actor fail: its snapshot replays in pytest with records.
    old = site.pid("t")
    site.publish("rover.fix", {"frame": "map", "position": {"x": 7.0, "y": 0.0}, "note": "crash"})
    site.wait_restarted("t", old)
    [record] = site.request("snapshots", name="t")
    snap = read_snapshot(Path(record["file"]))
    failed = snap.events[snap.failed_event or 0]
    assert failed.payload["position"] == {"x": 7.0, "y": 0.0}  # as it came, on the wire
    # The step reads self.fix.position.x: only a record (not a map) fails as it did.
    with pytest.raises(RuntimeError, match=r"x=7\.0"):
        replay(snap)
