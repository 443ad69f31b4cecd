"""Built-in actors and topic families (prefix.* Inputs and Outputs)."""

from __future__ import annotations

import pytest

from actors import Actor, Input, Output
from actors.builtin import Status
from actors.testing import Harness, MeshFactory


def test_status_follows_events_and_heartbeats() -> None:
    """A lifecycle event or a changed heartbeat publishes that actor and the site."""
    h = Harness(Status, params={"watch": ["thermostat"]})
    out = h.feed(
        "$sys.event", {"event": "spawned", "actor": "thermostat", "pid": 7}, sender="supervisor"
    )
    assert [m.topic for m in out] == ["$sys.status.thermostat", "$sys.status.site"]
    assert out[0].envelope.payload["state"] == "starting"
    out = h.feed(
        "$sys.heartbeat.thermostat",
        {"state": "ready", "pid": 7, "uptime": 0.1, "stats": {}},
        sender="thermostat",
    )
    assert out[0].envelope.payload["state"] == "running"
    assert out[1].envelope.payload == {"processes": {"thermostat": "running"}, "all_running": True}
    # A heartbeat that changes nothing but uptime publishes nothing until the period.
    assert (
        h.feed(
            "$sys.heartbeat.thermostat",
            {"state": "running", "pid": 7, "uptime": 1.1, "stats": {}},
            sender="thermostat",
        )
        == []
    )
    # An unwatched process is tracked, and only the site's status is published for it.
    out = h.feed("$sys.heartbeat.broker", {"state": "running", "pid": 3}, sender="broker")
    assert [m.topic for m in out] == ["$sys.status.site"]
    assert "broker" in h.state["processes"]
    periodic = h.advance(2.0)
    assert {m.topic for m in periodic} == {"$sys.status.thermostat", "$sys.status.site"}


def test_families_of_topics_in_and_out() -> None:
    """An Input on 'a.*' receives every a.x; an Output on 'b.*' needs a topic of it."""

    class Fan(Actor):
        """Echoes a.<x> to b.<x>."""

        src = Input("a.*", int, doc="Any a.x")
        dst = Output("b.*", int, doc="The matching b.x")

        def step(self) -> None:
            """Echoes under the same suffix."""
            suffix = (self.enlil.topic or "").removeprefix("a.")
            self.enlil.send("dst", self.src, topic=f"b.{suffix}")

    h = Harness(Fan)
    assert [(m.topic, m.envelope.payload) for m in h.feed("a.one", 1)] == [("b.one", 1)]
    assert h.feed("a.two.deep", 2)[0].topic == "b.two.deep"
    assert h.engine.subscriptions() == ["a.*"]
    with pytest.raises(ValueError, match="needs a topic among those"):
        h.engine.send("dst", 1, topic="c.x")


@pytest.mark.slow
def test_status_actor_in_a_site_is_visible_on_sys_topics(mesh: MeshFactory) -> None:
    """tap '$sys.*' shows the status actor's publications for the site's actors."""
    site = mesh.start(
        {
            "actors": {
                "status": {"class": "actors.builtin:Status", "period": 0.2},
                "doubler": {"class": "mesh_actors:Doubler", "after": ["status"]},
            }
        }
    )
    message = site.wait_for("$sys.status.doubler", lambda p: p.get("state") == "running")
    assert message.envelope.sender == "status"
    site_status = site.wait_for("$sys.status.site", lambda p: p["all_running"])
    assert "doubler" in site_status.envelope.payload["processes"]
    cursor = site.mark()  # the status after the kill may come before the wait begins
    old = site.kill("doubler")
    site.wait_for("$sys.status.doubler", lambda p: p.get("last_event") == "exited", after=cursor)
    site.wait_restarted("doubler", old)


@pytest.mark.slow
def test_log_actor_pushes_records_onto_sys_log(mesh: MeshFactory) -> None:
    """Records at or above the level, from another process's file, arrive on $sys.log.<name>."""
    site = mesh.start(
        {
            "actors": {
                "log": {"class": "actors.builtin:Log", "params": {"level": "info"}, "period": 0.1},
                "chatty": {"class": "mesh_actors:Chatty", "after": ["log"]},
            }
        }
    )
    # The record may come before the wait begins (a test descheduled for 100 ms under
    # load): wait from the cursor taken before the publish.
    cursor = site.publish("chatty.in", 5)
    message = site.wait_for(
        "$sys.log.chatty", lambda r: r.get("event") == "got a number", after=cursor
    )
    assert message.envelope.payload["value"] == 5
    assert message.envelope.sender == "log"
