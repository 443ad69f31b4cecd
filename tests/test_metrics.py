"""Metrics from the engine's counters and from declarations, against a real OTLP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from otlp_receiver import OtlpReceiver

from actors.testing import MeshFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """An OTLP receiver on loopback for the duration of one test."""
    r = OtlpReceiver()
    yield r
    r.close()


def last(points: list[Any], name: str, **attrs: Any) -> Any:
    """The newest point of metric *name* whose attributes include *attrs*."""
    for point in reversed(points):
        if point[0] == name and all(point[3].get(k) == v for k, v in attrs.items()):
            return point
    return None


def test_declared_metrics_and_counters_arrive(mesh: MeshFactory, receiver: OtlpReceiver) -> None:
    """A metric=True State arrives with its value, unit and doc; counters by topic too."""
    site = mesh.start(
        {
            "site": {"name": "metered"},
            "telemetry": {
                "otlp_endpoint": receiver.endpoint,
                "sampling": 0.0,
                "metrics_interval": 0.2,
            },
            "actors": {"m": {"class": "mesh_actors:Metered"}},
        }
    )
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
