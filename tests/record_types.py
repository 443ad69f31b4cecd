"""Record types and actors that use them, for the records tests (imported by actor processes
too, so that a mesh can run them)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from actors import Actor, Call, Input, Output, State, service


class Quality(enum.Enum):
    """How much a reading can be trusted."""

    GOOD = "good"
    STALE = "stale"


@dataclass
class Vec3:
    """A vector in 3-D space."""

    x: float = field(metadata={"doc": "along x", "unit": "m"})
    y: float = field(metadata={"doc": "along y", "unit": "m"})
    z: float = field(default=0.0, metadata={"doc": "along z", "unit": "m"})


class Corner(msgspec.Struct):
    """A corner of the work area (a msgspec Struct)."""

    name: Annotated[str, msgspec.Meta(description="its label")]
    at: Annotated[Vec3, msgspec.Meta(description="where it is")]


@dataclass
class Fix:
    """Where the rover is, nested: a position, its corners and how good it is."""

    frame: str = field(metadata={"doc": "the frame the position is in"})
    position: Vec3 = field(metadata={"doc": "the position"})
    quality: Quality = field(default=Quality.GOOD, metadata={"doc": "how good it is"})
    corners: list[Corner] = field(default_factory=list, metadata={"doc": "the area's corners"})
    covariance: tuple[float, float, float] = field(
        default=(0.0, 0.0, 0.0), metadata={"doc": "variance per axis", "unit": "m^2"}
    )
    note: str | None = field(default=None, metadata={"doc": "what the operator said"})
    raw: bytes = field(default=b"", metadata={"doc": "the receiver's sentence"})


class Tracker(Actor):
    """Keeps the last fix, and publishes how far it moved along x."""

    fix = Input("rover.fix", Fix, doc="the rover's fix", external=True)
    moved = Output("rover.moved", Fix, doc="the fix, once it moved")
    last = State(Vec3(0.0, 0.0), doc="the last position seen")
    fixes = State(0, doc="fixes taken")

    def step(self) -> None:
        self.fixes += 1
        if self.fix.position != self.last:
            self.last = self.fix.position
            self.moved = self.fix

    @service("rover.where", Vec3, Fix, doc="The last fix, its position moved by an offset")
    def where(self, offset: Vec3) -> Fix:
        at = Vec3(self.last.x + offset.x, self.last.y + offset.y, self.last.z + offset.z)
        return Fix("map", at, corners=[Corner("origin", self.last)])


class Asker(Actor):
    """Asks the tracker where the rover is, for each offset it is given."""

    offset = Input("asker.offset", Vec3, doc="the offset to ask about", external=True)
    answer = State(None, type=Fix | None, doc="the tracker's last answer")
    where = Call("rover.where", Vec3, Fix, doc="where the rover is", timeout=5.0)

    def step(self) -> None:
        self.answer = self.where(self.offset)


class Crasher(Tracker):
    """A Tracker that fails on a fix whose note says so."""

    def step(self) -> None:
        super().step()
        if self.fix.note == "crash":
            raise RuntimeError(f"asked to crash at x={self.fix.position.x}")
