"""Messages as JSON records, for MCAP recordings and the Foxglove bridge (pure core, no IO).

A recorded message is the JSON object ``{"value": payload, "sender": ..., "seq": ...}``:
an object (Foxglove's panels address its fields: ``/sensor.temperature.value``)
that keeps the envelope's sender and sequence number. Its JSON Schema comes
from the declared type of the topic (:func:`record_schema`). msgpack carries
two things JSON does not: bytes, written ``{"$base64": "..."}``, and map keys
that are not strings (written as strings); :func:`from_json` turns the first
back.

A topic whose type is one of Foxglove's well-known schemas (a record class naming it in
``FOXGLOVE``, as those of :mod:`actors.messages` do) is written in Foxglove's own form
instead, so that its panels recognise it: the schema named ``foxglove.PoseInFrame``
(not ``enlil.<topic>``), the message the record's fields themselves, bytes as base64
strings (:func:`channel_form` chooses).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from actors.core.type_schema import Schemas, from_json, to_json
from actors.core.types import coerce, strip_meta, to_builtins

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


def foxglove_name(tp: Any) -> str | None:
    """The Foxglove schema a record type says it is (``FOXGLOVE = "foxglove.Log"``), or None."""
    name = getattr(strip_meta(tp), "FOXGLOVE", None)
    return name if isinstance(name, str) and name.startswith("foxglove.") else None


@dataclass(frozen=True)
class ChannelForm:
    """How one topic is written for JSON tools: its schema's name and document, and how a
    message becomes bytes (``encode(payload, sender, seq)``)."""

    schema_name: str
    schema: dict[str, Any]
    encode: Callable[[Any, str, int], bytes]

    @property
    def foxglove(self) -> bool:
        return self.schema_name.startswith("foxglove.")


def channel_form(topic: str, tp: Any) -> ChannelForm:
    """The form of *topic*'s messages: Foxglove's own for a well-known type, else a record."""
    name = foxglove_name(tp)
    if name is not None:
        schema = Schemas(bytes_form="base64", inline=True).standalone(tp, title=name)

        def encode(payload: Any, sender: str, seq: int) -> bytes:
            # Every field, defaults too (Foxglove's schemas require some that have ours).
            with contextlib.suppress(TypeError):  # not of its type: written as it came
                payload = coerce(payload, tp)
            return encode_foxglove(to_builtins(payload))

        return ChannelForm(name, schema, encode)
    return ChannelForm(schema_name(topic), record_schema(topic, tp), encode_record)


_JSON: Final = msgspec.json.Encoder()


def encode_foxglove(payload: Any, sender: str = "", seq: int = 0) -> bytes:
    """One message in Foxglove's JSON form: the fields themselves, bytes as base64."""
    return _JSON.encode(payload)


def decode_foxglove(data: bytes, schema: dict[str, Any]) -> Any:
    """A message in Foxglove's JSON form as a payload: the strings that *schema* says are
    base64 (``contentEncoding``) back as bytes; ValueError if it is not JSON."""
    try:
        value = json.loads(data)
        return _restore(value, schema, schema.get("$defs", {}))
    except RecursionError:
        raise ValueError("the message is nested deeper than a message can be") from None


def _restore(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        schema = defs.get(ref[len("#/$defs/") :], {})
    if schema.get("contentEncoding") == "base64" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("a base64 field is not base64") from None
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: _restore(v, props.get(k, {}), defs) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_restore(v, items if isinstance(items, dict) else {}, defs) for v in value]
    return value


def decode_recorded(schema_name: str, schema_data: bytes, data: bytes) -> Any:
    """The payload of a recorded message whose channel has the schema *schema_name*
    (*schema_data* its document): a record, or a message in Foxglove's form; ValueError if
    it is neither."""
    if schema_name.startswith("foxglove."):
        try:
            schema = json.loads(schema_data)
        except ValueError:
            schema = {}
        return decode_foxglove(data, schema if isinstance(schema, dict) else {})
    return decode_record(data)[0]
