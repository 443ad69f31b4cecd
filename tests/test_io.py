"""Watched descriptors and timers (self.enlil.watch / call_later) in the pure engine."""

from __future__ import annotations

from actors import Actor, Output, State
from actors.testing import Harness, replay


class Device(Actor):
    """Watches a made-up descriptor 7 and counts what its callbacks see."""

    reading = Output("dev.reading", int, doc="One value per readable event")
    reads = State(0, doc="Readable callbacks run")
    fired = State(0, doc="Timer callbacks run")

    def on_start(self) -> None:
        """Watch fd 7 for reading; schedule three timers, cancel one."""
        self.enlil.watch(7, self._readable)
        self.enlil.call_later(0.3, self._fire)
        self.enlil.call_later(0.1, self._fire)
        self.enlil.call_later(0.2, self._fire).cancel()

    def _readable(self) -> None:
        self.reads += 1
        self.reading = self.reads
        if self.reads == 2:
            self.enlil.watch(7)  # done with it

    def _fire(self) -> None:
        self.fired += 1


def test_callbacks_run_like_steps_and_are_recorded() -> None:
    """A readable callback publishes its outputs; timers fire in order; cancel works."""
    h = Harness(Device)
    assert h.engine.schedule.watched == {7: (h.actor._readable, None)}  # type: ignore[attr-defined]
    out = h.ready(7)
    assert [(m.topic, m.envelope.payload) for m in out] == [("dev.reading", 1)]
    h.ready(7)
    assert h.engine.schedule.watched == {}
    assert h.ready(7) == []  # no longer watched: nothing runs
    assert h.state["reads"] == 2
    h.advance(0.15)
    assert h.state["fired"] == 1
    h.advance(1.0)
    assert h.state["fired"] == 2  # the cancelled one never ran
    assert h.engine.next_deadline() is None
    kinds = [e.kind for e in h.snapshot().events]
    assert kinds == ["start", "io", "io", "timer", "timer"]


def test_watch_version_changes_only_with_the_set() -> None:
    """The runtime re-registers its poller only when the watched set changed."""
    h = Harness(Device)
    version = h.engine.schedule.watch_version
    cb = h.actor._readable  # type: ignore[attr-defined]
    h.engine.watch(7, cb)
    assert h.engine.schedule.watch_version == version
    h.engine.watch(7, cb, cb)
    assert h.engine.schedule.watch_version == version + 1
    h.engine.watch(9)  # not watched: nothing to do
    assert h.engine.schedule.watch_version == version + 1


def test_replay_skips_device_events() -> None:
    """io and timer events are a device's doing: a replay skips them."""
    h = Harness(Device)
    h.ready(7)
    h.advance(1.0)
    result = replay(h.snapshot())
    assert result.state["reads"] == 0 and result.state["fired"] == 0
