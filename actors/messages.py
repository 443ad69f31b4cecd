"""A small library of message types that match Foxglove's well-known schemas (pure, no IO).

Declare an Output (or Input, State, service type) with one of these and Foxglove's and
Lichtblick's panels work on the topic with no glue: the bridge (``[web] foxglove``)
advertises it under the Foxglove schema name (``foxglove.PoseInFrame``: the 3D panel;
``foxglove.LocationFix``: the Map; ``foxglove.Log``: the Log panel;
``foxglove.CompressedImage``: the Image panel) and sends each message in Foxglove's JSON
form, and MCAP recordings keep them the same way. Each class names its Foxglove schema
in ``FOXGLOVE``; field names, types and enum values are Foxglove's, so a message
validates against Foxglove's published JSON Schema for it.

A time is a :class:`Timestamp` (``sec`` and ``nsec``, as Foxglove and ROS write it):
``Timestamp.of(self.enlil.now())`` makes one from the actor's clock.

:class:`Header` (a stamp and a frame id, as in ROS 2) is for your own records; Foxglove's
types carry the two as top-level fields instead.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import ClassVar

#: Nanoseconds per second.
_NS = 1_000_000_000


def _doc(text: str, unit: str | None = None) -> dict[str, str]:
    return {"doc": text, "unit": unit} if unit else {"doc": text}


@dataclass(frozen=True)
class Timestamp:
    """A time: whole seconds and nanoseconds since the Unix epoch."""

    FOXGLOVE: ClassVar[str] = "time"

    sec: int = field(metadata=_doc("whole seconds since the Unix epoch", "s"))
    nsec: int = field(default=0, metadata=_doc("nanoseconds past the second", "ns"))

    @classmethod
    def of(cls, seconds: float) -> Timestamp:
        """The timestamp of *seconds* since the epoch (``self.enlil.now()``)."""
        whole = math.floor(seconds)
        return cls(whole, min(_NS - 1, round((seconds - whole) * _NS)))

    def seconds(self) -> float:
        """Seconds since the epoch."""
        return self.sec + self.nsec / _NS


@dataclass(frozen=True)
class Header:
    """When and in which frame of reference a reading was taken (ROS 2's std_msgs/Header)."""

    stamp: Timestamp = field(metadata=_doc("when the reading was taken"))
    frame_id: str = field(default="", metadata=_doc("the frame of reference"))


@dataclass(frozen=True)
class Vector3:
    """A vector in 3-D space."""

    FOXGLOVE: ClassVar[str] = "foxglove.Vector3"

    x: float = field(default=0.0, metadata=_doc("x coordinate length"))
    y: float = field(default=0.0, metadata=_doc("y coordinate length"))
    z: float = field(default=0.0, metadata=_doc("z coordinate length"))


@dataclass(frozen=True)
class Quaternion:
    """An orientation in 3-D space as a unit quaternion (the identity by default)."""

    FOXGLOVE: ClassVar[str] = "foxglove.Quaternion"

    x: float = field(default=0.0, metadata=_doc("x value"))
    y: float = field(default=0.0, metadata=_doc("y value"))
    z: float = field(default=0.0, metadata=_doc("z value"))
    w: float = field(default=1.0, metadata=_doc("w value"))

    @classmethod
    def of_yaw(cls, yaw: float) -> Quaternion:
        """The rotation by *yaw* radians about the z axis."""
        return cls(0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


@dataclass(frozen=True)
class Pose:
    """A position and orientation in 3-D space."""

    FOXGLOVE: ClassVar[str] = "foxglove.Pose"

    position: Vector3 = field(default_factory=Vector3, metadata=_doc("the position", "m"))
    orientation: Quaternion = field(default_factory=Quaternion, metadata=_doc("the orientation"))


@dataclass(frozen=True)
class PoseInFrame:
    """A timestamped pose in a frame of reference (Foxglove's 3D panel draws it)."""

    FOXGLOVE: ClassVar[str] = "foxglove.PoseInFrame"

    timestamp: Timestamp = field(metadata=_doc("when the pose was taken"))
    frame_id: str = field(metadata=_doc("the frame of reference of the pose"))
    pose: Pose = field(metadata=_doc("the pose in that frame"))


class PositionCovarianceType(enum.IntEnum):
    """How much of a location fix's position covariance is known."""

    UNKNOWN = 0
    APPROXIMATED = 1
    DIAGONAL_KNOWN = 2
    KNOWN = 3


#: Nine zeros: a covariance that is not known.
_NO_COVARIANCE = (0.0,) * 9


@dataclass(frozen=True)
class LocationFix:
    """A satellite navigation fix (Foxglove's Map panel draws it)."""

    FOXGLOVE: ClassVar[str] = "foxglove.LocationFix"

    timestamp: Timestamp = field(metadata=_doc("when the fix was taken"))
    frame_id: str = field(metadata=_doc("the sensor's frame"))
    latitude: float = field(metadata=_doc("latitude", "deg"))
    longitude: float = field(metadata=_doc("longitude", "deg"))
    altitude: float = field(default=0.0, metadata=_doc("altitude", "m"))
    position_covariance: tuple[float, float, float, float, float, float, float, float, float] = (
        field(
            default=_NO_COVARIANCE,
            metadata=_doc("position covariance, East-North-Up, row-major", "m^2"),
        )
    )
    position_covariance_type: PositionCovarianceType = field(
        default=PositionCovarianceType.UNKNOWN,
        metadata=_doc("how much of the covariance is known"),
    )


class LogLevel(enum.IntEnum):
    """The severity of a log line (Foxglove's levels)."""

    UNKNOWN = 0
    DEBUG = 1
    INFO = 2
    WARNING = 3
    ERROR = 4
    FATAL = 5


@dataclass(frozen=True)
class Log:
    """A log line (Foxglove's Log panel shows it)."""

    FOXGLOVE: ClassVar[str] = "foxglove.Log"

    timestamp: Timestamp = field(metadata=_doc("when it was logged"))
    level: LogLevel = field(metadata=_doc("its severity"))
    message: str = field(metadata=_doc("the text"))
    name: str = field(default="", metadata=_doc("the process or actor that logged it"))
    file: str = field(default="", metadata=_doc("the source file"))
    line: int = field(default=0, metadata=_doc("the line in the source file"))


@dataclass(frozen=True)
class CompressedImage:
    """A compressed image (Foxglove's Image panel shows it)."""

    FOXGLOVE: ClassVar[str] = "foxglove.CompressedImage"

    timestamp: Timestamp = field(metadata=_doc("when the image was taken"))
    frame_id: str = field(metadata=_doc("the camera's optical frame"))
    data: bytes = field(metadata=_doc("the compressed image"))
    format: str = field(metadata=_doc("its format: jpeg, png, webp or avif"))


def foxglove_name(tp: object) -> str | None:
    """The Foxglove schema name of a message type of this library (None for any other)."""
    name = getattr(tp, "FOXGLOVE", None)
    return name if isinstance(name, str) and name.startswith("foxglove.") else None
