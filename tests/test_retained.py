"""Retained outputs: a starting or restarting actor has the last value before any new publish."""

from __future__ import annotations

import pytest

from actors.testing import MeshFactory

pytestmark = pytest.mark.slow

SITE = {
    "actors": {
        "setting": {"class": "mesh_actors:Setting"},
        "joiner": {"class": "mesh_actors:LateJoiner", "after": ["setting"]},
    }
}


def test_a_restarted_consumer_has_the_retained_value_at_once(mesh: MeshFactory) -> None:
    """Kill -9 the consumer: its successor's on_start already sees the last value."""
    site = mesh.start(SITE)
    cursor = site.publish("setting.set", 42)
    site.wait_for("setting.value", lambda v: v == 42, after=cursor)
    for attempt in range(3):
        cursor = site.mark()
        old = site.kill("joiner")
        site.wait_restarted("joiner", old)
        started = site.wait_for("joiner.started", after=cursor)
        assert started.envelope.payload == 42, attempt
    # The value keeps its sequence: the next publish is neither a gap nor a duplicate.
    cursor = site.publish("setting.set", 43)
    site.wait_for("setting.value", lambda v: v == 43, after=cursor)
    record = site.wait_actor("joiner", lambda a: a["stats"]["accepted"] >= 1, what="accepted")
    assert record["inputs"]["setting"] == {"gaps": 0, "duplicates": 0}


def test_without_a_value_the_default_stands(mesh: MeshFactory) -> None:
    """Nothing retained yet: the Input keeps its default, and start-up is not held up."""
    site = mesh.start(SITE)
    cursor = site.mark()
    old = site.kill("joiner")
    site.wait_restarted("joiner", old)
    assert site.wait_for("joiner.started", after=cursor).envelope.payload == -1


def test_tap_prints_the_retained_value_at_once(mesh: MeshFactory) -> None:
    """``tap`` of a retained topic prints its last value first, marked retained, with no
    new publish; a topic with nothing retained prints nothing and ends at its timeout."""
    import json

    from clitools import supervisor_cli

    site = mesh.start(SITE)
    cursor = site.publish("setting.set", 42)
    site.wait_for("setting.value", lambda v: v == 42, after=cursor)
    config = site.site.path
    tapped = supervisor_cli("tap", "setting.*", "--count", "1", config=config, timeout=30)
    assert tapped.returncode == 0, tapped.stderr
    line = json.loads(tapped.stdout)
    assert line["topic"] == "setting.value" and line["payload"] == 42 and line["retained"]
    assert line["sender"] == "setting"
    quiet = supervisor_cli("tap", "joiner.started", "--timeout", "1.5", config=config)
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stdout + quiet.stderr
