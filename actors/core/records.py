"""Messages as JSON records, for MCAP recordings and the Foxglove bridge (pure core, no IO).

A recorded message is the JSON object ``{"value": payload, "sender": ..., "seq": ...}``:
an object (Foxglove's panels address its fields: ``/sensor.temperature.value``)
that keeps the envelope's sender and sequence number. Its JSON Schema comes
from the declared type of the topic (:func:`record_schema`). msgpack carries
two things JSON does not: bytes, written ``{"$base64": "..."}``, and map keys
that are not strings (written as strings); :func:`from_json` turns the first
back.
"""

from __future__ import annotations

import base64
import json
import typing
from typing import Any, Final

#: The JSON Schema dialect of the schemas (what MCAP and Foxglove call ``jsonschema``).
SCHEMA_ENCODING: Final = "jsonschema"
#: The encoding of the messages.
MESSAGE_ENCODING: Final = "json"
_BYTES: Final = "$base64"


def json_schema(tp: Any) -> dict[str, Any]:
    """JSON Schema of a declared type (msgpack bin as a binary string)."""
    simple = {
        bool: {"type": "boolean"},
        int: {"type": "integer"},
        float: {"type": "number"},
        str: {"type": "string"},
        bytes: {"type": "string", "format": "binary"},
        list: {"type": "array"},
        dict: {"type": "object"},
        object: {},
    }
    if tp in simple:
        return dict(simple[tp])
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return {"type": "array", "items": json_schema(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": json_schema(args[1])}
    return {}


def record_schema(topic: str, tp: Any) -> dict[str, Any]:
    """The JSON Schema of a record of *topic*, whose payload is declared as *tp*."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": topic,
        "type": "object",
        "properties": {
            "value": json_schema(tp),
            "sender": {"type": "string", "description": "The actor that published it"},
            "seq": {"type": "integer", "description": "Its sequence number on this topic"},
        },
        "required": ["value", "sender", "seq"],
    }


def schema_name(topic: str) -> str:
    """The schema's name for *topic* (a record of it)."""
    return f"enlil.{topic}"


def to_json(value: Any) -> Any:
    """*value* (what msgpack decoded) as JSON data."""
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def from_json(value: Any) -> Any:
    """JSON data back as a payload (bytes restored)."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(_BYTES), str):
            return base64.b64decode(value[_BYTES])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def encode_record(payload: Any, sender: str, seq: int) -> bytes:
    """One message as a record (UTF-8 JSON)."""
    record = {"value": to_json(payload), "sender": sender, "seq": seq}
    return json.dumps(record, separators=(",", ":"), allow_nan=True).encode()


def decode_record(data: bytes) -> tuple[Any, str, int]:
    """(payload, sender, seq) of a record; ValueError if it is not one (or is nested deeper
    than a message can be)."""
    try:
        record = json.loads(data)
        if not isinstance(record, dict) or "value" not in record:
            raise ValueError("not a record: a JSON object with a 'value'")
        value = from_json(record["value"])
    except RecursionError:
        raise ValueError("the record's value is nested deeper than a message can be") from None
    seq = record.get("seq", 0)
    return value, str(record.get("sender", "")), seq if type(seq) is int else 0
