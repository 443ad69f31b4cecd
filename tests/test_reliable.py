"""Reliable topics with real processes: commands through injected drops reach every
consumer once and in order."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from clitools import supervisor_cli

from actors.durability import StateStore
from actors.snapshots import read_snapshot
from actors.testing import Mesh, MeshFactory, replay

pytestmark = pytest.mark.slow

COUNT = 10_000


def site(faults: list[dict[str, Any]], seed: int = 3) -> dict[str, Any]:
    return {
        "faults": {"seed": seed, "rules": faults},
        "actors": {
            "commander": {"class": "reliable_actors:Commander"},
            "a": {"class": "reliable_actors:Executor"},
            "b": {"class": "reliable_actors:Executor"},
        },
    }


def stored_state(mesh: Mesh, actor: str) -> dict[str, Any]:
    """*actor*'s stored durable values ({} before its first write)."""
    store = StateStore(mesh.site.persistence.path)
    try:
        record = store.load(actor)
    finally:
        store.close()
    values: dict[str, Any] = msgpack.unpackb(record.data) if record is not None else {}
    return values


def wait_done(mesh: Mesh, name: str, after: int) -> dict[str, Any]:
    progress: dict[str, Any] = mesh.wait_for(
        f"cmd.progress.{name}", lambda p: p["count"] >= COUNT, timeout=90, after=after
    ).envelope.payload
    return progress


#: A writer's counters once every command went out and was acknowledged (a heartbeat from
#: before the commands were sent also has nothing kept).
DONE = {"unacked": 0, "last": COUNT}

DROPS = [
    {"hop": "deliver", "kind": "drop", "probability": 0.1, "topic": "cmd.out"},
    {"hop": "publish", "kind": "drop", "probability": 0.05, "topic": "cmd.out"},
]
#: What the tests wait for: the test's own subscriber takes only these, so that the flood
#: of commands, resends and acknowledgements never fills its queue (a subscriber that
#: falls behind loses messages at its high-water mark: the last progress a consumer sends
#: was lost that way under load, and the test waited for it in vain).
WATCHED = ["cmd.progress.*", "flood.progress", "$sys.event"]


def test_every_command_once_and_in_order_through_dropped_deliveries(mesh: MeshFactory) -> None:
    """10,000 commands; 5% dropped as they are published and 10% as they are delivered:
    both consumers execute every one, once, in order; the writer keeps nothing once
    both acknowledged, and the faults it recovered from are counted."""
    started = mesh.start(site(DROPS), subscribe=WATCHED)
    cursor = started.publish("cmd.go", COUNT)
    for name in ("a", "b"):
        assert wait_done(started, name, cursor) == {
            "last": COUNT,
            "count": COUNT,
            "out_of_order": 0,
        }
    writer = started.wait_actor(
        "commander",
        lambda a: a["reliable"]["out"]["cmd.out"] == {**a["reliable"]["out"]["cmd.out"], **DONE},
        what="every command acknowledged",
    )["reliable"]["out"]["cmd.out"]
    assert writer["resent"] > 0 and writer["dead"] == 0
    assert writer["readers"] == {"a": COUNT, "b": COUNT}

    # The faults report: every drop on the reliable topic recovered, none a gap.
    def report() -> dict[tuple[str, str], Any]:
        return {(r.actor, r.counter): r for r in started.faults_report() if r.actor != "commander"}

    started.wait_until(
        lambda: all(r.verdict == "detected" for r in report().values()), 20, "all recovered"
    )
    rows = report()
    assert set(rows) == {("a", "recovered"), ("b", "recovered")}
    assert all(r.injected > 300 for r in rows.values()), rows
    assert started.actor("a")["stats"]["gaps"] == started.actor("b")["stats"]["gaps"] == 0


def flood(mesh: MeshFactory, flooder: str, drop: float = 0.0) -> Mesh:
    rule = {"hop": "deliver", "kind": "drop", "probability": drop, "topic": "flood.out"}
    started = mesh.start(
        {
            "faults": {"seed": 5, "rules": [rule] if drop else []},
            "actors": {
                "flooder": {"class": f"reliable_actors:{flooder}"},
                "slow": {"class": "reliable_actors:Slow"},
            },
        },
        subscribe=WATCHED,
    )
    return started


def test_a_full_window_blocks_the_step_until_the_reader_caught_up(mesh: MeshFactory) -> None:
    """Window 50, 500 numbers at once, a reader at ~1 ms a number: the step waits for
    room (counted), and the reader gets all 500."""
    site = flood(mesh, "Flooder")
    cursor = site.publish("flood.go", 500)
    site.wait_for("flood.progress", lambda p: p["count"] == 500, timeout=60, after=cursor)
    writer = site.wait_actor(
        "flooder", lambda a: a["reliable"].get("blocked", 0) > 0, what="the step blocked"
    )["reliable"]
    assert writer["out"]["flood.out"]["shed"] == 0


def test_a_full_window_sheds_the_oldest_and_the_reader_is_told(mesh: MeshFactory) -> None:
    """Policy drop_oldest, 20% of deliveries dropped: the writer never waits; a dropped
    number it had shed cannot be sent again, and the reader is told to skip it (lost);
    every number is taken once or counted lost, never waited for forever."""
    site = flood(mesh, "FlooderShedding", drop=0.2)
    site.publish("flood.go", 500)

    def settled(a: dict[str, Any]) -> bool:
        lost = a["reliable"].get("in", {}).get("lost", {}).get("flood.out", 0)
        return bool(a["stats"]["accepted"] + lost == 500)

    reader = site.wait_actor("slow", settled, what="every number taken or lost", timeout=60)
    writer = site.actor("flooder")["reliable"]
    lost = reader["reliable"]["in"]["lost"]["flood.out"]
    assert writer["blocked"] == 0 and 0 < lost <= writer["out"]["flood.out"]["shed"]


def test_a_full_window_raises_in_the_step_and_the_snapshot_shows_it(mesh: MeshFactory) -> None:
    site = flood(mesh, "FlooderRaising")
    old = site.pid("flooder")
    site.publish("flood.go", 500)
    site.wait_restarted("flooder", old)
    [record] = site.request("snapshots", name="flooder")
    snap = read_snapshot(Path(record["file"]))
    assert snap.exception is not None and snap.exception["type"] == "WindowFull"
    assert "flooder: reliable topic 'flood.out' has 50 messages" in snap.exception["message"]


def test_a_consumer_stopped_on_purpose_does_not_stall_the_sender(mesh: MeshFactory) -> None:
    """b is stopped: the writer stops waiting for it (the supervisor says so), a gets
    everything, and nothing stays kept for b."""
    started = mesh.start(site([]), subscribe=WATCHED)
    started.request("stop", name="b")
    cursor = started.publish("cmd.go", COUNT)
    assert wait_done(started, "a", cursor)["out_of_order"] == 0
    writer = started.wait_actor(
        "commander",
        lambda a: a["reliable"]["out"]["cmd.out"] == {**a["reliable"]["out"]["cmd.out"], **DONE},
        what="nothing kept for the stopped consumer",
    )["reliable"]["out"]["cmd.out"]
    assert writer["readers"] == {"a": COUNT}


def test_the_broker_killed_mid_stream_loses_nothing(mesh: MeshFactory) -> None:
    """SIGKILL of the broker while 10,000 commands flow through dropped deliveries: it is
    restarted, the links come back, and what died with it is sent again: both consumers
    execute every command once, in order."""
    started = mesh.start(site(DROPS), subscribe=WATCHED)
    cursor = started.publish("cmd.go", COUNT // 2)
    started.wait_for("cmd.progress.a", lambda p: p["count"] >= 500, timeout=60, after=cursor)
    started.wait_restarted("broker", started.kill("broker", signal.SIGKILL))
    started.link.wait_connected(20)
    # cmd.go is sent at most once: until the commander re-subscribed through the new
    # broker, a go of 0 (which sends nothing) is published again.
    accepted = started.actor("commander")["stats"]["accepted"]

    def heard() -> bool:
        started.publish("cmd.go", 0)
        return bool(started.actor("commander")["stats"]["accepted"] > accepted)

    started.wait_until(heard, 30, "the commander subscribed again")
    started.publish("cmd.go", COUNT // 2)
    for name in ("a", "b"):
        assert wait_done(started, name, cursor) == {
            "last": COUNT,
            "count": COUNT,
            "out_of_order": 0,
        }


def test_a_consumer_killed_halfway_gets_what_it_had_not_acknowledged(mesh: MeshFactory) -> None:
    """kill -9 of b halfway (no inbox: it restarts with a count of 0): it says HELLO and
    is sent everything it had not acknowledged, so it misses nothing (it may execute a
    few commands twice, which a durable inbox prevents); a is not disturbed."""
    started = mesh.start(site(DROPS), subscribe=WATCHED)
    cursor = started.publish("cmd.go", COUNT)
    started.wait_for("cmd.progress.b", lambda p: p["count"] >= 2000, timeout=60, after=cursor)
    started.wait_restarted("b", started.kill("b"))
    progress = wait_done(started, "a", cursor)
    assert progress["out_of_order"] == 0
    last = started.wait_for(
        "cmd.progress.b", lambda p: p["last"] == COUNT, timeout=90, after=cursor
    ).envelope.payload
    # The restarted b began from the first command it had not acknowledged: from there on,
    # every one in order (its count is since its restart).
    assert last["out_of_order"] <= 1 and last["count"] <= COUNT


def test_a_durable_consumer_killed_halfway_executes_every_command_exactly_once(
    mesh: MeshFactory,
) -> None:
    """b keeps its State and its inbox in one write: kill -9 of b twice while 10,000
    commands flow through dropped deliveries; it resumes from what it stored, is sent
    again exactly what it had not stored, and executes every command once, in order
    (its count, restored from the store, ends at 10,000)."""
    spec = site(DROPS)
    spec["persistence"] = {"interval": 0.1}
    spec["actors"]["b"]["class"] = "reliable_actors:DurableExecutor"
    started = mesh.start(spec, subscribe=WATCHED)
    cursor = started.publish("cmd.go", COUNT)
    for at in (2000, 5000):
        then = started.wait_for(
            "cmd.progress.b", lambda p, at=at: p["count"] >= at, 60, after=cursor
        ).envelope.payload
        started.wait_restarted("b", started.kill("b"))
        assert then["count"] < COUNT  # killed mid-stream
    assert wait_done(started, "b", cursor) == {"last": COUNT, "count": COUNT, "out_of_order": 0}
    assert wait_done(started, "a", cursor)["out_of_order"] == 0
    reader = started.actor("b")["reliable"]["in"]
    assert reader["lost"] == {}

    started.wait_until(
        lambda: stored_state(started, "b")["$inbox"][0][:3] == ["commander", "cmd.out", COUNT],
        20,
        "stored",
    )
    # The inbox belongs to this database: state export leaves it out.
    exported = supervisor_cli("state", "export", "-", config=started.config_path).stdout
    assert json.loads(exported)["actors"]["b"]["values"] == {
        "last": COUNT,
        "count": COUNT,
        "out_of_order": 0,
    }


KILLS = 200
TOTAL = 30_000


def test_a_durable_producer_killed_at_any_point_keeps_its_state_and_messages_together(
    mesh: MeshFactory,
) -> None:
    """200 kill -9s at random points of a durable writer that sends 20 commands every
    5 ms: after each restart its count and its messages agree. The reader (never killed)
    ends having executed exactly commands 1..count (the restored count), each once, in
    order: none was sent that the store lost (the messages leave after the write that
    stores them with the count), none the store kept was lost (the outbox is sent again;
    numbering goes on)."""
    rng = random.Random(11)
    started = mesh.start(
        {
            "persistence": {"interval": 0.5},
            "supervisor": {"max_restarts": 100_000, "backoff_initial": 0.001, "backoff_max": 0.01},
            "actors": {
                "pacer": {"class": "reliable_actors:Pacer", "period": 0.005},
                "a": {"class": "reliable_actors:Tally"},
            },
        },
        subscribe=WATCHED,
    )
    cursor = started.mark()
    kills = 0
    while kills < KILLS and stored_state(started, "pacer").get("sent", 0) < TOTAL * 0.8:
        time.sleep(rng.uniform(0.0, 0.03))  # where the kill lands: not a synchronisation
        started.wait_restarted("pacer", started.kill("pacer"))
        kills += 1
    assert kills >= KILLS // 2  # the kills landed among steps that sent
    done = started.wait_for("cmd.progress.a", lambda p: p["last"] >= TOTAL, 60, after=cursor)
    assert done.envelope.payload == {"last": TOTAL, "count": TOTAL, "out_of_order": 0}
    # A message a reader has is stored with the State of the step that sent it.
    assert stored_state(started, "pacer")["sent"] == TOTAL


def test_a_message_that_cannot_be_delivered_is_kept_announced_and_redeliverable(
    mesh: MeshFactory,
) -> None:
    """Every delivery of cmd.out dropped: each of 5 commands is sent max_deliver times,
    then given up: an undeliverable event each, a file each in the snapshot folder
    (owner-only), listed by ctl undeliverable; once the fault is cleared, ctl redeliver
    has the writer send them again as new messages, and the reader executes them in
    order; the files are gone."""
    drop_all = {"hop": "deliver", "kind": "drop", "probability": 1.0, "topic": "cmd.out"}
    started = mesh.start(
        {
            "faults": {"seed": 1, "rules": [drop_all]},
            "actors": {
                "commander": {"class": "reliable_actors:Commander"},
                "b": {"class": "reliable_actors:Tally"},
            },
        },
        subscribe=WATCHED,
    )
    cursor = started.publish("cmd.go", 5)
    started.wait_until(
        lambda: len(started.request("undeliverable", name="commander")) == 5, 60, "5 given up"
    )
    event = started.wait_for(
        "$sys.event",
        lambda p: p.get("event") == "undeliverable" and p["seq"] == 5,
        10,
        after=cursor,
    ).envelope.payload
    assert event["actor"] == "commander" and event["readers"] == ["b"] and event["sends"] == 20
    assert Path(event["file"]).stat().st_mode & 0o777 == 0o600
    kept = started.request("undeliverable", name="commander")
    assert [(k["topic"], k["seq"]) for k in kept] == [("cmd.out", s) for s in range(1, 6)]
    lost = started.wait_actor(
        "b", lambda a: a["reliable"].get("in", {}).get("lost", {}).get("cmd.out") == 5, what="lost"
    )
    assert lost["stats"]["accepted"] == 0

    started.control.fault_clear()
    again = started.mark()
    result = started.request("redeliver", name="commander")
    assert [(r["seq"], r["new_seq"]) for r in result["redelivered"]] == [
        (s, 5 + s) for s in range(1, 6)
    ]
    assert result["failed"] == [] and started.request("undeliverable") == []
    done = started.wait_for("cmd.progress.b", lambda p: p["count"] == 5, 30, after=again)
    assert done.envelope.payload == {"last": 5, "count": 5, "out_of_order": 0}


def test_a_reliable_consumers_failure_replays_the_messages_it_took(mesh: MeshFactory) -> None:
    """A reliable consumer that started mid-stream (the writer had sent 1,000 already) and
    recovered dropped messages fails on command 1,500: its snapshot replays in pytest as
    it ran: the recovered messages in the order it took them, then the failure."""
    started = mesh.start(
        {
            "faults": {"seed": 4, "rules": DROPS[:1]},
            "actors": {
                "commander": {"class": "reliable_actors:Commander"},
                "b": {"class": "reliable_actors:Fragile", "autostart": False},
            },
        },
        subscribe=WATCHED,
    )
    started.publish("cmd.go", 1000)
    started.wait_actor(
        "commander", lambda a: a["reliable"]["out"]["cmd.out"]["last"] == 1000, what="1,000 sent"
    )
    started.request("start", name="b")  # a late joiner: its stream begins after 1,000
    started.publish("cmd.go", 1000)
    started.wait_until(lambda: started.request("snapshots", name="b"), 60, "b's snapshot")
    record = started.request("snapshots", name="b")[0]
    snap = read_snapshot(Path(record["file"]))
    delivered = [e.seq for e in snap.events if e.kind == "message"]
    assert delivered == sorted(delivered) and delivered[-1] == 1_500
    dropped = {
        e["seq"] for e in started.control.faults()["entries"] if e["actor"] == "b" and e["seq"]
    }
    assert dropped & set(delivered)  # recovered messages, recorded where b took them
    with pytest.raises(RuntimeError, match="command 1500 after"):
        replay(snap)


def test_a_durable_consumer_swapped_mid_stream_executes_every_command_exactly_once(
    mesh: MeshFactory,
) -> None:
    """Three hot swaps of a durable reliable consumer while 10,000 commands flow (its
    State written every 0.5 s only): the old version stores its State and inbox as it
    hands over, so the new one's inbox agrees with the memory it is handed; every command
    executed once, in order."""
    spec = site([])
    spec["persistence"] = {"interval": 0.5}
    spec["actors"]["b"]["class"] = "reliable_actors:DurableExecutor"
    started = mesh.start(spec, subscribe=WATCHED)
    cursor = started.publish("cmd.go", COUNT)
    for at in (1000, 3000, 6000):
        started.wait_for("cmd.progress.b", lambda p, at=at: p["count"] >= at, 60, after=cursor)
        started.request("swap", name="b")
    assert wait_done(started, "b", cursor) == {"last": COUNT, "count": COUNT, "out_of_order": 0}
