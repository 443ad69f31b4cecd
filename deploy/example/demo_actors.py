"""Actors of the demo site: the room device's protocol, a thermostat, a console."""

from __future__ import annotations

from actors import (
    Actor,
    Breaker,
    Call,
    Input,
    Output,
    Param,
    Pending,
    Policy,
    Retry,
    State,
    service,
)
from actors.messages import Log, LogLevel, Timestamp


class RoomProtocol(Actor):
    """Speaks the room device's line protocol through the serial link 'room'.

    Readings (``T 21.50``) become ``sensor.temperature``; heater commands become
    ``H 1`` / ``H 0`` lines, confirmed by the device with ``OK H 1`` / ``OK H 0``.
    """

    line = Input("room.rx", str, doc="A line from the device (hal.sim protocol)", default="")
    heater = Input(
        "heater.command", bool, doc="Whether the heater should be on", default=False, reliable=True
    )
    temperature = Output("sensor.temperature", float, doc="Measured room temperature", unit="degC")
    command = Output("room.tx", str, doc="A command line for the device")
    readings = State(0, doc="Readings received", metric="counter")
    relay = State(False, doc="The relay as the device last confirmed it")
    errors = State(
        0, doc="Lines the device could not take, or we could not parse", metric="counter"
    )

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


#: The set points the thermostat takes (degC).
LOWEST, HIGHEST = 5.0, 30.0


class Thermostat(Actor):
    """Switches the heater to hold the room at its set point, with hysteresis."""

    temperature = Input("sensor.temperature", float, doc="Room temperature", unit="degC")
    heater = Output(
        "heater.command",
        bool,
        doc="True turns the heater on (reliable: resent until the sensor has it; stored with "
        "the durable target before it leaves)",
        reliable=True,
    )
    log = Output(
        "thermostat.log",
        Log,
        doc="A line each time the heater switches (Foxglove's Log panel shows it)",
    )
    setpoint = Param(21.0, doc="Target temperature at start", unit="degC")
    band = Param(0.3, doc="Hysteresis: half-width of the dead band", unit="degC")
    switches = State(0, doc="How often the heater switched", metric="counter")
    target = State(
        21.0,
        doc="Target temperature now (set through a call); kept across restarts",
        unit="degC",
        durable=True,
    )
    chosen = State(False, doc="Whether an operator chose the target", durable=True)
    boost = Input(
        "thermostat.boost",
        float,
        doc="Heat flat out for this many minutes (an operator's request)",
        unit="min",
        default=0.0,
        external=True,
    )
    boost_until = State(0.0, doc="When the running boost ends (0: none)", unit="s")

    def on_start(self) -> None:
        """Runs in the thermostat's process before it is ready (after its durable State is
        read back): the target is the one an operator chose, else the configured set point."""
        if not self.chosen:
            self.target = self.setpoint

    @service("thermostat.setpoint.get", object, float, doc="The target temperature now")
    def get_setpoint(self, request: object) -> float:
        """Runs in the thermostat's process between steps."""
        return self.target

    @service(
        "thermostat.setpoint.set",
        float,
        float,
        doc="Change the target temperature (5 to 30 degC); replies with the new one",
    )
    def set_setpoint(self, value: float) -> float:
        """Runs in the thermostat's process between steps; a value out of range raises
        (the caller gets a 'remote' error, the thermostat goes on)."""
        if not LOWEST <= value <= HIGHEST:
            raise ValueError(f"set point {value} degC is outside {LOWEST}..{HIGHEST} degC")
        self.enlil.log.info("set point changed", before=self.target, after=value)
        self.target = value
        self.chosen = True
        return value

    def step(self) -> None:
        """Runs in the thermostat's process on every temperature reading and boost."""
        if self.enlil.trigger == "boost":
            self.start_boost()
        if self.enlil.now() < self.boost_until or self.temperature < self.target - self.band:
            on = True
        elif self.temperature > self.target + self.band:
            on = False
        else:
            on = bool(self.heater)
        if on != self.heater:
            self.switches += 1
            self.log = Log(
                Timestamp.of(self.enlil.now()),
                LogLevel.INFO,
                f"heater {'on' if on else 'off'} at {self.temperature:.2f} degC "
                f"(target {self.target:g} degC)",
                name=self.enlil.name,
            )
        self.heater = on

    def start_boost(self) -> None:
        """A boost: the heater runs flat out for ``boost`` minutes.

        This has a bug on purpose, for the README's first hour: a boost of 0 minutes
        divides by zero, the thermostat crashes and leaves a failure snapshot. The fix
        is one line: treat a boost of 0 minutes or less as "no boost" before dividing.
        """
        rate = (self.target - self.temperature) / self.boost
        self.enlil.log.info("boost", minutes=self.boost, degc_per_minute=round(rate, 2))
        self.boost_until = self.enlil.now() + 60.0 * self.boost


class Console(Actor):
    """Prints the room's state every period, for a person watching the demo."""

    temperature = Input("sensor.temperature", float, doc="Room temperature", unit="degC")
    heater = Input("heater.command", bool, doc="Heater state", default=False)
    lines = State(0, doc="Lines printed")
    target = State(None, doc="The thermostat's set point, as last asked", type=object)
    setpoint = Call(
        "thermostat.setpoint.get",
        object,
        float,
        doc="Ask the thermostat its set point",
        timeout=1.0,
        policy=Policy(
            timeout=0.5,
            retry=Retry(attempts=2, initial=0.1),
            breaker=Breaker(window=5, min_calls=3, open_for=10.0),
        ),
    )

    step_on_input = False

    def step(self) -> None:
        """Prints one line and asks for the set point (without waiting: the answer comes
        between steps); runs in the console's process every period."""
        self.lines += 1
        state = "ON " if self.heater else "off"
        target = f"{self.target:5.1f}" if isinstance(self.target, float) else "  ?  "
        print(
            f"[console] room {self.temperature:6.2f} degC   target {target} degC   heater {state}",
            flush=True,
        )
        self.setpoint.start(None, callback=self._got)

    def _got(self, pending: Pending) -> None:
        self.target = pending.value if pending.error is None else None
