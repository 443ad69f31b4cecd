"""The engine through the in-process harness: steps, periods, counters, fake clock."""

from __future__ import annotations

import msgpack
import pytest

from actors import Actor, Input, Output, Param, State
from actors.core.params import ParamError
from actors.core.wire import encode_envelope
from actors.testing import Harness


class Thermostat(Actor):
    """Switches the heater to hold the room at its set point."""

    temperature = Input("sensor.temperature", float, doc="Room temperature", unit="degC")
    heater = Output("heater.command", bool, doc="True turns the heater on")
    setpoint = Param(21.0, doc="Target temperature", unit="degC")
    switches = State(0, doc="How often the heater switched", metric=True)

    def step(self) -> None:
        """Runs on each temperature."""
        on = self.temperature < self.setpoint
        if on != self.heater:
            self.switches += 1
        self.heater = on


class Blinker(Actor):
    """Toggles every period; emits a burst through send()."""

    light = Output("light", bool, doc="Light state")
    burst = Output("burst", int, doc="Burst items")
    on = State(False, doc="Current state")
    period = 0.5

    def step(self) -> None:
        """Runs every period."""
        self.on = not self.on
        self.light = self.on
        for i in range(3):
            self.enlil.send("burst", i)


class Gated(Actor):
    """Needs both inputs before stepping."""

    a = Input("a", float, doc="A")
    b = Input("b", float, doc="B")
    c = Input("c", float, doc="C with default", default=0.0)
    total = Output("total", float, doc="a + b + c")

    def step(self) -> None:
        """Runs once a and b are known."""
        self.total = self.a + self.b + self.c


def test_step_runs_on_input_and_publishes_outputs() -> None:
    """Assigning an Output publishes it after the step, with sequence numbers."""
    h = Harness(Thermostat, params={"setpoint": 20})
    out = h.feed("temperature", 18.0)
    assert [(m.topic, m.envelope.payload, m.envelope.seq) for m in out] == [
        ("heater.command", True, 1)
    ]
    h.feed("sensor.temperature", 22.5)
    assert h.outputs["heater"] is False
    assert h.state == {"switches": 2}
    assert h.last("heater") is False
    assert h.published[-1].envelope.seq == 2
    assert h.published[-1].envelope.sender == "thermostat"


def test_periodic_steps_follow_the_fake_clock() -> None:
    """advance() runs each due periodic step; send() emits several messages per step."""
    h = Harness(Blinker)
    assert h.advance(0.49) == []
    out = h.advance(0.01)
    assert [m.topic for m in out] == ["burst", "burst", "burst", "light"]
    h.advance(2.0)
    assert h.statistics().steps == 5
    assert h.state["on"] is True


def test_period_can_be_overridden_by_config() -> None:
    """The site config's period wins over the class's."""
    h = Harness(Blinker, period=0.1)
    h.advance(1.0)
    assert h.statistics().steps == 10


def test_step_waits_for_required_inputs() -> None:
    """An Input without a default holds back step() until it has a value."""
    h = Harness(Gated)
    assert h.feed("a", 1.0) == []
    assert h.feed("b", 2.0)[0].envelope.payload == 3.0
    h.feed("c", 4.0)
    assert h.outputs["total"] == 7.0


def test_wrong_payload_type_is_counted_and_dropped() -> None:
    """A string on a float input is rejected; the actor keeps working."""
    h = Harness(Thermostat)
    assert h.feed("temperature", "hot") == []
    assert h.statistics().type_rejected == 1
    assert h.inputs["temperature"] is None
    assert h.feed("temperature", 25.0)[0].envelope.payload is False


@pytest.mark.parametrize(
    ("frames", "counter"),
    [
        ([b"sensor.temperature", b"\xc1garbage"], "malformed"),
        ([b"sensor.temperature", msgpack.packb([2, "x", 1, 0, None, 1.0])], "unsupported_version"),
        ([b"sensor.temperature"], "malformed"),
        ([b"\xff\xfe", encode_envelope("x", 1, 0, 1.0)], "malformed"),
        ([b"sensor.temperature.extra", encode_envelope("x", 1, 0, 1.0)], "filtered"),
    ],
)
def test_malformed_frames_are_counted_not_raised(frames: list[bytes], counter: str) -> None:
    """Anything a peer sends becomes a counter, never an exception."""
    h = Harness(Thermostat)
    assert h.feed_frames(frames) == []
    assert getattr(h.statistics(), counter) == 1
    assert h.statistics().received == 1


def test_gaps_and_duplicates_are_counted_per_sender() -> None:
    """Sequence numbers reveal lost and repeated messages; duplicates are dropped."""
    h = Harness(Thermostat)
    topic = b"sensor.temperature"
    for seq in (1, 2, 5, 5, 3, 6):
        h.feed_frames([topic, encode_envelope("s1", seq, 0, 10.0)])
    h.feed_frames([topic, encode_envelope("s2", 1, 0, 10.0)])
    stats = h.statistics()
    assert stats.gaps == 2
    assert stats.duplicates == 2
    assert stats.accepted == 5


def test_restarted_sender_is_not_a_duplicate() -> None:
    """A sender that restarts begins again at sequence 1."""
    h = Harness(Thermostat)
    topic = b"sensor.temperature"
    for seq in (1, 2, 3, 1, 2):
        h.feed_frames([topic, encode_envelope("s1", seq, 0, 10.0)])
    assert h.statistics().duplicates == 0
    assert h.statistics().accepted == 5


def test_hook_exceptions_propagate_to_the_test() -> None:
    """An exception in step() reaches the caller unchanged."""

    class Fails(Actor):
        """Fails on negative input."""

        x = Input("x", float, doc="X")

        def step(self) -> None:
            """Raises on negative."""
            if self.x < 0:
                raise ValueError("negative")

    h = Harness(Fails)
    h.feed("x", 1.0)
    with pytest.raises(ValueError, match="negative"):
        h.feed("x", -1.0)


def test_bad_params_and_topics_name_the_actor() -> None:
    """Unknown params, wrong types and unknown remaps are reported together."""
    with pytest.raises(ParamError, match=r"actor 'thermostat'.*declares no Param 'setpiont'"):
        Harness(Thermostat, params={"setpiont": 1.0})
    with pytest.raises(ParamError, match="expected float"):
        Harness(Thermostat, params={"setpoint": "warm"})
    with pytest.raises(ParamError, match="no Input or Output 'nope'"):
        Harness(Thermostat, topics={"nope": "x"})


def test_topics_can_be_remapped_by_config() -> None:
    """Two instances of one class can read and write different topics."""
    h = Harness(Thermostat, topics={"temperature": "room2.temperature", "heater": "room2.heater"})
    out = h.feed("temperature", 10.0)
    assert out[0].topic == "room2.heater"


def test_outputs_and_params_are_guarded() -> None:
    """Assigning a wrong type to an Output, or any Param, is an error naming it."""

    class Wrong(Actor):
        """Assigns badly."""

        x = Input("x", float, doc="X")
        out = Output("out", bool, doc="O")
        gain = Param(1.0, doc="G")

        def step(self) -> None:
            """Assigns by input."""
            if self.x > 0:
                self.out = "yes"
            else:
                self.gain = 2.0

    h = Harness(Wrong)
    with pytest.raises(TypeError, match=r"Wrong.out \(Output 'out'\): expected bool"):
        h.feed("x", 1.0)
    with pytest.raises(AttributeError, match="Param"):
        h.feed("x", -1.0)


def test_trigger_names_the_input_that_ran_the_step() -> None:
    """self.enlil.trigger is the Input's name, or None on a periodic step."""

    class Watch(Actor):
        """Records its triggers."""

        a = Input("a", float, doc="A", default=0.0)
        b = Input("b", float, doc="B", default=0.0)
        seen = State([], doc="Triggers seen")
        period = 1.0

        def step(self) -> None:
            """Appends the trigger."""
            self.seen.append(self.enlil.trigger)

    h = Harness(Watch)
    h.feed("b", 1.0)
    h.feed("a", 1.0)
    h.advance(1.0)
    assert h.state["seen"] == ["b", "a", None]


class GapWatcher(Actor):
    """Notes every gap it is told about."""

    value = Input("gap.in", int, doc="Numbered values")
    gaps = State([], type=list, doc="(input, sender, topic, missed) of each gap")

    def on_gap(self, input: str, sender: str, topic: str, missed: int) -> None:
        """Runs before the step after a gap."""
        self.gaps = [*self.gaps, [input, sender, topic, missed]]

    def step(self) -> None:
        """Nothing to do."""


def test_gaps_are_counted_per_input_and_reported_to_on_gap() -> None:
    """Sequence gaps and duplicates per Input; on_gap hears of each gap."""
    h = Harness(GapWatcher)
    for seq in (1, 2, 5, 5, 6, 9):
        h.feed_frames([b"gap.in", encode_envelope("s1", seq, 0, seq)])
    assert h.engine.input_stats == {"value": [2 + 2, 1]}
    assert h.state["gaps"] == [["value", "s1", "gap.in", 2], ["value", "s1", "gap.in", 2]]
