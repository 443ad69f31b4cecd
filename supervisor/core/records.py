"""The declared type of each topic, for recordings and the Foxglove bridge (pure core).

The records themselves (a message as ``{"value", "sender", "seq"}`` and its JSON
Schema) are :mod:`actors.core.records`'s: the built-in recorder actor writes them too.
"""

from __future__ import annotations

from typing import Any

from supervisor.core.design import Design


def topic_types(design: Design) -> dict[str, Any]:
    """The declared type of each concrete topic (a producer's, else a consumer's)."""
    out: dict[str, Any] = {}
    for topic in design.topics:
        if topic.endswith(".*"):
            continue
        ends = design.producers_of(topic) or design.consumers_of(topic)
        if ends:
            out[topic] = ends[0].type
    return out
