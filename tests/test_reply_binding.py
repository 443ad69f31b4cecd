"""A call's reply comes only from the call's server (issue 27, item 2): correlation ids
that cannot be guessed, replies bound to a live server of the service called, and a
checked broker that lets a server reply only to the actors that call it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import zmq
from clitools import supervisor_cli
from secured import events, raw_link
from test_calls import ask

from actors.core.access import ACTOR, ActorAccess, actor_rights
from actors.core.caller import CallLine, Calls
from actors.core.calls import CallReply
from actors.core.services import Call
from actors.core.wire import encode_envelope
from actors.keys import Identity, KeyFolder
from actors.testing import MeshFactory


def _calls(directory: dict[str, tuple[str, ...]] | None) -> tuple[Calls, CallLine]:
    decl = Call("sp.set", doc="set it", timeout=5.0)
    decl.name = "sp"
    line = CallLine(decl, decl.policy, 5.0)
    sent: list[Any] = []
    calls = Calls(
        "asker",
        {"sp": line},
        monotonic=time.monotonic,
        wall_ns=time.time_ns,
        emit=lambda topic, payload, trace: sent.append(payload),
        fall_back=lambda *a: None,
        seed=1,
        log=None,
    )
    calls.directory = directory
    return calls, line


def test_a_reply_is_taken_only_from_a_server_of_the_service_called() -> None:
    """Pure: a reply with the right id from an actor that does not serve the service is
    refused and counted (in flight and after the call ended); the server's own is taken;
    ids are 63 random bits, not one more than the last; without the directory no reply is
    taken."""
    calls, line = _calls({"sp.set": ("server",), "ghost.call": ("rogue",)})
    pending, invocation = calls.start(line, 1.0, timeout=None, key=None, callback=None)
    assert invocation is not None
    rid = invocation.rid
    calls.on_reply(CallReply(rid, True, -1.0), "rogue")
    calls.on_reply(CallReply(rid, True, -1.0), "supervisor")
    assert not pending.done and calls.rejected == 2
    assert calls.last_rejected == ("supervisor", "the call to 'sp.set' went to server")
    calls.on_reply(CallReply(rid, True, 2.0), "server")
    assert pending.done and pending.value == 2.0
    calls.on_reply(CallReply(rid, True, -1.0), "rogue")  # after the end: still refused
    calls.on_reply(CallReply(rid, True, 2.0), "server")  # a copy from the server: stray
    calls.on_reply(CallReply(12345, True, 2.0), "nobody")  # an unknown id, from no server
    assert (calls.rejected, calls.stray) == (4, 1)
    ids = {calls.new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(0 < i < 2**63 for i in ids)
    _, second = calls.start(line, 1.0, timeout=None, key=None, callback=None)
    assert second is not None and second.rid not in (rid + 1, rid - 1)
    blind, blind_line = _calls(None)
    pending, invocation = blind.start(blind_line, 1.0, timeout=None, key=None, callback=None)
    assert invocation is not None
    blind.on_reply(CallReply(invocation.rid, True, 2.0), "server")
    assert not pending.done and blind.rejected == 1


def test_a_server_may_reply_only_to_its_callers() -> None:
    """Pure: on a checked site a server publishes ``$rsp.X`` only for the actors that call
    one of its services (and for tools); an actor that serves nothing, never."""
    site = {
        "server": ActorAccess(serves=("sp.set",)),
        "asker": ActorAccess(calls=("sp.set", "ghost.call")),
        "rogue": ActorAccess(serves=("ghost.call",)),
        "relay": ActorAccess(calls=("sp.set",)),
    }
    rogue = actor_rights("rogue", site["rogue"], None, site)
    assert rogue.may_publish("$rsp.asker") and rogue.may_publish("$rsp.operator")
    assert not rogue.may_publish("$rsp.relay") and not rogue.may_publish("$rsp.server")
    server = actor_rights("server", site["server"], None, site)
    assert server.may_publish("$rsp.relay") and server.may_publish("$rsp.asker")
    assert not actor_rights("relay", site["relay"], None, site).may_publish("$rsp.asker")


SITE = {
    "security": {"curve": True},  # and the broker's checks, the default with CURVE
    "actors": {
        "server": {"class": "call_actors:SetPoint"},
        "asker": {"class": "call_actors:Asker"},
        "rogue": {"class": "call_actors:Rogue"},
        "relay": {"class": "call_actors:Relay"},
    },
}


@pytest.mark.slow
def test_a_rogue_servers_forged_replies_are_all_rejected_and_counted(mesh: MeshFactory) -> None:
    """On a CURVE + checks site, with the rogue's own key and the right ids (seen on the
    wire, as an attacker with a read view would): its 10 replies to the asker's calls to
    another service are refused by the asker and counted, the real ones go through; its
    replies to an actor that does not call it are dropped by the broker and reported as
    ``denied``; its own service still answers, and a tool's call too."""
    site = mesh.start(SITE)
    cursor = site.mark()
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        rogue = raw_link(
            ctx, site, KeyFolder(site.site.security.keys).client(Identity(ACTOR, "rogue"))
        )
        for n in range(1, 11):
            before = site.publish("ask.in", {"call": "sp", "request": {"value": n}, "id": n})
            request = site.wait_for("$svc.sp.set", after=before).envelope.payload
            forged = [request[0], True, -1.0]
            for topic in (b"$rsp.asker", b"$rsp.relay"):
                rogue.send_multipart([topic, encode_envelope("rogue", n, time.time_ns(), forged)])
            answer = site.wait_for("ask.out", lambda p, n=n: p["id"] == n, after=before)
            assert answer.envelope.payload["value"] == float(n), answer.envelope.payload
    finally:
        ctx.destroy(linger=0)
    asker = site.wait_actor(
        "asker", lambda a: a["calls"].get("reply_rejected", 0) >= 10, what="10 rejected replies"
    )
    assert asker["calls"]["reply_rejected"] == 10
    assert asker["calls"]["calls"]["sp"]["ok"] == 10
    denied: list[dict[str, Any]] = []
    while len([d for d in denied if d["what"] == "publish"]) < 10 or not any(
        d["what"] == "reply" for d in denied
    ):
        denied = events(site, cursor, "denied", len(denied) + 1)
    dropped = {(d["identity"], d["topic"]) for d in denied if d["what"] == "publish"}
    assert dropped == {("actor:rogue", "$rsp.relay")}  # by the broker
    refused = [d for d in denied if d["what"] == "reply"]  # by the asker
    assert {(d["identity"], d["topic"]) for d in refused} == {("rogue", "$rsp.asker")}
    assert "refused" in refused[0]["reason"] and "went to server" in refused[0]["reason"]
    assert ask(site, "ghost", None, 11)["value"] == "ghost"  # its own callers, answered
    assert "reply rejected" in (site.site.site.run_dir / "logs" / "asker.log").read_text()
    tool = supervisor_cli("call", "sp.set", '{"value": 3}', config=site.config_path)
    assert tool.returncode == 0 and tool.stdout.strip() == "3.0", tool.stdout + tool.stderr
