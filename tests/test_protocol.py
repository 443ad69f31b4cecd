"""The control protocol codec."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisor.core.protocol import (
    ProtocolError,
    Request,
    decode_reply,
    decode_request,
    encode_error,
    encode_request,
    encode_result,
)


def test_requests_round_trip() -> None:
    """A client's request decodes to a typed record."""
    assert decode_request(encode_request(3, "stop", name="x")) == Request(3, "stop", "x")
    assert decode_request(encode_request(4, "status")) == Request(4, "status", None)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"\xc1", "bad_request"),
        (msgpack.packb([1, 2]), "bad_request"),
        (msgpack.packb({"id": 1}), "bad_request"),
        (msgpack.packb({"id": 1, "op": "dance"}), "unknown_op"),
        (msgpack.packb({"id": 1, "op": "stop"}), "bad_request"),
        (msgpack.packb({"id": "1", "op": "status"}), "bad_request"),
    ],
)
def test_bad_requests_get_typed_errors(body: bytes, kind: str) -> None:
    """Every malformed request maps to an error kind the client can act on."""
    with pytest.raises(ProtocolError) as info:
        decode_request(body)
    assert info.value.kind == kind


@given(st.binary(max_size=200))
def test_arbitrary_request_bytes_raise_only_protocol_errors(body: bytes) -> None:
    """The control endpoint survives anything."""
    with contextlib.suppress(ProtocolError):
        decode_request(body)


def test_replies_round_trip() -> None:
    """Results and errors decode on the client side."""
    ok = decode_reply(encode_result(5, {"a": 1}))
    assert ok.ok and ok.result == {"a": 1} and ok.id == 5
    err = decode_reply(encode_error(6, "unknown_actor", "no actor 'x'"))
    assert not err.ok and err.error == "unknown_actor" and err.message == "no actor 'x'"


def test_every_op_has_a_command_module_and_every_command_an_op() -> None:
    """The control server's registry and the protocol's ops are the same list."""
    from supervisor.control import COMMANDS, DURING_SHUTDOWN
    from supervisor.core.protocol import OPS

    assert set(COMMANDS) == set(OPS)
    assert set(DURING_SHUTDOWN) <= set(OPS)
    documented = __import__("supervisor.core.protocol").core.protocol.__doc__
    for op in OPS:
        assert f"\n{op} " in documented, f"op {op!r} missing from the protocol's table"


def test_the_client_has_a_method_for_every_op() -> None:
    """ControlClient offers each op of the protocol as a method of the same name."""
    import inspect

    from supervisor.client import ControlClient
    from supervisor.core.protocol import OPS

    for op, needs in OPS.items():
        method = getattr(ControlClient, op, None)
        assert callable(method), f"ControlClient has no method {op!r}"
        params = inspect.signature(method).parameters
        for arg in needs:
            assert arg in params, f"ControlClient.{op} does not take {arg!r}"


def test_readme_lists_every_op_error_kind_and_event() -> None:
    """The control section of README names every op, error kind and event kind (the kinds
    read from the event records' types), the code raises no error kind that is not
    listed, and no part of the supervisor makes an event's map by hand."""
    import ast
    import re
    from pathlib import Path

    from supervisor.core.protocol import ERROR_KINDS, OPS
    from supervisor.core.site_events import EVENT_KINDS, EVENT_TYPES

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    section = readme[readme.index("Requests and replies are msgpack maps") :]
    section = section[: section.index("\n\n")]
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert set(OPS) <= named, set(OPS) - named
    assert set(ERROR_KINDS) <= named, set(ERROR_KINDS) - named
    assert set(EVENT_KINDS) <= named, set(EVENT_KINDS) - named
    assert {t.KIND for t in EVENT_TYPES} == set(EVENT_KINDS)
    raised, by_hand = set(), []
    for path in (root / "supervisor").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                by_hand += [
                    f"{path.name}:{node.lineno}"
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "event"
                    if isinstance(v, ast.Constant) and v.value in EVENT_KINDS
                ]
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "ProtocolError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                raised.add(node.args[0].value)
    assert raised - {"bad_reply"} <= set(ERROR_KINDS)
    assert by_hand == []


def test_event_records_make_the_maps_tools_read() -> None:
    """Pure: each record's map as it goes out on $sys.event, the child's pid in the log line
    as actor_pid, an optional field left out when None, and the breaker record holding
    the keys of the map an actor publishes."""
    import ast
    import inspect

    from actors.core import engine_calls
    from supervisor.core.site_events import Breaker, Exited, Forbidden, Ready

    ready = Ready(actor="a", kind="actor", pid=7, startup_ms=12.5)
    assert ready.payload() == {
        "event": "ready",
        "actor": "a",
        "kind": "actor",
        "pid": 7,
        "startup_ms": 12.5,
    }
    assert ready.log_fields() == {"actor": "a", "actor_pid": 7, "startup_ms": 12.5}
    exited = Exited(actor="a", kind="actor", pid=7, exit="x", code=1, signal=None, record=None)
    assert exited.payload()["signal"] is None  # always there
    assert "actor" not in Forbidden(identity="t", op="stop", reason="r").payload()
    made = next(
        node
        for node in ast.walk(ast.parse(inspect.getsource(engine_calls)))
        if isinstance(node, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value == "event" for k in node.keys)
    )
    keys = {k.value for k in made.keys if isinstance(k, ast.Constant)}
    breaker = Breaker(actor="a", kind="actor", call="c", from_="closed", to="open", why="w")
    assert keys == set(breaker.payload())
