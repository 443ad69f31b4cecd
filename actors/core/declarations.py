"""Declared variables of an actor: Input, Output, State, Param (pure core, no IO).

Declarations are the single source of the data dictionary, the dataflow graph,
the AsyncAPI document, the metrics and the snapshot, so each one carries a
mandatory ``doc=``. :func:`build_spec` collects and checks them when an Actor
subclass is created; a mistake is a :class:`DeclarationError` naming the actor
and the variable.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from actors.core.reliable_wire import Reliability, reliability_of
from actors.core.resilience import PolicyError, RateLimit, check_rate_limit
from actors.core.topics import TopicError, parse_pattern
from actors.core.types import (
    SCALAR_TYPES,
    check_type,
    checker,
    coerce,
    is_enum,
    is_record,
    type_name,
)


class DeclarationError(TypeError):
    """An actor class declares something invalid; the message names actor and variable."""


class _Missing:
    """Sentinel type for 'no default given'."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

#: In a declared topic, stands for the name of the actor in the site (``"{name}.rx"``).
NAME_FIELD: Final = "{name}"


class Variable:
    """Common part of every declaration: a name (set by the class), doc, unit."""

    kind: ClassVar[str] = "variable"
    name: str
    owner: str

    def __init__(self, *, doc: str | None, unit: str | None, type_: Any, default: Any) -> None:
        self.doc = doc
        self.unit = unit
        self.type = type_
        self.default = default
        self.name = ""
        self.owner = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.owner = owner.__name__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        try:
            return instance.__dict__[self.name]
        except KeyError:
            return None if self.default is MISSING else self.default

    def describe(self) -> dict[str, Any]:
        """A plain record of the declaration, for docs and tools."""
        return {
            "name": self.name,
            "kind": self.kind,
            "type": type_name(self.type),
            "unit": self.unit,
            "doc": self.doc,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.owner}.{self.name})"


class Input(Variable):
    """A value the actor consumes from *topic*. Reading it gives the latest value.

    Until a first message arrives the value is *default*; an Input without a
    default holds back ``step()`` until it has a value.
    """

    kind = "input"

    def __init__(
        self,
        topic: str,
        type: Any = object,
        *,
        doc: str | None = None,
        unit: str | None = None,
        default: Any = MISSING,
        external: bool = False,
        rate_limit: Any = None,
        reliable: bool = False,
    ) -> None:
        super().__init__(doc=doc, unit=unit, type_=type, default=default)
        self.topic = topic
        self.external = external
        #: Every message of a reliable writer once, in order per sender (acknowledged).
        self.reliable = reliable
        #: A :class:`~actors.core.resilience.RateLimit`: messages past it are shed.
        self.rate_limit = rate_limit

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError(f"{self.owner}.{self.name} is an Input and is read-only")

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "topic": self.topic,
            "required": self.default is MISSING,
            "external": self.external,
            "reliable": bool(self.reliable),
        }


#: What ``metric=`` may say: ``True`` or ``"gauge"`` (a level), ``"counter"`` (a count that
#: only grows while the process lives: Prometheus ``_total``, OTel a counter).
METRIC_KINDS: Final = ("gauge", "counter")


def metric_kind(value: Any) -> str | None:
    """The kind of metric a declaration's ``metric=`` makes (None: not a metric);
    TypeError names what it may be."""
    if value is False or value is None:
        return None
    if value is True:
        return "gauge"
    if value in METRIC_KINDS:
        return str(value)
    raise TypeError(f"metric= must be True, False, 'gauge' or 'counter', got {value!r}")


class Output(Variable):
    """A value the actor produces on *topic*. Assigning it publishes it after ``step()``."""

    kind = "output"

    def __init__(
        self,
        topic: str,
        type: Any = object,
        *,
        doc: str | None = None,
        unit: str | None = None,
        metric: bool | str = False,
        default: Any = None,
        shared: bool = False,
        retained: bool = False,
        rate_limit: Any = None,
        reliable: bool | Reliability = False,
    ) -> None:
        super().__init__(doc=doc, unit=unit, type_=type, default=default)
        self.topic = topic
        #: Kept until every expected reader acknowledged it (None: at most once).
        self.reliable = reliable  # checked by build_spec: True or a Reliability
        metric_kind(metric)
        self.metric = metric
        self.shared = shared
        self.retained = retained
        #: A :class:`~actors.core.resilience.RateLimit`: publishes past it are shed.
        self.rate_limit = rate_limit
        self.check = checker(type)

    def __set__(self, instance: Any, value: Any) -> None:
        try:
            value = self.check(value)
        except TypeError as exc:
            raise TypeError(f"{self.owner}.{self.name} (Output {self.topic!r}): {exc}") from None
        instance.__dict__[self.name] = value
        instance.__dict__["_enlil_dirty"].add(self.name)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "topic": self.topic,
            "metric": self.metric,
            "shared": self.shared,
            "retained": self.retained,
            "reliable": self.reliable is not False and self.reliable is not None,
        }


class State(Variable):
    """A value the actor keeps between steps; part of every snapshot.

    With *durable*, the value also survives a restart of the actor, of the site
    and of the machine, and a redeploy: it is written to the site's state
    database at most every ``[persistence] interval`` and at every stop, and
    read back before ``on_start`` (through ``migrate_state`` when the class's
    ``version`` changed).
    """

    kind = "state"

    def __init__(
        self,
        default: Any,
        *,
        doc: str | None = None,
        unit: str | None = None,
        metric: bool | str = False,
        type: Any = None,
        durable: bool = False,
    ) -> None:
        super().__init__(doc=doc, unit=unit, type_=type or _infer(default), default=default)
        metric_kind(metric)
        self.metric = metric
        self.durable = durable

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        values = instance.__dict__
        if self.name not in values:
            # A fresh copy per instance, so a mutable default is never shared.
            values[self.name] = copy.deepcopy(self.default)
        return values[self.name]

    # No __set__: a State is a non-data descriptor, so once its value is in the
    # instance's __dict__ (the engine puts every default there), reads and writes
    # are plain attribute accesses, as fast as for any Python object.

    def describe(self) -> dict[str, Any]:
        extra = {"durable": True} if self.durable else {}
        return {**super().describe(), "default": self.default, "metric": self.metric, **extra}


class Param(Variable):
    """A value set from the site config (``params = {...}``); read-only while running.

    *choices* (the values allowed), *minimum* and *maximum* (inclusive bounds of
    a number) and *required* (the config must give it: the default is only a
    placeholder) are checked by ``check`` and at start, with the actor, the key
    and what is allowed named. *path* marks a param that names a file, folder
    or device the actor opens or writes (relative: under the run folder): its
    value must lie where the site allows (``[security] paths``; the site's
    folder, its run folder and serial devices by default), so that a param
    given at run time (``ctl add``) cannot point the actor at any file.
    """

    kind = "param"

    def __init__(
        self,
        default: Any,
        *,
        doc: str | None = None,
        unit: str | None = None,
        type: Any = None,
        choices: Sequence[Any] | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        required: bool = False,
        path: bool = False,
    ) -> None:
        super().__init__(doc=doc, unit=unit, type_=type or _infer(default), default=default)
        self.choices = tuple(choices) if choices is not None else None
        self.minimum = minimum
        self.maximum = maximum
        self.required = required
        self.path = path
        if not required:
            problem = self.problem(default)
            if problem:
                raise DeclarationError(f"Param default {default!r}: {problem}")

    def problem(self, value: Any) -> str:
        """Why *value* is not allowed for this Param ("" when it is)."""
        if self.choices is not None and value not in self.choices:
            return f"{value!r} is not one of {', '.join(map(repr, self.choices))}"
        if self.minimum is None and self.maximum is None:
            return ""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{value!r} is not a number"
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if math.isfinite(value) and low <= value <= high:
            return ""
        if not math.isfinite(value):
            return f"must be a finite number, got {value}"
        return f"must be at {'least' if value < low else 'most'} " + (
            f"{low:g}, got {value:g}" if value < low else f"{high:g}, got {value:g}"
        )

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError(f"{self.owner}.{self.name} is a Param and is read-only")

    def describe(self) -> dict[str, Any]:
        extra = {
            k: v
            for k, v in (
                ("choices", list(self.choices) if self.choices is not None else None),
                ("minimum", self.minimum),
                ("maximum", self.maximum),
                ("required", self.required or None),
                ("path", self.path or None),
            )
            if v is not None
        }
        return {**super().describe(), "default": self.default, **extra}


def _infer(default: Any) -> Any:
    tp = type(default)
    return tp if tp in SCALAR_TYPES or is_record(tp) or is_enum(tp) else object


@dataclass(frozen=True)
class ActorSpec:
    """Everything an actor class declares, in declaration order."""

    cls_name: str
    doc: str
    inputs: dict[str, Input] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    states: dict[str, State] = field(default_factory=dict)
    params: dict[str, Param] = field(default_factory=dict)
    #: Services served (:class:`actors.core.services.Service`) and calls made
    #: (:class:`actors.core.services.Call`), by attribute name.
    services: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, Any] = field(default_factory=dict)

    def variables(self) -> list[Variable]:
        """All declarations, inputs first."""
        return [
            *self.inputs.values(),
            *self.outputs.values(),
            *self.states.values(),
            *self.params.values(),
        ]


_KINDS: Final = {Input: "inputs", Output: "outputs", State: "states", Param: "params"}


def build_spec(cls: type, reserved: frozenset[str]) -> ActorSpec:
    """Collect and check the declarations of actor class *cls* (and its bases)."""
    found: dict[str, Variable] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Variable):
                found[name] = value
            elif name in found:
                del found[name]  # a subclass replaced the declaration with a plain attribute
    spec = ActorSpec(cls_name=cls.__name__, doc=(cls.__doc__ or "").strip())
    topics: dict[str, str] = {}
    for name, var in found.items():
        where = f"actor {cls.__name__}, {var.kind} {name!r}"
        if name in reserved or name.startswith("_enlil") or name == "enlil":
            raise DeclarationError(f"{where}: the name is reserved by the Actor base class")
        if not (isinstance(var.doc, str) and var.doc.strip()):
            raise DeclarationError(f"{where}: doc= is missing (every declared variable needs one)")
        try:
            check_type(var.type)
        except TypeError as exc:
            raise DeclarationError(f"{where}: {exc}") from None
        if isinstance(var, Input | Output):
            try:
                # An exact topic or a 'prefix.*' family; '{name}' stands for the actor's name.
                parse_pattern(var.topic.replace(NAME_FIELD, "name"))
            except TopicError as exc:
                raise DeclarationError(f"{where}: {exc}") from None
        if isinstance(var, Input | Output) and var.rate_limit is not None:
            if not isinstance(var.rate_limit, RateLimit):
                raise DeclarationError(f"{where}: rate_limit must be a RateLimit(rate, ...)")
            try:
                check_rate_limit("rate_limit", var.rate_limit)
            except PolicyError as exc:
                raise DeclarationError(f"{where}: {exc}") from None
        if isinstance(var, Output):
            try:
                spec_r = reliability_of(var.reliable)
            except TypeError as exc:
                raise DeclarationError(f"{where}: {exc}") from None
            if spec_r is not None and (wrong := spec_r.problems()):
                raise DeclarationError(f"{where}: reliable: {'; '.join(wrong)}")
            var.reliable = spec_r  # type: ignore[assignment]  # None or the Reliability
        if isinstance(var, Input):
            if type(var.reliable) is not bool:
                raise DeclarationError(f"{where}: reliable= must be True or False")
            if var.topic in topics:
                raise DeclarationError(
                    f"{where}: topic {var.topic!r} is already the input {topics[var.topic]!r}"
                )
            topics[var.topic] = name
        if isinstance(var, Param | State) and var.default is not None:
            try:
                coerce(var.default, var.type)
            except TypeError as exc:
                raise DeclarationError(f"{where}: default does not match its type: {exc}") from None
        getattr(spec, _KINDS[type(var)])[name] = var
    return spec
