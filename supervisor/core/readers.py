"""Who must get each reliable topic (pure core, no IO).

A reliable writer waits for the acknowledgements of its *expected readers*: the actors
of the site that declare a reliable Input on the topic (an exact topic, or a family
it belongs to) and are meant to run. An actor stopped or removed on purpose is not
meant to run, so its writers stop waiting for it; one that crashed and is restarting
still is, and gets what it missed when it is back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from supervisor.core.design import overlaps


def expected_readers(
    writes: Mapping[str, Iterable[str]],
    reads: Mapping[str, Iterable[str]],
    running: Iterable[str],
) -> dict[str, dict[str, list[str]]]:
    """writer -> reliable topic -> the names of its expected readers, sorted: *writes*
    gives each actor's reliable Output topics, *reads* its reliable Input topics or
    families, *running* the actors meant to run."""
    meant = set(running)
    out: dict[str, dict[str, list[str]]] = {}
    for writer, written in writes.items():
        topics = list(written)
        if not topics:
            continue
        out[writer] = {
            topic: sorted(
                name
                for name, patterns in reads.items()
                if name in meant and any(overlaps(topic, p) for p in patterns)
            )
            for topic in topics
        }
    return out
