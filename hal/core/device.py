"""The simulated device's behaviour: a room thermometer and a heater relay (pure core).

The line protocol (ASCII, one command or reading per line, ``\\n``-terminated):

=================  ==========================  =====================================
host sends         device answers              meaning
=================  ==========================  =====================================
(nothing)          ``T 21.50`` every interval  streamed temperature reading, degC
``T?``             ``T 21.50``                 read the temperature now
``H 1`` / ``H 0``  ``OK H 1`` / ``OK H 0``     switch the heater relay on / off
``H?``             ``H 1`` or ``H 0``          read the relay
anything else      ``ERR <what was sent>``     unknown command
=================  ==========================  =====================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RoomDevice:
    """A room warmed by a heater relay and cooled toward the outside (first-order model)."""

    temperature: float = 17.0
    outside: float = 12.0
    heater_power: float = 0.6
    loss: float = 0.02
    heater: bool = False

    def advance(self, seconds: float) -> None:
        """Let *seconds* of simulated time pass."""
        warming = self.heater_power if self.heater else 0.0
        self.temperature += seconds * (warming - self.loss * (self.temperature - self.outside))

    def reading(self) -> bytes:
        """The streamed reading line."""
        return f"T {self.temperature:.2f}\n".encode()

    def handle(self, line: bytes) -> bytes:
        """The answer to one command line (without its terminator)."""
        text = line.decode("ascii", "replace").strip()
        if text == "T?":
            return self.reading()
        if text in ("H 1", "H 0"):
            self.heater = text == "H 1"
            return f"OK {text}\n".encode()
        if text == "H?":
            return f"H {int(self.heater)}\n".encode()
        return f"ERR {text[:64]}\n".encode()
