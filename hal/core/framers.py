"""Framers: turn a byte stream from a link into frames and back (pure core, no IO).

Each framer is sans-IO: :meth:`feed` takes whatever bytes arrived (any split
of the stream) and returns the frames completed so far, with a
:class:`FramingError` *value* in place of each corrupted frame; the framer
then resynchronises on the next frame. :meth:`encode` turns a payload into
the bytes to write.

* :class:`LineFramer`: text lines with a configurable terminator;
* :class:`CobsFramer`: COBS-encoded frames delimited by a zero byte, each
  payload followed by its CRC-16 inside the encoding (COBS alone cannot tell
  a corrupted frame from another valid one);
* :class:`LengthCrcFramer`: ``0xA5``, a 2-byte big-endian length, the payload
  and a CRC-16/CCITT-FALSE of length and payload;
* :class:`RawFramer`: chunks as they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

DEFAULT_MAX: Final = 4096


@dataclass(frozen=True)
class FramingError:
    """A frame that could not be decoded: why, and how many bytes were dropped."""

    reason: str
    dropped: int


Event = bytes | FramingError


class Framer(Protocol):
    """What every framer does."""

    def encode(self, payload: bytes) -> bytes: ...
    def feed(self, data: bytes) -> list[Event]: ...


class RawFramer:
    """Every chunk that arrives is a frame; writes go out as they are."""

    def encode(self, payload: bytes) -> bytes:
        """The payload itself."""
        return payload

    def feed(self, data: bytes) -> list[Event]:
        """The chunk itself (nothing for an empty one)."""
        return [bytes(data)] if data else []


class LineFramer:
    """Lines ended by *terminator*; a line longer than *max_length* is an error. With
    *strip_cr* (the default) a line ended by ``\n`` loses one ``\r`` before it: NMEA and
    most instruments end their lines with CRLF."""

    def __init__(
        self, terminator: bytes = b"\n", max_length: int = DEFAULT_MAX, strip_cr: bool = True
    ) -> None:
        if not terminator:
            raise ValueError("the line terminator must not be empty")
        self.terminator = terminator
        self.max_length = max_length
        self.strip_cr = strip_cr and terminator == b"\n"
        self._buffer = b""
        self._discarding = 0

    def encode(self, payload: bytes) -> bytes:
        """The payload and the terminator; ValueError if the payload holds a terminator."""
        if self.terminator in payload:
            raise ValueError("a line may not contain its terminator")
        return payload + self.terminator

    def feed(self, data: bytes) -> list[Event]:
        """Complete lines so far (without terminators), errors for overlong ones."""
        out: list[Event] = []
        self._buffer += data
        term = self.terminator
        while True:
            index = self._buffer.find(term)
            if index < 0:
                break
            line, self._buffer = self._buffer[:index], self._buffer[index + len(term) :]
            if self.strip_cr and line.endswith(b"\r"):
                line = line[:-1]
            if self._discarding:
                out.append(FramingError("line too long", self._discarding + len(line)))
                self._discarding = 0
            elif len(line) > self.max_length:
                out.append(FramingError("line too long", len(line)))
            else:
                out.append(line)
        # Keep what could still be the start of a terminator; drop an overlong line's head.
        keep = len(term) - 1
        if len(self._buffer) > self.max_length + keep:
            cut = len(self._buffer) - keep
            self._discarding += cut
            self._buffer = self._buffer[cut:]
        return out


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: *data* without any zero byte."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """The inverse of :func:`cobs_encode`; ValueError on an invalid encoding."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            raise ValueError("zero byte inside a COBS frame")
        end = i + code
        if end > len(data):
            raise ValueError("COBS block runs past the end of the frame")
        block = data[i + 1 : end]
        if 0 in block:
            raise ValueError("zero byte inside a COBS block")
        out += block
        i = end
        if code < 255 and i < len(data):
            out.append(0)
    return bytes(out)


class CobsFramer:
    """COBS frames (payload + CRC-16), each followed by a zero byte."""

    def __init__(self, max_length: int = DEFAULT_MAX) -> None:
        self.max_length = max_length
        self._buffer = b""

    def encode(self, payload: bytes) -> bytes:
        """The COBS encoding of payload and CRC, and the delimiter."""
        return cobs_encode(payload + crc16(payload).to_bytes(2, "big")) + b"\x00"

    def feed(self, data: bytes) -> list[Event]:
        """Decoded frames so far; an error for each frame that does not decode."""
        out: list[Event] = []
        self._buffer += data
        while True:
            index = self._buffer.find(b"\x00")
            if index < 0:
                break
            raw, self._buffer = self._buffer[:index], self._buffer[index + 1 :]
            if not raw:
                continue  # an empty frame: a bare delimiter (used to resynchronise)
            try:
                decoded = cobs_decode(raw)
            except ValueError as exc:
                out.append(FramingError(str(exc), len(raw) + 1))
                continue
            payload, check = decoded[:-2], decoded[-2:]
            if len(decoded) < 2 or crc16(payload).to_bytes(2, "big") != check:
                out.append(FramingError("bad CRC", len(raw) + 1))
            else:
                out.append(payload)
        if len(self._buffer) > self.max_length + self.max_length // 254 + 2:
            out.append(FramingError("frame too long", len(self._buffer)))
            self._buffer = b""
        return out


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


class LengthCrcFramer:
    """``0xA5``, length (2 bytes, big-endian), payload, CRC-16 of length and payload."""

    MAGIC: Final = 0xA5

    def __init__(self, max_length: int = DEFAULT_MAX) -> None:
        if not 0 < max_length <= 0xFFFF:
            raise ValueError("max_length must be between 1 and 65535")
        self.max_length = max_length
        self._buffer = b""

    def encode(self, payload: bytes) -> bytes:
        """The framed payload; ValueError if it is longer than max_length."""
        if len(payload) > self.max_length:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {self.max_length}")
        body = len(payload).to_bytes(2, "big") + payload
        return bytes([self.MAGIC]) + body + crc16(body).to_bytes(2, "big")

    def _next_valid(self, start: int) -> int:
        """Offset of the next complete frame with a valid CRC at or after *start*, or -1."""
        buf = self._buffer
        magic = bytes([self.MAGIC])
        index = buf.find(magic, start)
        while index >= 0:
            if len(buf) >= index + 3:
                length = int.from_bytes(buf[index + 1 : index + 3], "big")
                end = index + 5 + length
                if length <= self.max_length and len(buf) >= end:
                    body = buf[index + 1 : index + 3 + length]
                    if int.from_bytes(buf[end - 2 : end], "big") == crc16(body):
                        return index
            index = buf.find(magic, index + 1)
        return -1

    def feed(self, data: bytes) -> list[Event]:
        """Frames whose CRC holds; on garbage or a bad CRC, skip to the next magic byte."""
        out: list[Event] = []
        self._buffer += data
        dropped = 0
        while self._buffer:
            if self._buffer[0] != self.MAGIC:
                start = self._buffer.find(bytes([self.MAGIC]))
                skip = len(self._buffer) if start < 0 else start
                dropped += skip
                self._buffer = self._buffer[skip:]
                continue
            if len(self._buffer) < 3:
                break
            length = int.from_bytes(self._buffer[1:3], "big")
            if length > self.max_length:
                dropped += 1
                self._buffer = self._buffer[1:]
                continue
            if len(self._buffer) < 5 + length:
                # Incomplete, or its length was corrupted: if a whole valid frame starts
                # further on, the bytes before it are garbage; otherwise wait for more.
                later = self._next_valid(1)
                if later < 0:
                    break
                dropped += later
                self._buffer = self._buffer[later:]
                continue
            body = self._buffer[1 : 3 + length]
            crc = int.from_bytes(self._buffer[3 + length : 5 + length], "big")
            if crc != crc16(body):
                dropped += 1
                self._buffer = self._buffer[1:]
                continue
            if dropped:
                out.append(FramingError("bad frame (CRC or sync)", dropped))
                dropped = 0
            out.append(body[2:])
            self._buffer = self._buffer[5 + length :]
        if dropped:
            out.append(FramingError("bad frame (CRC or sync)", dropped))
        return out
