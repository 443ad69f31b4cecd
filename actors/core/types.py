"""The types a declaration may name, and what a value of each must be (pure core, no IO).

A declared type (of an Input, Output, State, Param or a service's request and
reply) is one of:

- a scalar: ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``, ``dict`` or
  ``object`` (anything msgpack carries), or ``memoryview``: bytes that an Input takes
  without copying them (a read-only view of the received frame, for images and point
  clouds; ``bytes(view)`` copies);
- ``list[T]``, ``dict[str, T]``, ``T | None``, and ``tuple[T, T, T]`` (a fixed-size
  array: ``tuple[float, float, float]``);
- an :class:`enum.Enum` whose values are all ``str`` or all ``int`` (it travels as
  its value);
- a **record**: a dataclass or a ``msgspec.Struct`` whose fields are of these types
  (records nest). A record class has a docstring and every field a doc, and may
  have a unit: ``field(metadata={"doc": ..., "unit": ...})`` on a dataclass, or
  ``Annotated[T, msgspec.Meta(description=..., extra={"unit": ...})]`` on either.
  A record travels as a msgpack map of its fields.

Records evolve as Protobuf's and Avro's do: a reader takes a record with fields it
does not know (it ignores them) and fills the optional fields that are missing with
their defaults; a field without a default is required. :func:`coerce` turns a plain
value (what msgpack, JSON or a store gave back) into the declared type, naming the
field that does not fit (``at $.position.x``).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

#: The scalar types a declaration may name; ``object`` accepts anything msgpack carries;
#: ``memoryview`` is bytes received without a copy (a read-only view of the frame).
SCALAR_TYPES: Final[tuple[type, ...]] = (
    bool,
    int,
    float,
    str,
    bytes,
    memoryview,
    list,
    dict,
    object,
)


class _NoDefault:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a record field that has none (a required field).
REQUIRED: Final = _NoDefault()


@dataclass(frozen=True)
class RecordField:
    """One field of a record type: its name, type, doc, unit and default."""

    name: str
    type: Any
    doc: str
    unit: str | None
    #: The default (a value, or a copy of what the default factory makes); REQUIRED.
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def is_record(tp: Any) -> bool:
    """Whether *tp* is a record class (a dataclass or a msgspec Struct)."""
    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or issubclass(tp, msgspec.Struct))


def is_enum(tp: Any) -> bool:
    """Whether *tp* is an Enum class."""
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _meta(tp: Any) -> tuple[Any, str | None, str | None]:
    """``(type, doc, unit)`` of a type, unwrapping ``Annotated[T, msgspec.Meta(...)]``."""
    if typing.get_origin(tp) is not typing.Annotated:
        return tp, None, None
    base, *extras = typing.get_args(tp)
    doc = unit = None
    for extra in extras:
        if isinstance(extra, msgspec.Meta):
            doc = extra.description or doc
            unit = (extra.extra or {}).get("unit", unit)
    return base, doc, unit


def optional_of(tp: Any) -> Any:
    """T when *tp* is ``T | None`` (or ``Optional[T]``), else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(args) == 1 and len(typing.get_args(tp)) == 2:  # noqa: PLR2004 - T and None
        return args[0]
    return None


def strip_meta(tp: Any) -> Any:
    """*tp* without its ``Annotated[...]`` wrapper."""
    return _meta(tp)[0]


@functools.cache
def record_fields(tp: type) -> tuple[RecordField, ...]:
    """The fields of record class *tp*, in order; TypeError naming the class when its
    annotations cannot be resolved."""
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception as exc:  # noqa: BLE001 - any failure to resolve is the same finding
        raise TypeError(
            f"record {tp.__name__}: its annotations cannot be resolved: {exc}"
        ) from None
    out = []
    if issubclass(tp, msgspec.Struct):
        for info in msgspec.structs.fields(tp):
            base, doc, unit = _meta(hints.get(info.name, info.type))
            if info.default is not msgspec.NODEFAULT:
                default = info.default
            elif info.default_factory is not msgspec.NODEFAULT:
                default = info.default_factory()
            else:
                default = REQUIRED
            out.append(RecordField(info.name, base, doc or "", unit, default))
        return tuple(out)
    for item in dataclasses.fields(tp):  # type: ignore[arg-type]  # a dataclass here
        base, doc, unit = _meta(hints[item.name])
        doc = item.metadata.get("doc", doc)
        unit = item.metadata.get("unit", unit)
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = REQUIRED
        out.append(RecordField(item.name, base, doc or "", unit, default))
    return tuple(out)


def record_doc(tp: type) -> str:
    """The docstring of record class *tp* ("" when it has none of its own)."""
    doc = (tp.__doc__ or "").strip()
    if dataclasses.is_dataclass(tp) and doc.startswith(f"{tp.__name__}("):
        return ""  # the signature dataclasses write when a class has no docstring
    return doc


def type_name(tp: Any) -> str:
    """Readable name of a declared type (``float``, ``list[int]``, ``Pose``)."""
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    base, _, _ = _meta(tp)
    if base is not tp:
        return type_name(base)
    inner = optional_of(tp)
    if inner is not None:
        return f"{type_name(inner)} | None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, dict, tuple) and args:
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
    return str(tp).replace("typing.", "")


def check_type(tp: Any) -> None:
    """Raise TypeError unless *tp* is a type a declaration may use (records checked field by
    field, the message naming the record and field)."""
    _check(tp, set())


def _check(tp: Any, seen: set[type]) -> None:
    tp, _, _ = _meta(tp)
    if is_record(tp):
        _check_record(tp, seen)
        return
    if is_enum(tp):
        kinds = {type(m.value) for m in tp}
        if not tp.__members__ or kinds not in ({str}, {int}):
            raise TypeError(f"enum {tp.__name__}: its values must be all str or all int")
        return
    origin = typing.get_origin(tp)
    if origin is None:
        if tp not in SCALAR_TYPES:
            names = ", ".join(t.__name__ for t in SCALAR_TYPES)
            raise TypeError(
                f"type {tp!r} is not supported (use one of {names}, list[T], dict[str, T], "
                "T | None, tuple[T, T], an Enum or a record: a dataclass or msgspec Struct)"
            )
        return
    args = typing.get_args(tp)
    inner = optional_of(tp)
    if inner is not None:
        _check(inner, seen)
        return
    if origin is list and len(args) == 1:
        _check(args[0], seen)
        return
    if origin is dict and len(args) == 2 and args[0] is str:  # noqa: PLR2004 - key, value
        _check(args[1], seen)
        return
    if origin is tuple and args and Ellipsis not in args:
        for arg in args:
            _check(arg, seen)
        return
    raise TypeError(
        f"type {tp!r} is not supported (use list[T], dict[str, T], T | None or tuple[T, T])"
    )


def _check_record(tp: type, seen: set[type]) -> None:
    if tp in seen:
        return
    seen.add(tp)
    if not record_doc(tp):
        raise TypeError(f"record {tp.__name__} has no docstring (every record type needs one)")
    for item in record_fields(tp):
        where = f"record {tp.__name__}, field {item.name!r}"
        if not item.doc.strip():
            raise TypeError(
                f"{where}: no doc (field(metadata={{'doc': ...}}) on a dataclass, or "
                "Annotated[T, msgspec.Meta(description=...)])"
            )
        try:
            _check(item.type, seen)
        except TypeError as exc:
            raise TypeError(f"{where}: {exc}") from None


def is_typed(tp: Any) -> bool:
    """Whether a value of *tp* is checked and built by msgspec (it has a record, an enum
    or a fixed-size array in it) rather than by :func:`coerce`'s own rules."""
    tp, _, _ = _meta(tp)
    if is_record(tp) or is_enum(tp) or tp is memoryview:
        return True
    origin = typing.get_origin(tp)
    if origin is tuple:
        return True
    return any(is_typed(arg) for arg in typing.get_args(tp) if arg is not type(None))


def mismatch(exc: msgspec.ValidationError, slot: str = "$") -> str:
    """msgspec's message with its path written from the value (``at `$.position.x```)."""
    return str(exc).replace("`$[5]", "`$").replace("`$", f"`{slot}")


def coerce(value: Any, tp: Any) -> Any:
    """Return *value* as type *tp* (an int is accepted for a float; a record's map of fields
    becomes the record), or raise TypeError."""
    if is_typed(tp):
        base, _, _ = _meta(tp)
        if isinstance(base, type) and type(value) is base:
            return value
        if base is memoryview:
            if isinstance(value, bytes | bytearray):
                return memoryview(value).toreadonly()
            raise TypeError(f"expected memoryview (or bytes), got {type(value).__name__}")
        try:
            return msgspec.convert(value, tp, from_attributes=True)
        except msgspec.ValidationError as exc:
            raise TypeError(f"expected {type_name(tp)}: {mismatch(exc)}") from None
    tp, _, _ = _meta(tp)
    origin = typing.get_origin(tp)
    if origin is None:
        if tp is object:
            return value
        if tp is float:
            if type(value) is float:
                return value
            if type(value) is int:
                return float(value)
        elif type(value) is tp:
            return value
        raise TypeError(f"expected {type_name(tp)}, got {type(value).__name__} {value!r:.60}")
    inner = optional_of(tp)
    if inner is not None:
        return None if value is None else coerce(value, inner)
    args = typing.get_args(tp)
    if origin is list:
        if type(value) is not list:
            raise TypeError(f"expected {type_name(tp)}, got {type(value).__name__}")
        return [coerce(item, args[0]) for item in value]
    if type(value) is not dict or not all(type(k) is str for k in value):
        raise TypeError(f"expected {type_name(tp)}, got {type(value).__name__}")
    return {k: coerce(v, args[1]) for k, v in value.items()}


def checker(tp: Any) -> Callable[[Any], Any]:
    """A fast function equivalent to ``coerce(value, tp)``, for the hot path."""
    if tp is object:
        return _identity
    if tp is float:
        return _as_float
    if (typing.get_origin(tp) is None and tp in SCALAR_TYPES) or is_record(tp):

        def exact(value: Any) -> Any:
            if type(value) is tp:
                return value
            return coerce(value, tp)  # raises with the full message

        return exact
    return lambda value: coerce(value, tp)


def _identity(value: Any) -> Any:
    return value


def _as_float(value: Any) -> Any:
    if type(value) is float:
        return value
    return coerce(value, float)


def is_record_value(obj: Any) -> bool:
    """Whether *obj* is a record (dataclass or msgspec Struct instance) or an enum member."""
    return isinstance(obj, msgspec.Struct | enum.Enum) or (
        dataclasses.is_dataclass(obj) and not isinstance(obj, type)
    )


def pack_default(obj: Any) -> Any:
    """msgpack's ``default``: a record or enum inside what is packed, as builtins."""
    if is_record_value(obj):
        return to_builtins(obj)
    raise TypeError(f"can not serialize {type(obj).__name__!r} object")


def to_builtins(value: Any) -> Any:
    """A record (or enum) as what msgpack carries: the map of *every* field, the enum's
    value; bytes stay bytes.

    Every field, also those left at their defaults: msgspec leaves a decoded dataclass's
    defaults on the class (they are not in the instance), and its own ``to_builtins``
    leaves them out, which a reader of the same type fills in again but a JSON tool
    that requires them (Foxglove's schemas) would not.
    """
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, msgspec.Struct):
        return {f: to_builtins(getattr(value, f)) for f in value.__struct_fields__}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_builtins(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_builtins(v) for v in value]
    if isinstance(value, dict):
        return {k: to_builtins(v) for k, v in value.items()}
    return value


def record_types(tp: Any) -> list[type]:
    """The record and enum classes *tp* uses, each once, the outermost first."""
    out: list[type] = []
    _collect(tp, out)
    return out


def _collect(tp: Any, out: list[type]) -> None:
    tp, _, _ = _meta(tp)
    if is_record(tp) or is_enum(tp):
        if tp in out:
            return
        out.append(tp)
        if is_record(tp):
            for item in record_fields(tp):
                _collect(item.type, out)
        return
    for arg in typing.get_args(tp):
        if arg is not type(None):
            _collect(arg, out)
