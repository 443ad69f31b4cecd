"""Calls between real actor processes through the broker: deadlines, fail-fast, retries,
late replies and a hot swap under a stream of calls."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest
from clitools import supervisor_cli

from actors.testing import Mesh, MeshFactory

pytestmark = pytest.mark.slow

_SERVER = {"class": "call_actors:SetPoint"}
_ASKER = {"class": "call_actors:Asker"}


def ask(site: Mesh, call: str, request: Any, ident: int, timeout: float = 40.0) -> dict[str, Any]:
    """Have the asker make *call* and return its answer."""
    cursor = site.publish("ask.in", {"call": call, "request": request, "id": ident})
    message = site.wait_for("ask.out", lambda p: p["id"] == ident, timeout=timeout, after=cursor)
    answer: dict[str, Any] = message.envelope.payload
    return answer


def test_a_call_and_its_reply_cross_processes(mesh: MeshFactory) -> None:
    """The server's handler runs in its process and its reply reaches the caller."""
    site = mesh.start({"actors": {"server": _SERVER, "asker": _ASKER}})
    answer = ask(site, "sp", {"value": 19.5}, 1)
    assert answer["ok"] and answer["value"] == 19.5
    answer = ask(site, "runs", None, 2)
    assert answer == {**answer, "ok": True, "value": 1}
    stats = site.wait_actor(
        "asker", lambda a: a["calls"].get("calls", {}).get("sp", {}).get("ok") == 1, what="calls"
    )
    assert stats["calls"]["calls"]["sp"]["service"] == "sp.set"
    served = site.wait_actor(
        "server", lambda a: a["calls"].get("services", {}).get("set_setpoint"), what="services"
    )
    assert served["topics"]["serves"] == ["sp.runs", "sp.set"]
    text = supervisor_cli("ctl", "status", config=site.config_path).stdout
    assert "call sp -> sp.set: 1 ok, 0 failed" in text
    assert "serves set_setpoint: 1 requests, 1 replied" in text


def test_no_responders_fails_at_once(mesh: MeshFactory) -> None:
    """A service no live actor serves: 'no_responders', not a 30 s timeout."""
    site = mesh.start({"actors": {"asker": _ASKER}})
    answer = ask(site, "ghost", None, 1)
    assert answer["kind"] == "no_responders"
    assert answer["elapsed"] < 15  # hang guard: the deadline is 30 s


def test_a_deadline_exceeded_is_a_timeout(mesh: MeshFactory) -> None:
    """A server slower than the call's timeout: 'timeout', and the late reply is counted."""
    site = mesh.start({"actors": {"server": _SERVER, "asker": _ASKER}})
    answer = ask(site, "once", {"value": 1.0, "sleep": 1.0}, 1)
    assert answer["kind"] == "timeout"
    site.wait_actor(
        "asker", lambda a: a["calls"].get("calls", {}).get("once", {}).get("late") == 1, what="late"
    )


def test_the_server_killed_mid_call_fails_the_call_before_its_deadline(mesh: MeshFactory) -> None:
    """SIGKILL of the server while it handles the request: 'server_gone' from the directory,
    long before the 30 s deadline."""
    site = mesh.start(
        {
            "supervisor": {"hang_timeout": 120},
            "actors": {"server": {**_SERVER, "restart": "temporary"}, "asker": _ASKER},
        }
    )
    cursor = site.publish("ask.in", {"call": "sp", "request": {"value": 2.0, "sleep": 60}, "id": 7})
    site.wait_for("sp.busy", after=cursor)  # the handler runs
    site.kill("server", signal.SIGKILL)
    message = site.wait_for("ask.out", lambda p: p["id"] == 7, timeout=40, after=cursor)
    answer = message.envelope.payload
    assert answer["kind"] == "server_gone", answer
    assert answer["elapsed"] < 15  # hang guard: the deadline is 30 s


def test_a_nested_call_inherits_the_remaining_budget(mesh: MeshFactory) -> None:
    """asker -(1 s)-> relay -(30 s)-> slow server: the relay's call ends with the asker's
    deadline, not 30 s later."""
    site = mesh.start(
        {"actors": {"server": _SERVER, "relay": {"class": "call_actors:Relay"}, "asker": _ASKER}}
    )
    cursor = site.mark()
    answer = ask(site, "relay", {"value": 3.0, "sleep": 3.0}, 1)
    assert answer["kind"] == "timeout"
    waited = site.wait_for("relay.waited", after=cursor).envelope.payload
    assert waited["kind"] == "timeout"
    assert waited["seconds"] < 2.5  # hang guard: its own timeout is 30 s, the budget 1 s


def test_a_retried_call_with_a_slow_server_runs_the_handler_once(mesh: MeshFactory) -> None:
    """Attempts time out after 0.3 s against a 1 s handler and are retried with the same
    idempotency key: the handler runs once, the later attempt gets the cached reply."""
    site = mesh.start({"actors": {"server": _SERVER, "asker": _ASKER}})
    answer = ask(site, "retried", {"value": 4.0, "sleep": 1.0}, 1)
    assert answer["ok"] and answer["value"] == 4.0
    assert ask(site, "runs", None, 2)["value"] == 1
    record = site.wait_actor(
        "server",
        lambda a: a["calls"].get("services", {}).get("set_setpoint", {}).get("cached", 0) >= 1,
        what="cached replies",
    )
    assert record["calls"]["services"]["set_setpoint"]["replied"] == 1
    asker = site.wait_actor(
        "asker",
        lambda a: a["calls"].get("calls", {}).get("retried", {}).get("ok") == 1,
        what="the asker's counters",
    )
    assert asker["calls"]["calls"]["retried"]["retries"] >= 1


def test_a_swap_of_the_server_under_a_stream_of_calls_loses_none_and_doubles_none(
    mesh: MeshFactory,
) -> None:
    """300 calls at ~100/s; the server is hot-swapped twice meanwhile: every call gets its
    reply once, and the handler ran exactly once per call across the versions."""
    site = mesh.start(
        {"actors": {"server": _SERVER, "streamer": {"class": "call_actors:Streamer"}}}
    )
    total = 300
    cursor = site.publish("stream.go", total)
    site.wait_for("stream.result", lambda p: p.get("n") == 20, after=cursor)
    for _ in range(2):
        site.request("swap", name="server")
    results = site.collect("stream.result", total, timeout=60, after=cursor)
    payloads = [m.envelope.payload for m in results]
    assert [p for p in payloads if "error" in p] == []
    assert sorted(p["n"] for p in payloads) == list(range(1, total + 1))
    handled = site.collect("sp.handled", total, timeout=30, after=cursor)
    assert sorted(m.envelope.payload for m in handled) == list(range(1, total + 1))


def test_a_tool_calls_a_service_from_outside_the_site(mesh: MeshFactory) -> None:
    """``python -m supervisor call`` prints the reply (exit 0), and an error's kind with a
    non-zero exit; ServiceClient does the same from Python."""
    from actors import NoResponders
    from supervisor.calling import ServiceClient

    site = mesh.start({"actors": {"server": _SERVER}})
    config = str(site.config_path)
    ok = subprocess.run(
        [sys.executable, "-m", "supervisor", "call", "sp.set", '{"value": 18}', "--config", config],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == 18.0
    bad = subprocess.run(
        [sys.executable, "-m", "supervisor", "call", "no.such", "--config", config],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 69
    assert "no_responders" in bad.stderr
    wrong = subprocess.run(
        [sys.executable, "-m", "supervisor", "call", "sp.set", '"warm"', "--config", config],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 2 and "rejected" in wrong.stderr
    with ServiceClient.from_site(site.site) as client:
        assert client.call("sp.runs", None, timeout=5.0) == 1
        with pytest.raises(NoResponders):
            client.call("no.such", 1)


def test_a_group_of_servers_shares_the_calls_and_each_runs_once(mesh: MeshFactory) -> None:
    """Two actors serve pool.work as a group: calls alternate between them, and each
    request is handled by exactly one."""
    site = mesh.start(
        {
            "actors": {
                "m1": {"class": "call_actors:GroupMember"},
                "m2": {"class": "call_actors:GroupMember"},
                "asker": {"class": "call_actors:PoolAsker", "after": ["m1", "m2"]},
            }
        }
    )
    cursor = site.publish("pool.count", 10)
    results = site.wait_for("pool.results", after=cursor).envelope.payload
    assert results == [2 * i for i in range(10)]

    def served(status: dict[str, Any]) -> dict[str, int]:
        return {
            a["name"]: a["calls"].get("services", {}).get("work", {}).get("replied", 0)
            for a in status["actors"]
            if a["name"] in ("m1", "m2")
        }

    status = site.wait_status(lambda s: sum(served(s).values()) == 10, what="the replies")
    assert served(status) == {"m1": 5, "m2": 5}
