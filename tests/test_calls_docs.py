"""Services and calls in check, the data dictionary, the graph and AsyncAPI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from clitools import supervisor_cli
from test_docs import diagnostics, node_tool

from actors.site import load_site
from supervisor.site import check_all

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


def write_site(tmp_path: Path, actors: dict[str, Any]) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(
        tomli_w.dumps({"site": {"name": "calls", "python_path": [str(HERE)]}, "actors": actors})
    )
    return path


def test_check_finds_calls_nobody_serves_double_servers_and_type_clashes(tmp_path: Path) -> None:
    """A call with no server, two servers of one service (not a group) and request/reply
    types that do not meet are errors naming the service and the actors; a group is fine."""
    path = write_site(
        tmp_path,
        {
            "asker": {"class": "call_actors:Asker"},
            "a": {"class": "call_actors:SetPoint"},
            "b": {"class": "call_actors:OtherSetPoint"},
            "m1": {"class": "call_actors:GroupMember"},
            "m2": {"class": "call_actors:GroupMember"},
            "user": {"class": "call_actors:PoolUser"},
        },
    )
    _, problems, findings = check_all(path)
    assert problems == []
    texts = [str(f) for f in findings if f.severity == "error"]
    assert any("service 'ghost.call'" in t and "served by no actor" in t for t in texts)
    assert any("service 'relay.set'" in t and "served by no actor" in t for t in texts)
    assert any("service 'sp.set'" in t and "several actors: a.set_setpoint, b" in t for t in texts)
    assert not any("pool.work" in t and "several" in t for t in texts)
    assert any("user.work sends str but m1.work takes int" in t for t in texts)
    assert any("m1.work replies int but user.work expects list" in t for t in texts)
    proc = supervisor_cli("check", config=path)
    assert proc.returncode == 78
    assert "ghost.call" in proc.stdout + proc.stderr


def test_check_names_the_actor_call_and_key_of_a_bad_policy(tmp_path: Path) -> None:
    """[actors.asker.calls.retried] with a bad key: check says where, and so does the
    actor at start (exit 78)."""
    path = write_site(
        tmp_path,
        {
            "asker": {
                "class": "call_actors:Asker",
                "calls": {
                    "retried": {"retry": {"attempts": 0}},
                    "sp": {"breaker": {"failure_rate": 3}},
                    "nope": {"timeout": 1},
                },
            },
            "server": {"class": "call_actors:SetPoint"},
        },
    )
    _, problems, _ = check_all(path)
    keys = {p.key: p.reason for p in problems}
    assert keys == {
        "actors.asker.calls.retried.retry.attempts": "must be a whole number of at least 1, got 0",
        "actors.asker.calls.sp.breaker.failure_rate": "must be in (0, 1], got 3",
        "actors.asker.calls.nope": "Asker declares no such Call",
    }
    proc = supervisor_cli("check", config=path)
    assert proc.returncode == 78
    assert "actors.asker.calls." in proc.stdout + proc.stderr
    one = write_site(
        tmp_path,
        {
            "asker": {"class": "call_actors:Asker", "calls": {"sp": {"retry": {"attempts": 0}}}},
            "server": {"class": "call_actors:SetPoint"},
        },
    )
    _, problems, _ = check_all(one)
    assert [(p.key, p.reason) for p in problems] == [
        ("actors.asker.calls.sp.retry.attempts", "must be a whole number of at least 1, got 0")
    ]
    assert load_site(one).actors["asker"].calls == {"sp": {"retry": {"attempts": 0}}}


def test_docs_show_services_and_asyncapi_validates_their_reply_operations(
    tmp_path: Path,
) -> None:
    """The dictionary lists services and calls, the graph draws them apart from topics, and
    AsyncAPI 3.0 has request/reply operations that the official parser accepts."""
    path = write_site(
        tmp_path,
        {
            "asker": {"class": "call_actors:Asker"},
            "server": {"class": "call_actors:SetPoint"},
            "relay": {"class": "call_actors:Relay"},
        },
    )
    out = tmp_path / "docs"
    proc = supervisor_cli("docs", "--out", str(out), config=path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((out / "dictionary.json").read_text())["variables"]
    served = next(r for r in rows if r["actor"] == "server" and r["name"] == "set_setpoint")
    assert served["kind"] == "service" and served["type"] == "dict -> float"
    assert "asker.sp" in served["consumers"] and "relay.inner" in served["consumers"]
    dot = (out / "graph.dot").read_text()
    assert '"service:sp.set" [shape=hexagon' in dot
    assert '"actor:asker" -> "service:sp.set" [style=bold' in dot
    assert "sp.set" in (out / "graph.svg").read_text()
    doc = json.loads((out / "asyncapi.json").read_text())
    call = doc["operations"]["asker_call_sp_set"]
    assert call["action"] == "send" and call["reply"]["channel"] == {
        "$ref": "#/channels/rsp_sp_set"
    }
    assert doc["operations"]["server_serve_sp_set"]["action"] == "receive"
    assert doc["channels"]["svc_sp_set"]["address"] == "$svc.sp.set"
    check = node_tool("validate_asyncapi.mjs", str(out / "asyncapi.json"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert [d for d in diagnostics(check) if d["severity"] == "error"] == []
