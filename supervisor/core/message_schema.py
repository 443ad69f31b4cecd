"""How AsyncAPI describes a message (pure core): the value as the payload, named after its
topic or service, and the envelope's fields as named headers, so that a generator such
as @asyncapi/modelina makes named, typed models (none anonymous) while the document
still says how the message travels (``x-enlil-wire``: the msgpack array's order)."""

from __future__ import annotations

import re
from typing import Any, Final


def model_name(text: str) -> str:
    """A name for generated models: ``sensor.temperature`` -> ``SensorTemperature``."""
    words = re.split(r"[^A-Za-z0-9]+", text.replace("*", "any"))
    return "".join(w[:1].upper() + w[1:] for w in words if w) or "Message"


#: How a message travels, said once in each message's headers schema.
WIRE: Final = (
    "On the wire a message is a ZeroMQ multipart [topic, envelope] through the site's "
    "broker; the envelope is one msgpack array: [version, sender, seq, timestamp_ns, "
    "traceparent, payload], these headers in this order and then the payload."
)


def envelope_headers(name: str, sender: str = "sending actor") -> dict[str, Any]:
    """The envelope's fields as a named headers schema (generators make a model of it)."""
    return {
        "type": "object",
        "title": f"{name}Envelope",
        "description": WIRE,
        "properties": {
            "version": {"const": 1, "description": "wire version"},
            "sender": {"type": "string", "description": sender},
            "seq": {
                "type": "integer",
                "minimum": 1,
                "description": "per-sender, per-topic sequence",
            },
            "timestamp_ns": {"type": "integer", "description": "send time, ns since the epoch"},
            "traceparent": {
                "type": ["string", "null"],
                "description": "W3C traceparent when sampled",
            },
        },
        "required": ["version", "sender", "seq", "timestamp_ns"],
        "x-enlil-wire": ["version", "sender", "seq", "timestamp_ns", "traceparent", "payload"],
    }


def titled(schema: dict[str, Any], name: str, description: str) -> dict[str, Any]:
    """*schema* with a title (generated models are named after it) and a description; a
    reference to a named schema (a record type) is left as it is: its models are named
    after the type."""
    if "$ref" in schema:
        return schema
    return {**schema, "title": name, "description": description}
