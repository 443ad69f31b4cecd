"""Reliable topics with real processes: commands through injected drops reach every
consumer once and in order."""

from __future__ import annotations

from typing import Any

import pytest

from actors.testing import Mesh, MeshFactory

pytestmark = pytest.mark.slow

COUNT = 10_000


def site(faults: list[dict[str, Any]], seed: int = 3) -> dict[str, Any]:
    return {
        "faults": {"seed": seed, "rules": faults},
        "actors": {
            "commander": {"class": "reliable_actors:Commander"},
            "a": {"class": "reliable_actors:Executor"},
            "b": {"class": "reliable_actors:Executor"},
        },
    }


def wait_done(mesh: Mesh, name: str, after: int) -> dict[str, Any]:
    progress: dict[str, Any] = mesh.wait_for(
        f"cmd.progress.{name}", lambda p: p["count"] >= COUNT, timeout=90, after=after
    ).envelope.payload
    return progress


DROPS = [
    {"hop": "deliver", "kind": "drop", "probability": 0.1, "topic": "cmd.out"},
    {"hop": "publish", "kind": "drop", "probability": 0.05, "topic": "cmd.out"},
]


def test_every_command_once_and_in_order_through_dropped_deliveries(mesh: MeshFactory) -> None:
    """10,000 commands; 5% dropped as they are published and 10% as they are delivered:
    both consumers execute every one, once, in order; the writer keeps nothing once
    both acknowledged, and the faults it recovered from are counted."""
    started = mesh.start(site(DROPS))
    cursor = started.publish("cmd.go", COUNT)
    for name in ("a", "b"):
        assert wait_done(started, name, cursor) == {
            "last": COUNT,
            "count": COUNT,
            "out_of_order": 0,
        }
    writer = started.wait_actor(
        "commander",
        lambda a: a["reliable"]["out"]["cmd.out"]["unacked"] == 0,
        what="every command acknowledged",
    )["reliable"]["out"]["cmd.out"]
    assert writer["resent"] > 0 and writer["dead"] == 0
    assert writer["readers"] == {"a": COUNT, "b": COUNT}
