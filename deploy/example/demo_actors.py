"""Actors of the demo site: a simulated room and heater, a sensor, a thermostat, a console."""

from __future__ import annotations

import random

from actors import Actor, Input, Output, Param, State


class Room(Actor):
    """Simulates the room: the heater warms it, the outside cools it (first-order model)."""

    heater = Input("heater.command", bool, doc="Whether the heater is on", default=False)
    temperature = Output("room.temperature", float, doc="True room temperature", unit="degC")
    outside = Param(12.0, doc="Outside temperature", unit="degC")
    start = Param(17.0, doc="Room temperature at start", unit="degC")
    heater_power = Param(0.6, doc="Warming by the heater", unit="degC/s")
    loss = Param(0.02, doc="Fraction of the indoor-outdoor difference lost per second", unit="1/s")
    air = State(17.0, doc="Simulated air temperature", unit="degC", metric=True)

    step_on_input = False  # the model advances on its period; the heater input is sampled

    def on_start(self) -> None:
        """Runs in the room's process at start; publishes the initial temperature."""
        self.air = self.start
        self.temperature = self.air

    def step(self) -> None:
        """Advances the model by one period; runs in the room's process."""
        dt = self.period or 0.5
        warming = self.heater_power if self.heater else 0.0
        self.air += dt * (warming - self.loss * (self.air - self.outside))
        self.temperature = round(self.air, 3)


class TemperatureSensor(Actor):
    """A thermometer in the room: samples the room temperature and adds noise."""

    room = Input("room.temperature", float, doc="True room temperature", unit="degC")
    temperature = Output("sensor.temperature", float, doc="Measured room temperature", unit="degC")
    noise = Param(0.05, doc="Standard deviation of the measurement noise", unit="degC")
    samples = State(0, doc="Readings taken", metric=True)

    step_on_input = False

    def step(self) -> None:
        """Takes one reading; runs in the sensor's process every period."""
        self.samples += 1
        self.temperature = round(self.room + random.gauss(0.0, self.noise), 3)


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
