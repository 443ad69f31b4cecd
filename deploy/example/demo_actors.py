"""Actors of the demo site: the room device's protocol, a thermostat, a console."""

from __future__ import annotations

from actors import Actor, Input, Output, Param, State


class RoomProtocol(Actor):
    """Speaks the room device's line protocol through the serial link 'room'.

    Readings (``T 21.50``) become ``sensor.temperature``; heater commands become
    ``H 1`` / ``H 0`` lines, confirmed by the device with ``OK H 1`` / ``OK H 0``.
    """

    line = Input("room.rx", str, doc="A line from the device (hal.sim protocol)", default="")
    heater = Input("heater.command", bool, doc="Whether the heater should be on", default=False)
    temperature = Output("sensor.temperature", float, doc="Measured room temperature", unit="degC")
    command = Output("room.tx", str, doc="A command line for the device")
    readings = State(0, doc="Readings received", metric=True)
    relay = State(False, doc="The relay as the device last confirmed it")
    errors = State(0, doc="Lines the device could not take, or we could not parse", metric=True)

    def step(self) -> None:
        """Runs in the sensor's process on every line and every heater command."""
        if self.enlil.trigger == "heater":
            if self.heater != self.relay:
                self.command = "H 1" if self.heater else "H 0"
            return
        head, _, rest = self.line.partition(" ")
        if head == "T":
            try:
                self.temperature = float(rest)
            except ValueError:
                self.errors += 1
                return
            self.readings += 1
        elif head == "OK" and rest in ("H 1", "H 0"):
            self.relay = rest == "H 1"
        else:
            self.errors += 1
            self.enlil.log.warning("unexpected line from the device", line=self.line[:80])


class Thermostat(Actor):
    """Switches the heater to hold the room at its set point, with hysteresis."""

    temperature = Input("sensor.temperature", float, doc="Room temperature", unit="degC")
    heater = Output("heater.command", bool, doc="True turns the heater on")
    setpoint = Param(21.0, doc="Target temperature", unit="degC")
    band = Param(0.3, doc="Hysteresis: half-width of the dead band", unit="degC")
    switches = State(0, doc="How often the heater switched", metric=True)

    def step(self) -> None:
        """Runs in the thermostat's process on every temperature reading."""
        if self.temperature < self.setpoint - self.band:
            on = True
        elif self.temperature > self.setpoint + self.band:
            on = False
        else:
            on = bool(self.heater)
        if on != self.heater:
            self.switches += 1
        self.heater = on


class Console(Actor):
    """Prints the room's state every period, for a person watching the demo."""

    temperature = Input("sensor.temperature", float, doc="Room temperature", unit="degC")
    heater = Input("heater.command", bool, doc="Heater state", default=False)
    lines = State(0, doc="Lines printed")

    step_on_input = False

    def step(self) -> None:
        """Prints one line; runs in the console's process every period."""
        self.lines += 1
        state = "ON " if self.heater else "off"
        print(f"[console] room {self.temperature:6.2f} degC   heater {state}", flush=True)
