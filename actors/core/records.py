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

import json
from typing import Any, Final

from actors.core.type_schema import Schemas, from_json, to_json

#: The JSON Schema dialect of the schemas (what MCAP and Foxglove call ``jsonschema``).
SCHEMA_ENCODING: Final = "jsonschema"
#: The encoding of the messages.
MESSAGE_ENCODING: Final = "json"


def record_schema(topic: str, tp: Any) -> dict[str, Any]:
    """The JSON Schema of a record of *topic*, whose payload is declared as *tp* (its record
    and enum types named under ``$defs``)."""
    book = Schemas()
    return book.document(
        {
            "title": topic,
            "type": "object",
            "properties": {
                "value": book.of(tp),
                "sender": {"type": "string", "description": "The actor that published it"},
                "seq": {"type": "integer", "description": "Its sequence number on this topic"},
            },
            "required": ["value", "sender", "seq"],
        }
    )


def schema_name(topic: str) -> str:
    """The schema's name for *topic* (a record of it)."""
    return f"enlil.{topic}"


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
