"""Control from inside the site, with real processes: an actor starts, stops, restarts and
asks about others through its context, within the rights site.toml gives it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import zmq
from secured import events, raw_link

from actors.core.access import ACTOR
from actors.core.calls import request_payload
from actors.core.wire import encode_envelope
from actors.keys import Identity, KeyFolder
from actors.testing import Mesh, MeshFactory

pytestmark = pytest.mark.slow

SITE: dict[str, Any] = {
    "supervisor": {"max_restarts": 50},
    "actors": {
        "ticker": {"class": "mesh_actors:Ticker"},
        "doubler": {"class": "mesh_actors:Doubler", "autostart": False},
        "starter": {"class": "mesh_actors:StartCrasher", "autostart": False},
        "other": {"class": "mesh_actors:Ticker"},
        "late": {"class": "mesh_actors:Ticker", "autostart": False, "after": ["doubler"]},
        "warden": {
            "class": "mesh_actors:Warden",
            "control": {
                "start": ["doubler", "starter", "late"],
                "stop": ["ticker", "doubler", "starter"],
                "restart": ["doubler"],
                "status": ["*"],
            },
        },
        "bystander": {"class": "mesh_actors:Warden", "topics": {"order": "bystander.do"}},
    },
}


def ask(site: Mesh, op: str, actor: str, by: str = "warden", **more: Any) -> dict[str, Any]:
    """Have *by* ask the supervisor *op* on *actor*; return what it published."""
    cursor = site.mark()
    topic = "warden.do" if by == "warden" else f"{by}.do"
    site.publish(topic, {"op": op, "actor": actor, **more})
    result = site.wait_for("warden.done", lambda p: p["actor"] == actor, 30, after=cursor)
    payload: dict[str, Any] = result.envelope.payload
    return payload


def test_an_actor_stops_starts_and_restarts_others_and_sees_the_result(
    mesh: MeshFactory,
) -> None:
    """The warden stops the ticker, starts the doubler (which does not start with the site)
    and restarts it: each answer is the actor's status once it got there, the supervisor's
    status agrees, and each action is an event naming the warden."""
    site = mesh.start(SITE)
    assert site.actor("doubler")["state"] == "stopped"  # autostart = false
    cursor = site.mark()
    stopped = ask(site, "stop", "ticker")
    assert stopped["ok"], stopped
    assert stopped["status"]["state"] == "stopped"
    assert site.actor("ticker")["state"] == "stopped"
    event = site.wait_for("$sys.event", lambda p: p.get("event") == "control", after=cursor)
    assert event.envelope.payload == {
        "event": "control",
        "actor": "ticker",
        "kind": "actor",
        "op": "stop",
        "by": "warden",
    }
    started = ask(site, "start", "doubler")
    assert started["ok"], started
    assert started["status"]["state"] == "running"
    assert started["status"]["after"] == []
    pid = started["status"]["pid"]
    assert site.pid("doubler") == pid
    cursor = site.mark()
    site.publish("numbers.in", 4.0)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 8.0
    restarted = ask(site, "restart", "doubler")
    assert restarted["ok"], restarted
    assert restarted["status"]["pid"] not in (None, pid)
    status = ask(site, "status", "ticker")
    assert status == {"ok": True, "actor": "ticker", "status": status["status"]}
    assert status["status"]["state"] == "stopped"


def test_an_actor_without_the_right_is_forbidden(mesh: MeshFactory) -> None:
    """The warden may not stop 'other' (the supervisor refuses, with an event naming it);
    the bystander has no control rights at all (its own process refuses); neither changes
    anything."""
    site = mesh.start(SITE)
    cursor = site.mark()
    refused = ask(site, "stop", "other")
    assert refused["ok"] is False
    assert refused["kind"] == "forbidden"
    assert "actors.warden.control" in refused["message"]
    event = site.wait_for("$sys.event", lambda p: p.get("event") == "forbidden", after=cursor)
    assert event.envelope.payload["identity"] == "actor:warden"
    assert event.envelope.payload["actor"] == "other"
    assert event.envelope.payload["op"] == "stop"
    none = ask(site, "stop", "ticker", by="bystander")
    assert none["ok"] is False
    assert none["kind"] == "forbidden"
    assert "control = [...]" in none["message"]
    unknown = ask(site, "status", "ghost")
    assert (unknown["ok"], unknown["kind"]) == (False, "rejected")
    assert "no actor 'ghost'" in unknown["message"]
    assert site.actor("other")["state"] == "running"
    assert site.actor("ticker")["state"] == "running"


def test_a_start_that_fails_is_reported_at_the_first_crash(mesh: MeshFactory) -> None:
    """Starting an actor that raises in on_start answers ``failed`` at its first exit (not
    after its restarts run out); stopping it then leaves it stopped."""
    site = mesh.start(SITE)
    failed = ask(site, "start", "starter")
    assert failed["ok"] is False
    assert failed["kind"] == "failed"
    assert "exited before it was ready" in failed["message"]
    stopped = ask(site, "stop", "starter")
    assert stopped["ok"], stopped
    assert site.actor("starter")["state"] == "stopped"


def test_on_a_checked_site_only_the_actor_with_the_right_reaches_the_supervisor(
    mesh: MeshFactory,
) -> None:
    """With CURVE and the broker's checks: the warden's control calls go through; a request
    sent with the bystander's own key, as itself or in the warden's name, is dropped by the
    broker (``denied``) and never reaches the supervisor: the ticker keeps running."""
    secured = {
        **SITE,
        "security": {"curve": True},
        "actors": {k: v for k, v in SITE["actors"].items() if k != "other"},
    }
    site = mesh.start(secured)
    assert site.site.checked
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        bystander = KeyFolder(site.site.security.keys).client(Identity(ACTOR, "bystander"))
        pub = raw_link(ctx, site, bystander)
        cursor = site.mark()
        deadline = (time.time() + 30) * 1e9
        for sender in ("bystander", "warden"):
            request = request_payload(1, int(deadline), 1, None, {"op": "stop", "actor": "ticker"})
            pub.send_multipart(
                [b"$svc.supervisor.control", encode_envelope(sender, 1, time.time_ns(), request)]
            )
        reports = events(site, cursor, "denied", 2)
        assert {r["identity"] for r in reports} == {"actor:bystander"}
        assert {r["reason"] for r in reports} == {"not allowed to publish this topic"}
        assert {r["topic"] for r in reports} == {"$svc.supervisor.control"}
        assert site.actor("ticker")["state"] == "running"
        stopped = ask(site, "stop", "ticker")
        assert stopped["ok"], stopped
        assert site.actor("ticker")["state"] == "stopped"
    finally:
        ctx.destroy(linger=0)


def test_refused_requests_do_not_use_up_the_askers_budget(mesh: MeshFactory) -> None:
    """A start refused at once (the actor starts after one that is not running) is
    answered ``failed`` each time, well past the 32 requests an asker may have in flight:
    a refused request is not left counted as in flight."""
    site = mesh.start(SITE)
    for _ in range(40):
        refused = ask(site, "start", "late")
        assert (refused["ok"], refused["kind"]) == (False, "failed"), refused
        assert "starts after ['doubler']" in refused["message"]
    assert site.actor("late")["state"] == "stopped"
