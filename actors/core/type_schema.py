"""JSON Schema of declared types, with one named schema per record and enum (pure core).

Every tool that describes a site's messages (the AsyncAPI document, MCAP schemas, the
Foxglove bridge's channels) asks a :class:`Schemas` for the schema of a declared
type. Scalars and containers are written inline; a record or an enum is written once,
under its class name, in the book's definitions, and referred to by ``$ref`` (the
definitions go under ``$defs`` in a standalone schema, under
``components/schemas`` in AsyncAPI). Generators name their models after these names,
and each field carries its doc as ``description`` and its unit as ``x-unit``.

The schema describes the value as JSON tools see it (:mod:`actors.core.records`):
bytes are ``{"$base64": "..."}``, an enum is its value; a book made with ``wire=True``
describes bytes as msgpack carries them (a binary string), for AsyncAPI; one with
``bytes_form="base64"`` as Foxglove's JSON messages carry them.
"""

from __future__ import annotations

import base64
import enum
import typing
from typing import Any, Final

from actors.core.types import (
    REQUIRED,
    is_enum,
    is_record,
    is_record_value,
    optional_of,
    record_doc,
    record_fields,
    strip_meta,
    to_builtins,
)

#: Bytes as JSON records write them.
BYTES_JSON: Final = {
    "type": "object",
    "description": "bytes, base64-encoded",
    "properties": {"$base64": {"type": "string", "contentEncoding": "base64"}},
    "required": ["$base64"],
}
#: Bytes as msgpack carries them (a bin), for documents of the wire (AsyncAPI).
BYTES_WIRE: Final = {"type": "string", "format": "binary", "description": "bytes (msgpack bin)"}
#: Bytes as Foxglove's JSON messages carry them: a base64 string.
BYTES_BASE64: Final = {"type": "string", "contentEncoding": "base64"}
_BYTES_FORMS: Final[dict[str, dict[str, Any]]] = {
    "json": BYTES_JSON,
    "wire": BYTES_WIRE,
    "base64": BYTES_BASE64,
}

_SIMPLE: Final[dict[Any, dict[str, Any]]] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bytes: BYTES_JSON,
    list: {"type": "array"},
    dict: {"type": "object"},
    object: {},
}


class Schemas:
    """A book of named schemas (records and enums) and the schemas that refer to them."""

    def __init__(
        self, ref_prefix: str = "#/$defs/", *, bytes_form: str = "json", inline: bool = False
    ) -> None:
        self.ref_prefix = ref_prefix
        #: Write each record and enum where it is used rather than once by name (as
        #: Foxglove's published schemas are; a type inside itself is then left open).
        self.inline = inline
        self._inside: list[type] = []
        #: How bytes are written: ``json`` (as JSON records write them), ``wire`` (a msgpack
        #: bin, for AsyncAPI) or ``base64`` (a base64 string, as Foxglove's messages).
        self.bytes_schema = _BYTES_FORMS[bytes_form]
        #: Name -> schema of each record and enum met so far, in the order met.
        self.defs: dict[str, dict[str, Any]] = {}
        self._names: dict[type, str] = {}

    def name_of(self, tp: type) -> str:
        """The name *tp*'s schema has in this book (its class name; qualified with its
        module when another type took that name first)."""
        name = self._names.get(tp)
        if name is None:
            name = tp.__name__
            if name in self.defs or name in self._names.values():
                name = f"{tp.__module__}.{tp.__qualname__}".replace(".", "_")
            self._names[tp] = name
        return name

    def of(self, tp: Any) -> dict[str, Any]:
        """The schema of a value of *tp* (a ``$ref`` for a record or an enum)."""
        tp = strip_meta(tp)
        if tp is bytes or tp is memoryview:
            return dict(self.bytes_schema)
        if tp in _SIMPLE:
            return dict(_SIMPLE[tp])
        if (is_record(tp) or is_enum(tp)) and self.inline:
            if tp in self._inside:
                return {}
            self._inside.append(tp)
            try:
                # A type of Foxglove's library is titled as Foxglove titles it.
                name = str(getattr(tp, "FOXGLOVE", "")) or self.name_of(tp)
                return self._record(tp, name) if is_record(tp) else self._enum(tp, name)
            finally:
                self._inside.pop()
        if is_record(tp) or is_enum(tp):
            name = self.name_of(tp)
            if name not in self.defs:
                self.defs[name] = {}  # taken before the fields: a record may refer to itself
                self.defs[name] = self._record(tp, name) if is_record(tp) else self._enum(tp, name)
            return {"$ref": self.ref_prefix + name}
        inner = optional_of(tp)
        if inner is not None:
            return {"anyOf": [self.of(inner), {"type": "null"}]}
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is list:
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of(args[1])}
        if origin is tuple:
            items = [self.of(a) for a in args]
            size = {"minItems": len(args), "maxItems": len(args)}
            if all(item == items[0] for item in items):
                return {"type": "array", "items": items[0], **size}
            return {"type": "array", "prefixItems": items, **size}
        return {}

    def _record(self, tp: type, name: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required = []
        for item in record_fields(tp):
            prop = {**self.of(item.type), "description": item.doc}
            if item.unit:
                prop["x-unit"] = item.unit
            if item.required:
                required.append(item.name)
            elif item.default is not REQUIRED:
                default = _json_default(item.default)
                if default is not _NO_JSON:
                    prop["default"] = default
            properties[item.name] = prop
        schema: dict[str, Any] = {
            "type": "object",
            "title": name,
            "description": record_doc(tp),
            "properties": properties,
        }
        if required:
            schema["required"] = required
        return schema

    @staticmethod
    def _enum(tp: type, name: str) -> dict[str, Any]:
        values = [m.value for m in typing.cast("type[enum.Enum]", tp)]
        kind = "string" if isinstance(values[0], str) else "integer"
        return {
            "type": kind,
            "title": name,
            "description": (tp.__doc__ or "").strip() or name,
            "enum": values,
        }

    def standalone(self, tp: Any, title: str | None = None) -> dict[str, Any]:
        """A schema document of its own for *tp* (its definitions under ``$defs``)."""
        schema = self.of(tp)
        if title is None and "$ref" in schema:
            # The record itself at the top, so that tools show its fields at once.
            name = schema["$ref"][len(self.ref_prefix) :]
            schema = dict(self.defs[name])
        elif title is not None:
            schema = {**schema, "title": title}
        return self.document(schema)

    def document(self, schema: dict[str, Any]) -> dict[str, Any]:
        """*schema* as a standalone 2020-12 document, with this book's definitions."""
        out = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        if self.defs:
            out["$defs"] = dict(self.defs)
        return out


_NO_JSON: Final = object()
_BYTES: Final = "$base64"


def _json_default(value: Any) -> Any:
    """A field's default as JSON (bytes as the records write them), or _NO_JSON."""
    try:
        return to_json(to_builtins(value))
    except (TypeError, ValueError):
        return _NO_JSON


def to_json(value: Any) -> Any:
    """*value* (what msgpack decoded, or a record) as JSON data."""
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if is_record_value(value):
        return to_json(to_builtins(value))
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


def json_schema(tp: Any) -> dict[str, Any]:
    """The standalone JSON Schema of a value of *tp*."""
    return Schemas().standalone(tp)
