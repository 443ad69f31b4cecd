"""Declarations: documentation is mandatory, types are checked, names are not reserved."""

from __future__ import annotations

import pytest

from actors import Actor, DeclarationError, Input, Output, Param, State
from actors.core.actor import spec_of
from actors.core.types import coerce


def test_missing_doc_names_actor_and_variable() -> None:
    """A declaration without doc= fails when the class is created."""
    with pytest.raises(DeclarationError, match=r"actor Pump, input 'pressure': doc= is missing"):

        class Pump(Actor):
            pressure = Input("pump.pressure", float)


@pytest.mark.parametrize(
    ("decl", "match"),
    [
        (lambda: Input("a.b", set, doc="x"), "not supported"),
        (lambda: Input("a..b", float, doc="x"), "empty segment"),
        (lambda: Param("hot", doc="x", type=float), "default does not match"),
        (lambda: State(1, doc="  "), "doc= is missing"),
    ],
)
def test_bad_declarations_are_rejected(decl: object, match: str) -> None:
    """Unsupported types, bad topics and mismatched defaults are load-time errors."""
    with pytest.raises(DeclarationError, match=match):
        type("Bad", (Actor,), {"var": decl()})  # type: ignore[operator]


def test_reserved_names_cannot_be_declared() -> None:
    """A declaration may not shadow the base class's hooks or context."""
    with pytest.raises(DeclarationError, match="reserved"):
        type("Bad", (Actor,), {"period": Param(1.0, doc="x")})


def test_two_inputs_on_one_topic_are_rejected() -> None:
    """Each input topic maps to one variable."""
    with pytest.raises(DeclarationError, match="already the input"):
        type("Bad", (Actor,), {"a": Input("t", float, doc="x"), "b": Input("t", float, doc="y")})


def test_spec_collects_declarations_in_order_and_inherits() -> None:
    """Subclasses inherit declarations and may add more."""

    class Base(Actor):
        """Base."""

        a = Input("in.a", float, doc="A")
        o = Output("out.o", bool, doc="O")

    class Child(Base):
        """Child."""

        s = State(0, doc="S")
        p = Param(1.5, doc="P", unit="m")

    spec = spec_of(Child)
    assert list(spec.inputs) == ["a"]
    assert list(spec.outputs) == ["o"]
    assert spec.states["s"].type is int
    assert spec.params["p"].describe()["unit"] == "m"
    assert spec.doc == "Child."


def test_coerce_is_strict_but_widens_int_to_float() -> None:
    """An int is a valid float; a bool is not an int; containers are checked deeply."""
    assert coerce(3, float) == 3.0
    assert isinstance(coerce(3, float), float)
    with pytest.raises(TypeError):
        coerce(True, int)
    with pytest.raises(TypeError):
        coerce("3", float)
    assert coerce([1, 2], list[float]) == [1.0, 2.0]
    with pytest.raises(TypeError):
        coerce([1, "x"], list[int])
    assert coerce({"a": 1}, dict[str, int]) == {"a": 1}
    assert coerce(object(), object) is not None
