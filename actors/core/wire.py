"""The wire format: envelopes and messages (pure core, no IO).

A message on the mesh is a ZeroMQ multipart ``[topic, envelope]``. The topic
frame is UTF-8 text; the envelope frame is a msgpack array, in this order:

====  ===========  ==========================================================
slot  name         meaning
====  ===========  ==========================================================
0     version      wire version, :data:`WIRE_VERSION`
1     sender       name of the publishing actor (or tool)
2     seq          per-sender, per-topic sequence number, starting at 1
3     timestamp    publish time, integer nanoseconds since the Unix epoch
4     trace        W3C ``traceparent`` text when the message is sampled, else nil
5     payload      the value: nil, bool, int, float, str, bytes, list or map
                   (a record travels as the map of its fields, an enum as its value)
====  ===========  ==========================================================

This module is the one place that knows those slots. Decoding never raises
anything but :class:`WireError`: frames from a peer are not trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgpack
import msgspec

from actors.core.topics import TopicError, check_topic
from actors.core.types import is_record_value, mismatch, pack_default

WIRE_VERSION: Final = 1
_SLOTS: Final = 6
#: Largest envelope accepted from a peer; ZeroMQ enforces it too (MAXMSGSIZE).
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
#: Frames of one message: the topic, then the envelope.
MESSAGE_FRAMES: Final = 2


class WireError(ValueError):
    """A frame could not be decoded. ``reason`` is a short counter name."""

    reason = "malformed"


class MalformedFrame(WireError):
    """The frames are not a valid enlil message (bad msgpack, wrong shape, bad topic)."""


class UnsupportedVersion(WireError):
    """The envelope carries a wire version this build does not speak."""

    reason = "unsupported_version"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded envelope: who sent the payload, when, and in which order."""

    sender: str
    seq: int
    timestamp_ns: int
    payload: Any
    trace: str | None = None
    version: int = WIRE_VERSION


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message: the topic it was published on and its envelope."""

    topic: str
    envelope: Envelope


def _no_ext(code: int, data: bytes) -> Any:
    raise MalformedFrame(f"msgpack extension type {code} is not allowed on the wire")


def _no_ext_view(code: int, data: memoryview) -> Any:
    raise MalformedFrame(f"msgpack extension type {code} is not allowed on the wire")


#: Payload types msgpack encodes itself (the rest go through msgspec when they are records).
_PLAIN: Final = frozenset(
    {type(None), bool, int, float, str, bytes, memoryview, bytearray, list, dict, tuple}
)
#: Bytes payloads of at least this size are encoded by msgspec, which copies them once
#: (msgpack's packer copies them into its buffer and again out of it).
_LARGE: Final = 65536


def encode_envelope(
    sender: str, seq: int, timestamp_ns: int, payload: Any, trace: str | None = None
) -> bytes:
    """Encode one envelope. Raises TypeError if *payload* is not msgpack-able."""
    if type(payload) not in _PLAIN and is_record_value(payload):
        return _RECORDS.encode([WIRE_VERSION, sender, seq, timestamp_ns, trace, payload])
    packed: bytes = msgpack.packb(
        [WIRE_VERSION, sender, seq, timestamp_ns, trace, payload],
        use_bin_type=True,
        default=pack_default,
    )
    return packed


_RECORDS: Final = msgspec.msgpack.Encoder()
_ARRAY_OF_SIX: Final = 0x96
_FIXSTR: Final = 0xA0
_STR8: Final = 0xD9


def envelope_sender(data: bytes | memoryview) -> str | None:
    """The sender an envelope names, read from its first bytes without decoding the rest
    (None when they are not an envelope's): a broker's look at a message it forwards."""
    head = bytes(data[: 2 + 2 + 255])
    if len(head) < 3 or head[0] != _ARRAY_OF_SIX:  # noqa: PLR2004 - header, version, str
        return None
    mark = head[2]
    if _FIXSTR <= mark <= _FIXSTR + 31:
        start, size = 3, mark - _FIXSTR
    elif mark == _STR8 and len(head) > 3:  # noqa: PLR2004 - the length byte
        start, size = 4, head[3]
    else:
        return None
    if len(head) < start + size:
        return None
    try:
        return head[start : start + size].decode()
    except UnicodeDecodeError:
        return None


def envelope_encoder() -> Callable[[str, int, int, Any, str | None], bytes]:
    """:func:`encode_envelope` for one thread: it reuses one msgpack ``Packer``.

    ``msgpack.packb`` builds a packer (and its buffer) on every call; reusing
    one costs a third as much. A packer is not safe to share between threads:
    each engine makes its own. A record payload is encoded by msgspec (three
    times faster than its fields as a map through msgpack).
    """
    pack = msgpack.Packer(use_bin_type=True, default=pack_default).pack
    encode_record = msgspec.msgpack.Encoder().encode
    plain = _PLAIN

    def encode(
        sender: str, seq: int, timestamp_ns: int, payload: Any, trace: str | None = None
    ) -> bytes:
        if type(payload) not in plain:
            if is_record_value(payload):
                return encode_record([WIRE_VERSION, sender, seq, timestamp_ns, trace, payload])
        elif type(payload) is bytes and len(payload) >= _LARGE:
            return encode_record([WIRE_VERSION, sender, seq, timestamp_ns, trace, payload])
        packed: bytes = pack([WIRE_VERSION, sender, seq, timestamp_ns, trace, payload])
        return packed

    return encode


def decode_envelope(frame: bytes) -> Envelope:
    """Decode one envelope frame, or raise :class:`WireError` saying what is wrong."""
    if len(frame) > MAX_FRAME_BYTES:
        raise MalformedFrame(f"envelope of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        obj = msgpack.unpackb(
            frame, raw=False, use_list=True, strict_map_key=False, ext_hook=_no_ext
        )
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        # UnicodeDecodeError, ExtraData, FormatError and StackError are all ValueErrors.
        raise MalformedFrame(f"envelope is not valid msgpack: {exc}") from None
    if not isinstance(obj, list) or len(obj) < 1:
        raise MalformedFrame("envelope is not a msgpack array")
    version = obj[0]
    if type(version) is not int:
        raise MalformedFrame("envelope version is not an integer")
    if version != WIRE_VERSION:
        raise UnsupportedVersion(f"wire version {version} (this build speaks {WIRE_VERSION})")
    if len(obj) != _SLOTS:
        raise MalformedFrame(f"envelope has {len(obj)} slots, expected {_SLOTS}")
    _, sender, seq, timestamp_ns, trace, payload = obj
    if type(sender) is not str or not sender:
        raise MalformedFrame("envelope sender is not a non-empty string")
    if type(seq) is not int or seq < 0:
        raise MalformedFrame("envelope sequence number is not a non-negative integer")
    if type(timestamp_ns) is not int:
        raise MalformedFrame("envelope timestamp is not an integer")
    if trace is not None and type(trace) is not str:
        raise MalformedFrame("envelope trace context is neither nil nor a string")
    return Envelope(sender=sender, seq=seq, timestamp_ns=timestamp_ns, payload=payload, trace=trace)


def decode_fields(frame: bytes) -> tuple[str, int, int, str | None, Any]:
    """Hot-path decode: ``(sender, seq, timestamp_ns, trace, payload)``, or WireError.

    Checks exactly what :func:`decode_envelope` checks, without building an Envelope.
    """
    try:
        obj = msgpack.unpackb(frame, raw=False, strict_map_key=False, ext_hook=_no_ext)
    except (WireError, ValueError, TypeError, OverflowError, msgpack.UnpackException):
        obj = None
    if (
        len(frame) <= MAX_FRAME_BYTES
        and type(obj) is list
        and len(obj) == _SLOTS
        and obj[0] == WIRE_VERSION
        and type(obj[0]) is int
        and type(obj[1]) is str
        and obj[1]
        and type(obj[2]) is int
        and obj[2] >= 0
        and type(obj[3]) is int
        and (obj[4] is None or type(obj[4]) is str)
    ):
        return obj[1], obj[2], obj[3], obj[4], obj[5]
    env = decode_envelope(frame)  # slow path: raises the precise WireError
    return env.sender, env.seq, env.timestamp_ns, env.trace, env.payload


class Mismatch:
    """A payload that does not fit its Input's declared type (what the type check says)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


Fields = tuple[str, int, int, str | None, Any]


def typed_decoder(tp: Any) -> Callable[[bytes], Fields]:
    """:func:`decode_fields` for an Input of type *tp* (a record, an enum or a fixed-size
    array in it): the envelope and the payload decoded and checked in one pass by msgspec.

    Raises WireError as :func:`decode_fields` does; a payload that does not fit *tp*
    comes back as a :class:`Mismatch` naming the field (``at `$.position.x```), to be
    counted ``type_rejected`` by the check that follows. A record with fields the type
    does not know is taken (they are ignored); optional fields that are missing get
    their defaults.
    """
    decode = msgspec.msgpack.Decoder(
        tuple[int, str, int, int, str | None, tp], ext_hook=_no_ext_view
    ).decode

    def fields(frame: bytes) -> Fields:
        try:
            obj = decode(frame)
        except msgspec.ValidationError as exc:
            sender, seq, sent_ns, trace, _ = decode_fields(frame)  # WireError if the envelope is
            return sender, seq, sent_ns, trace, Mismatch(mismatch(exc))
        except (msgspec.DecodeError, WireError, ValueError, TypeError, OverflowError):
            obj = None
        if (
            obj is not None
            and len(frame) <= MAX_FRAME_BYTES
            and obj[0] == WIRE_VERSION
            and obj[1]
            and obj[2] >= 0
        ):
            return obj[1], obj[2], obj[3], obj[4], obj[5]
        decode_envelope(frame)  # raises the precise WireError
        raise MalformedFrame("envelope does not decode")  # pragma: no cover - unreachable

    return fields


def check_decoded(value: Any) -> Any:
    """The type check that follows a :func:`typed_decoder`: TypeError for a Mismatch."""
    if type(value) is Mismatch:
        raise TypeError(value.reason)
    return value


def decode_topic(frame: bytes) -> str:
    """Decode and validate a topic frame, or raise :class:`MalformedFrame`."""
    try:
        return check_topic(frame.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedFrame("topic frame is not UTF-8") from None
    except TopicError as exc:
        raise MalformedFrame(str(exc)) from None


def decode_message(frames: list[bytes]) -> Message:
    """Decode a received multipart into a :class:`Message`, or raise :class:`WireError`."""
    if len(frames) != MESSAGE_FRAMES:
        raise MalformedFrame(f"message has {len(frames)} frames, expected 2")
    return Message(topic=decode_topic(frames[0]), envelope=decode_envelope(frames[1]))


def sender_of(frame: bytes) -> str | None:
    """Best-effort sender name of an undecodable envelope, for 'log once per sender'."""
    try:
        obj = msgpack.unpackb(frame, raw=False, ext_hook=_no_ext)
    except (WireError, ValueError, TypeError, OverflowError, msgpack.UnpackException):
        return None
    if isinstance(obj, list) and len(obj) > 1 and isinstance(obj[1], str):
        return obj[1][:64]
    return None
