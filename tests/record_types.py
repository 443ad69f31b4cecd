"""Record types and actors that use them, for the records tests (imported by actor processes
too, so that a mesh can run them)."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from actors import Actor, Call, Input, Output, State, service
from actors.messages import (
    CompressedImage,
    LocationFix,
    Log,
    LogLevel,
    Pose,
    PoseInFrame,
    Quaternion,
    Timestamp,
    Vector3,
)


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


class Gallery(Actor):
    """Publishes one message of each of Foxglove's well-known types every period: a pose
    going round a circle, a fix, a log line and a one-pixel PNG."""

    pose = Output("rover.pose", PoseInFrame, doc="where the rover is")
    fix = Output("rover.gps", LocationFix, doc="its satellite fix")
    log = Output("rover.log", Log, doc="what it says")
    image = Output("rover.camera", CompressedImage, doc="what it sees")
    turns = State(0, doc="periods so far")

    def step(self) -> None:
        self.turns += 1
        now = Timestamp.of(self.enlil.now())
        angle = self.turns / 10
        at = Vector3(math.cos(angle), math.sin(angle), 0.0)
        self.pose = PoseInFrame(now, "map", Pose(at, Quaternion.of_yaw(angle)))
        self.fix = LocationFix(now, "gps", 48.85 + at.x / 1e4, 2.35 + at.y / 1e4, 35.0)
        self.log = Log(now, LogLevel.INFO, f"turn {self.turns}", name=self.enlil.name)
        self.image = CompressedImage(now, "camera", PNG, "png")


#: A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


class Camera(Actor):
    """Takes raw frames without copying them, and says what holds each one's bytes."""

    raw = Input("camera.raw", memoryview, doc="a raw frame")
    seen = Output("camera.seen", dict, doc="its size, and what holds its bytes")

    def step(self) -> None:
        holder = self.raw.obj
        while isinstance(holder, memoryview):
            holder = holder.obj
        self.seen = {
            "size": len(self.raw),
            "holder": type(holder).__name__,
            "readonly": self.raw.readonly,
            "last": self.raw[-1],
        }


@dataclass
class Vec3Framed:
    """Vec3, a version later: it names its frame (an optional field, so compatible)."""

    x: float = field(metadata={"doc": "along x", "unit": "m"})
    y: float = field(metadata={"doc": "along y", "unit": "m"})
    z: float = field(default=0.0, metadata={"doc": "along z", "unit": "m"})
    frame: str = field(default="map", metadata={"doc": "the frame it is in"})


@dataclass
class Polar:
    """A position in polar coordinates (not what a Vec3 was: incompatible)."""

    r: float = field(metadata={"doc": "distance from the origin", "unit": "m"})
    theta: float = field(metadata={"doc": "angle from x", "unit": "rad"})


class TrackerFramed(Tracker):
    """The Tracker, its last position now a Vec3Framed."""

    last = State(Vec3Framed(0.0, 0.0), doc="the last position seen")

    def step(self) -> None:
        self.fixes += 1
        p = self.fix.position
        self.last = Vec3Framed(p.x, p.y, p.z, self.fix.frame)
        self.moved = self.fix


class TrackerPolar(Tracker):
    """The Tracker, its last position retyped to Polar without a migration (a mistake)."""

    last = State(Polar(0.0, 0.0), doc="the last position seen")


class Homing(Actor):
    """Remembers the first fix it got as home, across restarts (a durable record)."""

    fix = Input("rover.fix", Fix, doc="the rover's fix", external=True)
    home = State(None, type=Vec3 | None, doc="the first position seen", durable=True)
    away = Output("rover.away", float, doc="how far along x the rover is from home", unit="m")

    def step(self) -> None:
        if self.home is None:
            self.home = self.fix.position
        self.away = self.fix.position.x - self.home.x
