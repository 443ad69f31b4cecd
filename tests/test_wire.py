"""The envelope codec and message decoding: round trips and hostile bytes."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.core.wire import (
    WIRE_VERSION,
    Envelope,
    MalformedFrame,
    UnsupportedVersion,
    WireError,
    decode_envelope,
    decode_message,
    encode_envelope,
)

payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)
names = st.text(min_size=1, max_size=30)


@given(
    sender=names,
    seq=st.integers(0, 2**63),
    ts=st.integers(0, 2**63),
    payload=payloads,
    trace=st.none() | st.text(max_size=60),
)
def test_round_trip(sender: str, seq: int, ts: int, payload: object, trace: str | None) -> None:
    """Whatever is encoded decodes to the same envelope."""
    env = decode_envelope(encode_envelope(sender, seq, ts, payload, trace))
    assert env == Envelope(sender=sender, seq=seq, timestamp_ns=ts, payload=payload, trace=trace)
    assert env.version == WIRE_VERSION


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_wire_errors(data: bytes) -> None:
    """Random bytes either decode or raise WireError, never anything else."""
    with contextlib.suppress(WireError):
        decode_envelope(data)


@given(st.lists(st.binary(max_size=40), max_size=4))
def test_arbitrary_multiparts_raise_only_wire_errors(frames: list[bytes]) -> None:
    """Random multiparts either decode or raise WireError."""
    with contextlib.suppress(WireError):
        decode_message(frames)


@given(payloads)
def test_arbitrary_msgpack_values_raise_only_wire_errors(obj: object) -> None:
    """Well-formed msgpack of the wrong shape is a WireError too."""
    with contextlib.suppress(WireError):
        decode_envelope(msgpack.packb(obj, use_bin_type=True))


def test_unknown_version_is_its_own_error() -> None:
    """A future wire version is reported as unsupported, not as garbage."""
    frame = msgpack.packb([99, "a", 1, 0, None, 1.0])
    with pytest.raises(UnsupportedVersion, match="wire version 99"):
        decode_envelope(frame)
    assert UnsupportedVersion.reason == "unsupported_version"


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"v": 1}, "not a msgpack array"),
        ([1, "a", 1, 0, None], "5 slots"),
        ([1, "", 1, 0, None, 1], "sender"),
        ([1, "a", -1, 0, None, 1], "sequence"),
        ([1, "a", 1, 0.5, None, 1], "timestamp"),
        ([1, "a", 1, 0, 7, 1], "trace"),
        (["1", "a", 1, 0, None, 1], "version"),
    ],
)
def test_wrong_shapes_are_named(obj: object, match: str) -> None:
    """Each malformed slot is reported by name."""
    with pytest.raises(MalformedFrame, match=match):
        decode_envelope(msgpack.packb(obj))


def test_extension_types_are_rejected() -> None:
    """msgpack extension types (which could smuggle objects) are refused."""
    frame = msgpack.packb([1, "a", 1, 0, None, msgpack.ExtType(5, b"x")])
    with pytest.raises(MalformedFrame, match="extension"):
        decode_envelope(frame)


def test_message_needs_two_frames_and_a_valid_topic() -> None:
    """The topic frame is checked like any topic."""
    env = encode_envelope("a", 1, 0, 1.0)
    assert decode_message([b"a.b", env]).topic == "a.b"
    with pytest.raises(MalformedFrame, match="frames"):
        decode_message([b"a.b"])
    with pytest.raises(MalformedFrame, match="UTF-8"):
        decode_message([b"\xff", env])
    with pytest.raises(MalformedFrame, match="empty segment"):
        decode_message([b"a..b", env])


def test_a_broker_reads_an_envelopes_sender_from_its_first_bytes() -> None:
    """``envelope_sender`` gives the name an envelope's sender field holds (short, long,
    a record's payload too) without decoding the rest; anything else gives None."""
    from actors.core.wire import encode_envelope, envelope_sender

    for name in ("a", "thermostat", "x" * 31, "y" * 200, "host:b", "é"):
        assert envelope_sender(encode_envelope(name, 1, 2, {"v": 1})) == name
    for junk in (b"", b"\x96", b"\x96\x01", b"\x93\x01\xa1a", b"\x96\x01\xa5ab", b"\x96\x01\xc0"):
        assert envelope_sender(junk) is None
