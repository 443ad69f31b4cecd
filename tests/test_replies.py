"""The supervisor's typed control replies (supervisor.core.replies), alone: each record's map
is the one tools read, made at the edge by encode_result."""

from __future__ import annotations

import msgpack

from supervisor.core.protocol import decode_reply, encode_result
from supervisor.core.replies import (
    ActorAnswered,
    FaultRulesChanged,
    Reloaded,
    Rights,
    ShuttingDown,
    StateReset,
)


def test_each_fault_op_answers_what_changed_and_how_many_were_told() -> None:
    rule = {"index": 0, "hop": "deliver", "kind": "drop"}
    assert FaultRulesChanged(2, rule=rule).encode() == {"rule": rule, "told": 2}
    assert FaultRulesChanged(2, cleared=True).encode() == {"rules": [], "told": 2}
    assert FaultRulesChanged(0, paused=True).encode() == {"paused": True, "told": 0}
    assert FaultRulesChanged(0, paused=False).encode() == {"paused": False, "told": 0}


def test_a_record_becomes_its_map_only_where_the_reply_leaves() -> None:
    reply = decode_reply(encode_result(7, StateReset("pump", True)))
    assert (reply.id, reply.ok, reply.result) == (7, True, {"actor": "pump", "reset": True})
    assert decode_reply(encode_result(8, ShuttingDown())).result == {"state": "shutting_down"}
    plain = msgpack.unpackb(encode_result(9, [{"a": 1}]))  # a plain value goes as it is
    assert plain["result"] == [{"a": 1}]


def test_the_other_records_name_their_keys_once() -> None:
    assert ActorAnswered("t", {"path": "/x"}).encode() == {"actor": "t", "path": "/x"}
    assert Rights("tool:ui", "read", True, None).encode() == {
        "identity": "tool:ui",
        "role": "read",
        "checked": True,
        "rights": None,
    }
    assert Reloaded(["a"], [], ["b"], "e1", swapped=["c"], failed={"d": "why"}).encode() == {
        "added": ["a"],
        "removed": [],
        "swapped": ["c"],
        "unchanged": ["b"],
        "failed": {"d": "why"},
        "etag": "e1",
    }
