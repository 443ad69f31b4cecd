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
from typing import Any, Final

from supervisor.core.design import Design
from supervisor.core.render import json_schema

#: The JSON Schema dialect of the schemas (what MCAP and Foxglove call ``jsonschema``).
SCHEMA_ENCODING: Final = "jsonschema"
#: The encoding of the messages.
MESSAGE_ENCODING: Final = "json"
_BYTES: Final = "$base64"


def topic_types(design: Design) -> dict[str, Any]:
    """The declared type of each concrete topic (a producer's, else a consumer's)."""
    out: dict[str, Any] = {}
    for topic in design.topics:
        if topic.endswith(".*"):
            continue
        ends = design.producers_of(topic) or design.consumers_of(topic)
        if ends:
            out[topic] = ends[0].type
    return out


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
    """(payload, sender, seq) of a record; ValueError if it is not one."""
    record = json.loads(data)
    if not isinstance(record, dict) or "value" not in record:
        raise ValueError("not a record: a JSON object with a 'value'")
    seq = record.get("seq", 0)
    return from_json(record["value"]), str(record.get("sender", "")), seq if type(seq) is int else 0
