"""Fault injection on the publish and deliver hops, with real processes: every kind, the
ledger on $sys.fault, the receivers' own detection, and the same seed giving the same
faults."""

from __future__ import annotations

from typing import Any

import pytest

from actors.core.faults import FaultError, draw, fires, parse_faults, parse_rule
from actors.site import ConfigError
from actors.site.parse import parse_site
from actors.testing import Mesh, MeshFactory, wait_gone

COUNT = 200


def site_with(rule: dict[str, Any], seed: int = 42) -> dict[str, Any]:
    return {
        "supervisor": {"heartbeat_interval": 0.2},
        "faults": {"seed": seed, "rules": [rule]},
        "actors": {
            "counter": {"class": "mesh_actors:Counter"},
            "tally": {"class": "mesh_actors:Tally", "after": ["counter"]},
        },
    }


def detectable(ledger: list[dict[str, Any]]) -> int:
    """Dropped messages a receiver can see as gaps: those between the first and the last
    that got through (a sender's first messages lost look like its start)."""
    lost = {e["seq"] for e in ledger}
    through = [seq for seq in range(1, COUNT + 1) if seq not in lost]
    return sum(1 for seq in lost if through and through[0] < seq < through[-1])


def run(site: Mesh, done: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send COUNT numbers; wait until *done(tally record, faults injected)*; return the
    tally's record and the ledger published on $sys.fault."""
    cursor = site.publish("count.go", [COUNT, 20])

    def finished(status: dict[str, Any]) -> bool:
        records = {a["name"]: a for a in status["actors"]}
        injected = sum(n for a in records.values() for n in (a.get("faults") or {}).values())
        return bool(done(records["tally"]["stats"], injected))

    status = site.wait_status(finished, timeout=60, what="the numbers accounted for")
    tally = next(a for a in status["actors"] if a["name"] == "tally")
    injected = sum(n for a in status["actors"] for n in (a.get("faults") or {}).values())
    ledger = [
        m.envelope.payload for m in site.collect("$sys.fault", injected, timeout=30, after=cursor)
    ]
    return tally, ledger


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rule", "done", "detected"),
    [
        (
            {"hop": "deliver", "to": "tally", "kind": "drop", "probability": 0.2},
            lambda s, n: s["received"] + n == COUNT,
            lambda s, ledger: s["gaps"] == detectable(ledger),
        ),
        (
            {"hop": "deliver", "topic": "count.*", "kind": "duplicate", "every": 10},
            lambda s, n: s["received"] == COUNT + n,
            lambda s, ledger: s["duplicates"] == len(ledger) == COUNT // 10,
        ),
        (
            {"hop": "deliver", "kind": "corrupt", "probability": 0.1},
            lambda s, n: s["received"] == COUNT,
            lambda s, ledger: s["malformed"] == len(ledger) > 0,
        ),
        (
            {"hop": "deliver", "kind": "delay", "every": 25, "delay": 0.05, "jitter": 0.01},
            lambda s, n: s["received"] == COUNT,
            lambda s, ledger: (
                s["accepted"] + s["duplicates"] == COUNT and len(ledger) == 8 and s["late"] >= 8
            ),
        ),
        (
            {"hop": "deliver", "kind": "reorder", "every": 20},
            lambda s, n: s["received"] == COUNT,
            lambda s, ledger: s["accepted"] + s["duplicates"] == COUNT and len(ledger) == 10,
        ),
        (
            {"hop": "deliver", "kind": "slow", "every": 50, "delay": 0.02},
            lambda s, n: s["received"] == COUNT,
            lambda s, ledger: s["accepted"] == COUNT and len(ledger) == 4,
        ),
        (
            {"hop": "publish", "from": "counter", "kind": "drop", "probability": 0.2},
            lambda s, n: s["received"] + n == COUNT,
            lambda s, ledger: s["gaps"] == detectable(ledger),
        ),
        (
            {"hop": "publish", "kind": "duplicate", "topic": "count.n", "every": 20},
            lambda s, n: s["received"] == COUNT + n,
            lambda s, ledger: s["duplicates"] == len(ledger) == COUNT // 20,
        ),
        (
            {"hop": "publish", "kind": "corrupt", "topic": "count.n", "every": 40},
            # and every fault in a heartbeat: the sender's may come after the tally's
            lambda s, n: s["received"] == COUNT and n == COUNT // 40,
            lambda s, ledger: s["malformed"] == len(ledger) == COUNT // 40,
        ),
        (
            {"hop": "publish", "kind": "delay", "topic": "count.n", "every": 50, "delay": 0.05},
            lambda s, n: s["received"] == COUNT and n == COUNT // 50,
            lambda s, ledger: s["accepted"] + s["duplicates"] == COUNT and len(ledger) == 4,
        ),
        (
            {"hop": "publish", "kind": "reorder", "topic": "count.n", "every": 50},
            lambda s, n: s["received"] == COUNT and n == COUNT // 50,
            lambda s, ledger: s["accepted"] + s["duplicates"] == COUNT and len(ledger) == 4,
        ),
    ],
    ids=lambda v: f"{v['hop']}-{v['kind']}" if isinstance(v, dict) else "",
)
def test_a_fault_is_injected_recorded_and_detected(
    mesh: MeshFactory, rule: dict[str, Any], done: Any, detected: Any
) -> None:
    """The rule's faults happen, each is on the ledger, and the receiver's counters show them."""
    site = mesh.start(site_with(rule))
    tally, ledger = run(site, done)
    assert ledger, "no fault was injected"
    assert {(e["hop"], e["kind"], e["topic"], e["sender"]) for e in ledger} == {
        (rule["hop"], rule["kind"], "count.n", "counter")
    }
    assert detected(tally["stats"], ledger), (tally["stats"], len(ledger))


@pytest.mark.slow
def test_a_partition_cuts_an_actor_off_for_its_window(mesh: MeshFactory) -> None:
    """Everything delivered to the tally in the partition's window is lost, then it heals."""
    rule = {"hop": "deliver", "to": "tally", "kind": "partition", "after": 0.0, "for": 3600.0}
    site = mesh.start(site_with(rule))
    tally, ledger = run(site, lambda s, n: n >= COUNT)
    assert tally["stats"]["accepted"] == 0 and len(ledger) >= COUNT


@pytest.mark.slow
def test_the_same_seed_gives_the_same_ledger_and_another_seed_another(mesh: MeshFactory) -> None:
    """Two runs with seed 42 inject the same faults (times aside); seed 43 others."""
    rule = {"hop": "deliver", "to": "tally", "kind": "drop", "probability": 0.3}
    ledgers = []
    for seed in (42, 42, 43):
        site = mesh.start(site_with(rule, seed))
        _, ledger = run(site, lambda s, n: s["received"] + n == COUNT)
        ledgers.append(sorted((e["rule"], e["kind"], e["sender"], e["seq"]) for e in ledger))
        site.close()
    assert ledgers[0] == ledgers[1]
    assert ledgers[0] != ledgers[2]


def test_whether_a_rule_fires_is_a_pure_function_of_seed_rule_and_message() -> None:
    """The dice: the same arguments, the same draw; every=N hits one message in N."""
    rule = parse_rule(0, {"hop": "deliver", "kind": "drop", "probability": 0.5}, "r")
    first = [fires(rule, 7, "a", "t", seq) for seq in range(1, 1001)]
    assert first == [fires(rule, 7, "a", "t", seq) for seq in range(1, 1001)]
    assert 400 < sum(first) < 600
    assert first != [fires(rule, 8, "a", "t", seq) for seq in range(1, 1001)]
    every = parse_rule(1, {"hop": "deliver", "kind": "drop", "every": 10}, "r")
    assert sum(fires(every, 7, "a", "t", seq) for seq in range(1, 1001)) == 100
    assert 0 <= draw(1, 2, "s", "t", 3) < 1


@pytest.mark.parametrize(
    ("rule", "key", "reason"),
    [
        ({"kind": "drop", "probability": 0.1}, "hop", "is required"),
        ({"hop": "nowhere", "kind": "drop"}, "hop", "is not one of"),
        ({"hop": "deliver", "kind": "explode", "probability": 1}, "kind", "is not one of"),
        ({"hop": "publish", "kind": "slow", "probability": 1, "delay": 1}, "kind", "takes"),
        ({"hop": "deliver", "kind": "drop"}, "probability", "is required"),
        ({"hop": "deliver", "kind": "drop", "probability": 2}, "probability", "[0, 1]"),
        ({"hop": "deliver", "kind": "drop", "every": 0}, "every", "at least 1"),
        ({"hop": "deliver", "kind": "delay", "every": 2}, "delay", "needs delay"),
        ({"hop": "deliver", "kind": "partition"}, "for", "needs for"),
        ({"hop": "deliver", "kind": "drop", "every": 2, "topic": "a..b"}, "topic", ""),
        ({"hop": "deliver", "kind": "drop", "every": 2, "colour": 1}, "colour", "unknown key"),
        ({"hop": "deliver", "kind": "drop", "every": 2, "after": -1}, "after", "negative"),
        ({"hop": "write", "kind": "drop", "every": 2}, "kind", "takes crash"),
        ({"hop": "control", "kind": "drop", "every": 2, "to": "a"}, "to", "no actor"),
        ({"hop": "reply", "kind": "drop", "every": 2, "topic": "a"}, "topic", "names no service"),
    ],
)
def test_a_bad_rule_names_its_key(rule: dict[str, Any], key: str, reason: str) -> None:
    """Every mistake in a rule is refused with the rule's index and the key."""
    with pytest.raises(FaultError) as info:
        parse_faults({"seed": 1, "rules": [rule]})
    assert info.value.key == f"faults.rules[0].{key}"
    assert reason in info.value.reason


def test_check_reports_every_bad_rule_and_unknown_actors(tmp_path: Any) -> None:
    """site.toml: each bad rule and each unknown actor named, all at once."""
    data = {
        "site": {"name": "f"},
        "faults": {
            "seed": "x",
            "rules": [
                {"hop": "deliver", "kind": "drop", "probability": 0.1, "to": "ghost"},
                {"hop": "deliver", "kind": "drop"},
            ],
        },
        "actors": {"a": {"class": "mesh_actors:Counter"}},
    }
    with pytest.raises(ConfigError) as info:
        parse_site(data, tmp_path / "site.toml")
    keys = {p.key for p in info.value.problems}
    assert keys == {"faults.seed", "faults.rules[0].to", "faults.rules[1].probability"}


def call_site(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "supervisor": {"heartbeat_interval": 0.2},
        "faults": {"seed": 1, "rules": [rule]},
        "actors": {
            "server": {"class": "call_actors:SetPoint"},
            "asker": {"class": "call_actors:Asker"},
        },
    }


def ask_once(site: Mesh, ident: int) -> dict[str, Any]:
    cursor = site.publish("ask.in", {"call": "once", "request": {"value": 2.0}, "id": ident})
    answer: dict[str, Any] = site.wait_for(
        "ask.out", lambda p: p["id"] == ident, after=cursor
    ).envelope.payload
    return answer


@pytest.mark.slow
def test_dropped_requests_and_replies_time_the_call_out(mesh: MeshFactory) -> None:
    """Every request to the server dropped: the call (and its resends) times out, and the
    handler never ran; every reply to the asker dropped: the handler ran, the call timed
    out all the same."""
    site = mesh.start(
        call_site({"hop": "request", "topic": "sp.*", "to": "server", "kind": "drop", "every": 1})
    )
    assert ask_once(site, 1)["kind"] == "timeout"
    status = site.wait_actor("server", lambda a: a["faults"].get("0", 0) >= 1, what="faults")
    assert status["calls"]["services"]["set_setpoint"]["requests"] == 0
    site.close()
    site = mesh.start(
        call_site({"hop": "reply", "from": "server", "to": "asker", "kind": "drop", "every": 1})
    )
    assert ask_once(site, 2)["kind"] == "timeout"
    site.wait_actor(
        "server",
        lambda a: a["calls"].get("services", {}).get("set_setpoint", {}).get("replied", 0) >= 1,
        what="the handler ran",
    )
    site.wait_actor("asker", lambda a: a["faults"].get("0", 0) >= 1, what="faults")


@pytest.mark.slow
def test_a_duplicated_request_runs_the_handler_once_and_a_corrupt_one_is_counted(
    mesh: MeshFactory,
) -> None:
    """The server drops the copy by its sequence number; a corrupted request is malformed."""
    site = mesh.start(call_site({"hop": "request", "kind": "duplicate", "every": 1}))
    assert ask_once(site, 1)["ok"]
    server = site.wait_actor(
        "server", lambda a: a["stats"].get("duplicates", 0) >= 1, what="the copy dropped"
    )
    assert server["calls"]["services"]["set_setpoint"]["replied"] == 1
    site.close()
    site = mesh.start(call_site({"hop": "request", "kind": "corrupt", "every": 1}))
    assert ask_once(site, 2)["kind"] == "timeout"
    site.wait_actor("server", lambda a: a["stats"].get("malformed", 0) >= 1, what="malformed")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rule", "call", "check"),
    [
        (
            {"hop": "request", "topic": "sp.*", "kind": "delay", "every": 1, "delay": 0.2},
            "sp",
            lambda answer, asker: answer["ok"] and answer["elapsed"] >= 0.2,
        ),
        (
            {"hop": "reply", "to": "asker", "kind": "delay", "every": 1, "delay": 0.2},
            "sp",
            lambda answer, asker: answer["ok"] and answer["elapsed"] >= 0.2,
        ),
        (
            {"hop": "reply", "to": "asker", "kind": "duplicate", "every": 1},
            "sp",
            lambda answer, asker: answer["ok"] and asker["calls"].get("stray", 0) >= 1,
        ),
        (
            {"hop": "reply", "to": "asker", "kind": "corrupt", "every": 1},
            "once",
            lambda answer, asker: answer["kind"] == "timeout" and asker["stats"]["malformed"] >= 1,
        ),
    ],
    ids=lambda v: f"{v['hop']}-{v['kind']}" if isinstance(v, dict) else "",
)
def test_delayed_requests_and_delayed_duplicated_or_corrupt_replies(
    mesh: MeshFactory, rule: dict[str, Any], call: str, check: Any
) -> None:
    """A request or reply held 0.2 s: the call still succeeds, that much later; a reply
    twice: the copy is a stray reply; a corrupt reply: malformed, the call times out.
    The report finds each where it should."""
    site = mesh.start(call_site(rule))
    cursor = site.publish("ask.in", {"call": call, "request": {"value": 2.0}, "id": 1})
    answer = site.wait_for("ask.out", lambda p: p["id"] == 1, after=cursor).envelope.payload
    asker = site.wait_actor(
        "asker", lambda a: check(answer, a), what=f"the call's outcome: {answer}"
    )
    assert check(answer, asker)
    site.wait_status(
        lambda _: (
            {(e["hop"], e["kind"]) for e in site.control.faults()["entries"]}
            == {(rule["hop"], rule["kind"])}
        ),
        what="the faults on the ledger",
    )
    if rule["kind"] == "duplicate":
        row = next(r for r in site.faults_report() if r.counter == "stray")
        assert row.actor == "asker" and row.verdict == "detected"


@pytest.mark.slow
def test_a_publish_partition_cuts_a_sender_off_for_its_window(mesh: MeshFactory) -> None:
    """Everything the counter publishes in the window is lost (the tally hears nothing)."""
    rule = {"hop": "publish", "from": "counter", "kind": "partition", "after": 0.0}
    site = mesh.start(site_with({**rule, "for": 3600.0}))
    tally, ledger = run(site, lambda s, n: n >= COUNT)
    assert tally["stats"]["received"] == 0 and len(ledger) >= COUNT
    assert {(e["hop"], e["kind"], e["actor"]) for e in ledger} == {
        ("publish", "partition", "counter")
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "exit_text"),
    [("raise", "exit code 70"), ("exit", "exit code 70"), ("kill", "killed by SIGKILL")],
)
def test_a_crash_in_the_step_is_on_the_ledger_and_restarts_the_actor(
    mesh: MeshFactory, how: str, exit_text: str
) -> None:
    """The 50th number's step crashes the tally (an exception, an exit, a SIGKILL): the
    fault is on the ledger first, the supervisor restarts the actor, and a raise leaves a
    failure snapshot that names the injected fault."""
    rule = {"hop": "step", "to": "tally", "topic": "count.n", "kind": "crash", "how": how}
    site = mesh.start(site_with({**rule, "every": 50, "limit": 1}))
    old = site.pid("tally")
    cursor = site.publish("count.go", [60, 20])
    record = site.wait_restarted("tally", old)
    assert record["last_exit"].startswith(exit_text), record["last_exit"]
    fault = site.wait_for("$sys.fault", after=cursor).envelope.payload
    assert (fault["hop"], fault["kind"], fault["actor"]) == ("step", "crash", "tally")
    assert fault["topic"] == "count.n" and fault["sender"] == "counter"
    if how == "raise":
        folder = site.site.snapshots.dir / "tally"
        snaps = list(folder.glob("*-exception.snap"))
        assert snaps
        from actors.snapshots import read_snapshot

        snap = read_snapshot(snaps[0])
        assert snap.exception is not None and "FaultInjected" in str(snap.exception)


@pytest.mark.slow
def test_a_hung_step_is_killed_and_a_delayed_step_only_slows(mesh: MeshFactory) -> None:
    """hang: the supervisor's liveness finds it and restarts it; delay: all processed."""
    hang = {"hop": "step", "to": "tally", "kind": "hang", "every": 30, "limit": 1}
    data = site_with(hang)
    data["supervisor"]["hang_timeout"] = 1.0
    site = mesh.start(data)
    old = site.pid("tally")
    site.publish("count.go", [40, 20])
    record = site.wait_restarted("tally", old)
    assert record["last_exit"].startswith("hung"), record["last_exit"]
    site.close()
    delay = {"hop": "step", "to": "tally", "kind": "delay", "every": 20, "delay": 0.02}
    site = mesh.start(site_with(delay))
    tally, ledger = run(site, lambda s, n: s["accepted"] == COUNT)
    assert len(ledger) == COUNT // 20 and tally["restarts"] == 0


@pytest.mark.slow
def test_the_report_holds_every_fault_against_what_the_site_counted(mesh: MeshFactory) -> None:
    """Drops, duplicates and corruptions delivered to the tally, duplicates published by
    the counter: `faults report` finds each in the counters that should show it, and
    exits 0; a fault no counter can show is listed as not counted."""
    from clitools import supervisor_cli

    data = site_with({"hop": "deliver", "to": "tally", "kind": "duplicate", "every": 10})
    data["faults"]["rules"] += [
        {"hop": "deliver", "to": "tally", "kind": "corrupt", "every": 25},
        {"hop": "deliver", "to": "tally", "kind": "slow", "every": 50, "delay": 0.001},
    ]
    site = mesh.start(data)
    run(site, lambda s, n: s["received"] == COUNT + 20)
    rows = {(r.actor, r.counter): r for r in site.faults_report()}
    assert rows[("tally", "duplicates")].verdict == "detected"
    assert rows[("tally", "duplicates")].injected == 20
    corrupt = rows[("tally", "malformed")]
    assert corrupt.injected == corrupt.detected > 0  # the first rule that fires wins
    assert rows[("tally", "-")].verdict == "not counted"
    proc = supervisor_cli("faults", "report", config=site.config_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "duplicates" in proc.stdout and "detected" in proc.stdout
    ledger = site.control.faults()
    assert ledger["seed"] == 42 and len(ledger["rules"]) == 3
    slow = rows[("tally", "-")].injected
    assert sum(i["count"] for i in ledger["injected"]) == 20 + corrupt.injected + slow


def test_detection_groups_faults_by_the_counter_that_should_show_them() -> None:
    """Pure: drops to an actor against its gaps (a miss named), a publish's drops against
    every subscriber's gaps, a crash against the actor's exits."""
    from supervisor.core.detection import detect, format_report

    def entry(hop: str, kind: str, actor: str, topic: str = "t", seq: int = 1) -> dict[str, Any]:
        return {"hop": hop, "kind": kind, "actor": actor, "topic": topic, "sender": "s", "seq": seq}

    faults = {
        "entries": [entry("deliver", "drop", "a", seq=n) for n in (1, 2, 3)]
        + [entry("publish", "drop", "s", topic="x.y")]
        + [entry("step", "crash", "c")]
    }
    status = {
        "actors": [
            {"name": "a", "kind": "actor", "stats": {"gaps": 1}, "topics": {"subscribed": ["x.*"]}},
            {"name": "b", "kind": "actor", "stats": {"gaps": 1}, "topics": {"subscribed": ["x.y"]}},
            {"name": "c", "kind": "actor", "stats": {}, "topics": {}},
            {"name": "s", "kind": "actor", "stats": {}, "topics": {"subscribed": ["x.*"]}},
        ],
        "counts": {"c": {"exit": 1, "restart": 1}},
    }
    rows = {(r.actor, r.counter): r for r in detect(faults, status)}
    assert rows[("a", "gaps")].injected == 4 and rows[("a", "gaps")].verdict == "missed"
    assert rows[("b", "gaps")].verdict == "detected"
    assert ("s", "gaps") not in rows  # a sender does not hear its own publish
    assert rows[("c", "exits")].verdict == "detected"
    assert "missed" in format_report(list(rows.values()))


def test_detection_of_drops_on_a_reliable_topic() -> None:
    """Pure: drops on a topic that r reads reliably count against r's recovered (once per
    message); for the at-most-once subscriber m they are unseeable (a resend reaches it
    too), while drops on a topic nobody reads reliably are gaps."""
    from supervisor.core.detection import detect

    def entry(hop: str, kind: str, actor: str, seq: int, attempt: int = 0) -> dict[str, Any]:
        return {
            "hop": hop, "kind": kind, "actor": actor, "topic": "cmd", "sender": "w",
            "seq": seq, "attempt": attempt,
        }  # fmt: skip

    faults = {
        "entries": [
            entry("publish", "drop", "w", 1),
            entry("publish", "drop", "w", 1, attempt=1),  # its resend dropped too: one loss
            entry("deliver", "drop", "r", 2),
            entry("deliver", "drop", "m", 3),
            {**entry("deliver", "drop", "m", 4), "topic": "other"},
        ]
    }
    subscribed = {"subscribed": ["cmd", "$sys.hb.cmd"]}
    status = {
        "actors": [
            {"name": "r", "kind": "actor", "stats": {"recovered": 2}, "topics": subscribed},
            {"name": "m", "kind": "actor", "stats": {"gaps": 1}, "topics": {"subscribed": ["cmd"]}},
            {"name": "w", "kind": "actor", "stats": {}, "topics": {}},
        ]
    }
    rows = {(r.actor, r.counter): r for r in detect(faults, status)}
    recovered = rows[("r", "recovered")]
    assert (recovered.injected, recovered.detected, recovered.verdict) == (2, 2, "detected")
    gaps = rows[("m", "gaps")]
    assert (gaps.injected, gaps.unseeable, gaps.detected, gaps.verdict) == (4, 3, 1, "detected")


def test_detection_knows_edges_totals_writes_spawns_and_links() -> None:
    """Pure: a loss at a stream's start and a held copy lost with its process are
    unseeable (not missed); totals over an actor's processes win over its current
    counters; a failed write, a failed spawn, an unplug each have their counter."""
    from supervisor.core.detection import counters, detect, format_report

    def entry(hop: str, kind: str, actor: str, topic: str = "t", seq: int = 1) -> dict[str, Any]:
        return {
            "rule": 0, "hop": hop, "kind": kind, "actor": actor, "topic": topic, "sender": "s",
            "seq": seq,
        }  # fmt: skip

    dup = entry("deliver", "duplicate", "a", seq=9)
    faults = {
        "entries": [
            {**entry("deliver", "drop", "a", seq=1), "edge": "start"},
            entry("deliver", "drop", "a", seq=5),
            entry("deliver", "drop", "a", seq=6),
            dup,
            {**dup, "edge": "lost"},  # a note: the copy died with the process
            entry("deliver", "delay", "a", seq=12),
            entry("write", "crash", "a", topic="log"),
            entry("write", "crash", "a", topic="snapshot"),
            entry("spawn", "crash", "supervisor", topic="b"),
            entry("link", "partition", "room", topic="rx"),
            entry("spawn", "delay", "supervisor", topic="b"),
        ]
    }
    status = {
        "actors": [
            {
                "name": "a", "kind": "actor", "stats": {"gaps": 0},
                "totals": {"gaps": 2, "late": 1, "log_lost": 3, "snapshots_failed": 1},
            },
            {"name": "b", "kind": "actor", "stats": {}},
            {"name": "room", "kind": "actor", "stats": {}, "metrics": {"reconnects": 1}},
        ],
        "counts": {"b": {"killed": 1}},
    }  # fmt: skip
    rows = {(r.actor, r.counter): r for r in detect(faults, status)}
    gaps = rows[("a", "gaps")]
    assert (gaps.injected, gaps.unseeable, gaps.detected, gaps.verdict) == (3, 1, 2, "detected")
    dups = rows[("a", "duplicates")]
    assert (dups.injected, dups.unseeable, dups.detected, dups.verdict) == (1, 1, 0, "detected")
    assert rows[("a", "late")].verdict == "detected"
    assert rows[("a", "log_lost")].verdict == rows[("a", "snapshots_failed")].verdict == "detected"
    assert rows[("b", "exits")].verdict == "detected"
    assert rows[("room", "reconnects")].verdict == "detected"
    assert rows[("supervisor", "-")].verdict == "not counted"
    assert "UNSEEABLE" in format_report(list(rows.values()))
    # What a heartbeat adds to the totals: the known counters, and the calls' resends.
    beat = {
        "stats": {"gaps": 2, "late": 0, "bogus": 5, "log_lost": 1, "received": "x"},
        "calls": {"calls": {"get": {"resent": 3}, "set": {"resent": 1}, "odd": 7}},
    }
    assert counters(beat) == {"gaps": 2, "log_lost": 1, "resent": 4}


@pytest.mark.slow
def test_the_report_accounts_for_drops_across_injected_kills(mesh: MeshFactory) -> None:
    """Drops to the tally while a step rule SIGKILLs it every 60th number: the counters
    of each killed process reach the supervisor (a last heartbeat), the totals sum them,
    losses before a new process's first number are marked unseeable, and the report
    finds every fault."""
    from supervisor.core.detection import format_report

    data = site_with({"hop": "deliver", "to": "tally", "kind": "drop", "probability": 0.1})
    data["faults"]["rules"] += [
        {"hop": "deliver", "to": "tally", "kind": "duplicate", "every": 17},
        {"hop": "deliver", "to": "tally", "kind": "delay", "every": 23, "delay": 0.05},
        {"hop": "step", "to": "tally", "kind": "crash", "how": "kill", "every": 60},
    ]
    data["actors"]["counter"]["period"] = 0.02
    site = mesh.start(data)
    site.publish("count.go", [COUNT, 1])
    site.wait_actor("tally", lambda a: a["restarts"] >= 2, timeout=60, what="two kills")
    site.control.fault_pause()
    site.publish("count.go", [COUNT * 10, 1])  # more numbers: the last losses show as gaps
    site.wait_actor(
        "tally",
        lambda a: a["state"] == "running" and a["stats"].get("received", 0) > 0,
        timeout=30,
        what="the tally's next process at work",
    )

    def accounted(_: Any) -> bool:
        return all(r.verdict == "detected" for r in site.faults_report())

    site.wait_status(accounted, timeout=30, what="every fault accounted for")
    print(format_report(site.faults_report()))
    rows = {(r.actor, r.counter): r for r in site.faults_report()}
    assert {("tally", "gaps"), ("tally", "exits")} <= set(rows)
    tally = site.actor("tally")
    assert (
        tally["totals"]["gaps"]
        >= rows[("tally", "gaps")].injected - rows[("tally", "gaps")].unseeable
    )
    assert tally["totals"]["received"] > tally["stats"]["received"]  # earlier ones count too


def test_the_harness_applies_fault_rules_on_its_fake_clock() -> None:
    """Deliveries dropped and delayed, publishes duplicated, a step crash raised: the same
    rules as site.toml's, on the harness, with the same ledger for the same seed."""
    from mesh_actors import Doubler

    from actors.faulty import FaultInjected
    from actors.testing import Harness

    rules = [
        {"hop": "deliver", "kind": "drop", "every": 4},
        {"hop": "deliver", "kind": "delay", "every": 5, "delay": 0.5},
        {"hop": "publish", "kind": "duplicate", "topic": "numbers.out", "every": 3},
    ]
    ledgers = []
    for _ in range(2):
        h = Harness(Doubler, faults={"seed": 3, "rules": rules})
        for n in range(1, 21):
            h.feed("value", float(n))
        h.advance(1.0)  # the delayed ones arrive
        ledgers.append([(i.rule, i.kind, i.seq) for i in h.faults_injected])
    assert ledgers[0] == ledgers[1]
    kinds = [kind for _, kind, _ in ledgers[0]]
    assert kinds.count("drop") == 5 and kinds.count("delay") > 0 and "duplicate" in kinds
    stats = h.statistics()
    assert stats.received == 20 - 5  # dropped ones never reached the engine
    crash = Harness(
        Doubler,
        faults={"seed": 1, "rules": [{"hop": "step", "kind": "crash", "every": 2, "how": "kill"}]},
    )
    with pytest.raises(FaultInjected):
        for n in range(1, 4):
            crash.feed("value", float(n))


@pytest.mark.slow
def test_a_snapshot_taken_under_faults_replays_without_them_unless_asked(mesh: MeshFactory) -> None:
    """A crash injected in a step leaves a snapshot that names the rules in force; its
    replay runs the actor's own code (an exported test passes), and asked to, applies the
    step's rules again and fails the same way (the CLI says so)."""
    from clitools import supervisor_cli

    from actors.faulty import FaultInjected
    from actors.snapshots import read_snapshot
    from actors.testing import replay

    rule = {"hop": "step", "to": "tally", "topic": "count.n", "kind": "crash", "every": 30}
    site = mesh.start(site_with({**rule, "limit": 1}))
    old = site.pid("tally")
    site.publish("count.go", [40, 20])
    site.wait_restarted("tally", old)
    path = next((site.site.snapshots.dir / "tally").glob("*-exception.snap"))
    snap = read_snapshot(path)
    assert snap.detail["faults"]["rules"][0]["kind"] == "crash"
    assert replay(snap).ran == len(snap.events)  # no fault: the tally's own steps pass
    with pytest.raises(FaultInjected, match="crash in the step"):
        replay(snap, faults=True)
    with pytest.raises(FaultInjected):
        replay(snap, last_only=True, faults=True)
    exported = site.site.path.parent / "crash.json"
    config = site.site.path
    assert supervisor_cli("snapshot", "export", str(path), "-o", str(exported)).returncode == 0
    plain = supervisor_cli("replay", str(exported), config=config)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "injected (FaultInjected): --faults injects it again" in plain.stdout
    again = supervisor_cli("replay", "--faults", str(exported), config=config)
    assert again.returncode == 1 and "reproduced: FaultInjected" in again.stdout, again.stdout


@pytest.mark.slow
def test_rules_added_paused_and_cleared_at_run_time(mesh: MeshFactory) -> None:
    """`ctl fault add` on a site started without rules: the running tally drops every
    other number at once; a restarted tally gets the rule too; pause stops the faults,
    clear removes the rules; `ctl fault list` shows them."""
    from clitools import supervisor_cli

    data = site_with({"hop": "deliver", "kind": "drop", "every": 1})
    del data["faults"]
    site = mesh.start(data)
    proc = supervisor_cli(
        "ctl",
        "fault",
        "add",
        "--hop",
        "deliver",
        "--to",
        "tally",
        "--kind",
        "drop",
        "--every",
        "2",
        config=site.config_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"told": 2' in proc.stdout
    _, ledger = run(site, lambda s, n: s["received"] + n == COUNT)
    assert len(ledger) == COUNT // 2
    listed = supervisor_cli("ctl", "fault", "list", config=site.config_path)
    assert '"kind": "drop"' in listed.stdout and '"paused": false' in listed.stdout
    old = site.pid("tally")
    site.wait_restarted("tally", site.kill("tally"))
    assert site.pid("tally") != old
    site.wait_actor("tally", lambda a: "0" in (a.get("faults") or {}), what="the rule told")
    site.control.fault_pause()
    site.wait_actor("tally", lambda a: not a.get("faults"), what="the rule paused")
    site.control.fault_resume()
    site.wait_actor("tally", lambda a: "0" in (a.get("faults") or {}), what="the rule again")
    site.control.fault_clear()
    assert site.control.faults()["rules"] == []
    bad = supervisor_cli(
        "ctl", "fault", "add", "--hop", "deliver", "--kind", "drop", config=site.config_path
    )
    assert bad.returncode == 1 and "rule.probability" in bad.stderr


@pytest.mark.slow
def test_the_control_hop_drops_and_delays_a_tools_requests(mesh: MeshFactory) -> None:
    """Every 'status' request dropped (the tool times out, the fault is on the ledger),
    then delayed (it is answered, later); the fault ops are never faulted."""
    import time

    from supervisor.client import ControlClient, ControlTimeout

    data = site_with({"hop": "deliver", "kind": "drop", "every": 1})
    del data["faults"]  # the mesh asks for status until the site runs: rules come after
    site = mesh.start(data)
    with ControlClient(site.site.supervisor.control_connect, timeout=1.0) as client:
        client.fault_add({"hop": "control", "topic": "status", "kind": "drop", "every": 1})
        with pytest.raises(ControlTimeout):
            client.status()
        ledger = client.faults()
        assert [(e["hop"], e["kind"], e["topic"]) for e in ledger["entries"]][-1:] == [
            ("control", "drop", "status")
        ]
        client.fault_clear()
        client.fault_add(
            {"hop": "control", "topic": "status", "kind": "delay", "every": 1, "delay": 0.3}
        )
        began = time.monotonic()
        assert client.status()["site"] == "test"
        assert time.monotonic() - began >= 0.3  # it was held, then served
        client.fault_clear()
        assert client.status()["site"] == "test"


@pytest.mark.slow
def test_the_link_hop_unplugs_corrupts_and_loses_a_serial_links_bytes(mesh: MeshFactory) -> None:
    """A link rule at run time: the serial link is unplugged (it reconnects when the window
    ends, no restart), then every other chunk read is corrupted (a byte flipped)."""
    from test_serial import sim_site, wait_reading

    site = mesh.start(sim_site())
    wait_reading(site, after=0)
    pid = site.pid("room")
    cursor = site.mark()
    site.control.fault_add({"hop": "link", "to": "room", "kind": "partition", "for": 1.0e9})
    site.wait_for("room.connected", lambda c: c is False, after=cursor)
    cursor = site.mark()
    site.control.fault_clear()
    site.wait_for("room.connected", lambda c: c is True, after=cursor)
    wait_reading(site, after=cursor)
    assert site.pid("room") == pid and site.actor("room")["restarts"] == 0
    cursor = site.mark()
    site.control.fault_add(
        {"hop": "link", "to": "room", "topic": "rx", "kind": "corrupt", "every": 2}
    )
    site.wait_for("room.rx", lambda line: "\ufffd" in line or not line.isascii(), after=cursor)

    # Every chunk read lost: nothing reaches the protocol until the rule goes.
    site.control.fault_clear()
    site.control.fault_add(
        {"hop": "link", "to": "room", "topic": "rx", "kind": "drop"} | {"every": 1}
    )

    def kinds(_: Any) -> set[tuple[str, str, str]]:
        return {(e["hop"], e["kind"], e["topic"]) for e in site.control.faults()["entries"]}

    site.wait_status(
        lambda s: (
            {("link", "partition", "rx"), ("link", "corrupt", "rx"), ("link", "drop", "rx")}
            <= kinds(s)
        ),
        what="the three faults on the supervisor's ledger",
    )
    # The ledger's entry can come before the room's next heartbeat carries its counters:
    # wait for the heartbeat, not for luck (this read once failed under load).
    lost = site.wait_actor("room", lambda a: bool(a["faults"]), what="the room's counters")
    cursor = site.mark()
    site.control.fault_clear()
    wait_reading(site, after=cursor)
    assert lost["faults"], "the drop rule counted nothing"


@pytest.mark.slow
def test_the_spawn_hop_fails_a_spawn_and_the_write_hop_a_snapshot(mesh: MeshFactory) -> None:
    """spawn: the tally's restart after a kill fails once (killed at once, restarted
    again); write: a snapshot asked of the counter fails as on a full disk (counted)."""
    site = mesh.start(site_with({"hop": "deliver", "kind": "drop", "every": 1000}))
    site.control.fault_add(
        {"hop": "spawn", "topic": "tally", "kind": "crash", "every": 1, "limit": 1}
    )
    site.control.fault_add(
        {"hop": "write", "to": "counter", "topic": "snapshot", "kind": "crash", "every": 1}
    )
    old = site.pid("tally")
    site.kill("tally")
    site.wait_status(
        lambda s: (
            next(a for a in s["actors"] if a["name"] == "tally")["restarts"] >= 2
            and next(a for a in s["actors"] if a["name"] == "tally")["state"] == "running"
        ),
        what="the failed spawn and the one after it",
    )
    assert site.pid("tally") != old
    from supervisor.client import ControlError

    with pytest.raises(ControlError):
        site.request("snapshot", name="counter")
    site.wait_actor(
        "counter", lambda a: a["stats"].get("snapshots_failed", 0) >= 1, what="a failed write"
    )
    kinds = {(e["hop"], e["kind"]) for e in site.control.faults()["entries"]}
    assert {("spawn", "crash"), ("write", "crash")} <= kinds


@pytest.mark.slow
def test_a_slow_spawn_holds_the_new_process_stopped_until_its_delay_has_passed(
    mesh: MeshFactory,
) -> None:
    """spawn delay: the tally's next process is held stopped (SIGSTOP) for the rule's
    delay, starting meanwhile, then continues and becomes ready; a stop while it is held
    still ends it (the supervisor continues it after the signal)."""
    import psutil

    site = mesh.start(site_with({"hop": "deliver", "kind": "drop", "every": 1000}))
    site.control.fault_add(
        {"hop": "spawn", "topic": "tally", "kind": "delay", "delay": 1.5, "every": 1, "limit": 2}
    )
    old = site.kill("tally")
    record = site.wait_actor(
        "tally", lambda a: a["pid"] not in (None, old), what="the tally's next process"
    )
    assert record["state"] == "starting"
    held = psutil.Process(record["pid"])
    site.wait_until(lambda: held.status() == psutil.STATUS_STOPPED, what="held stopped")
    site.wait_actor("tally", lambda a: a["state"] == "running", what="ready after the delay")
    assert site.pid("tally") == held.pid
    # The second (and last) slow spawn: stopped while held, it still goes at once.
    site.kill("tally")
    record = site.wait_actor(
        "tally", lambda a: a["pid"] not in (None, held.pid), what="the next process"
    )
    again = psutil.Process(record["pid"])
    site.wait_until(lambda: again.status() == psutil.STATUS_STOPPED, what="held again")
    site.request("stop", name="tally")
    assert site.actor("tally")["state"] == "stopped"
    assert wait_gone([again], timeout=10) == []
    kinds = [(e["hop"], e["kind"], e["topic"]) for e in site.control.faults()["entries"]]
    assert kinds.count(("spawn", "delay", "tally")) == 2


@pytest.mark.slow
def test_the_write_hop_fails_log_lines_as_on_a_full_disk(mesh: MeshFactory) -> None:
    """write topic "log": the counter's next log line fails (counted in log_lost, a
    write_failed event, on the ledger); the file is written again afterwards."""
    site = mesh.start(site_with({"hop": "deliver", "kind": "drop", "every": 1000}))
    cursor = site.mark()
    # The counter logs "fault rules changed" as these rules reach it: that line fails.
    site.control.fault_add(
        {"hop": "write", "to": "counter", "topic": "log", "kind": "crash", "every": 1, "limit": 1}
    )
    site.wait_actor("counter", lambda a: a["stats"].get("log_lost", 0) >= 1, what="a lost log line")
    site.wait_for(
        "$sys.event",
        lambda e: e.get("event") == "write_failed" and e.get("what") == "log_lost",
        after=cursor,
    )
    entries = site.control.faults()["entries"]
    assert [(e["hop"], e["kind"], e["topic"], e["actor"]) for e in entries] == [
        ("write", "crash", "log", "counter")
    ]
    log = site.site.site.run_dir / "logs" / "counter.log"
    assert "fault rules changed" not in log.read_text()

    def written() -> bool:  # a line a second after the failure gets through (not before)
        site.request("loglevel", name="counter", level="info")
        return "log levels changed" in log.read_text()

    site.wait_until(written, what="the log written again")


@pytest.mark.slow
def test_faults_are_counted_in_otel_metrics_and_on_the_prometheus_page(
    receiver: Any, mesh: MeshFactory
) -> None:
    """enlil.faults.injected over OTLP, enlil_faults_injected on /metrics, per rule."""
    import socket
    import urllib.request

    from test_metrics import last

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = site_with({"hop": "deliver", "to": "tally", "kind": "duplicate", "every": 10})
    data["telemetry"] = {
        "otlp_endpoint": receiver.endpoint,
        "metrics_interval": 0.5,
        "prometheus": f"127.0.0.1:{port}",
    }
    site = mesh.start(data)
    run(site, lambda s, n: s["received"] == COUNT + 20)
    receiver.wait_points(
        lambda p: (x := last(p, "enlil.faults.injected", rule="0")) is not None and x[4] == 20.0
    )

    def page() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    site.wait_status(
        lambda s: 'enlil_faults_injected_total{actor="tally",rule="0"} 20.0' in page(),
        what="the faults on the scrape page",
    )


def test_a_recent_fault_not_shown_yet_is_pending_not_missed() -> None:
    """Pure: a group short of its count whose newest fault came after *recent_since* is
    ``pending``; the same group with only old faults is ``missed``."""
    from supervisor.core.detection import detect, format_report

    def entry(hop: str, kind: str, actor: str, seq: int) -> dict[str, Any]:
        return {"hop": hop, "kind": kind, "actor": actor, "topic": "t", "sender": "s", "seq": seq}

    old = {**entry("deliver", "drop", "a", seq=1), "time": 100.0}
    new = {**entry("deliver", "drop", "a", seq=2), "time": 200.0}
    status = {
        "actors": [
            {"name": "a", "kind": "actor", "stats": {"gaps": 1}, "topics": {"subscribed": ["t"]}}
        ]
    }
    rows = detect({"entries": [old, new]}, status, recent_since=150.0)
    assert [r.verdict for r in rows] == ["pending"]
    assert [r.verdict for r in detect({"entries": [old, new]}, status, 250.0)] == ["missed"]
    assert "pending" in format_report(rows)


@pytest.mark.slow
def test_faults_report_on_a_live_site_never_says_missed_while_faults_flow(
    mesh: MeshFactory,
) -> None:
    """Every third tick to the counter is dropped while ticks flow: ``faults report``, run
    ten times meanwhile, waits for heartbeats newer than the faults it counts and calls a
    fault still on its way pending (exit 75) or everything detected (exit 0), never
    missed (exit 1)."""
    from clitools import supervisor_cli

    site = mesh.start(
        {
            "faults": {"rules": [{"hop": "deliver", "to": "counter", "kind": "drop", "every": 3}]},
            "actors": {
                "ticker": {"class": "mesh_actors:Ticker"},
                "counter": {"class": "mesh_actors:TickCounter", "after": ["ticker"]},
            },
        }
    )
    site.wait_for("ticks.seen", lambda n: n >= 10)
    codes = []
    for _ in range(10):
        proc = supervisor_cli("faults", "report", config=site.config_path)
        assert "missed" not in proc.stdout, proc.stdout
        codes.append(proc.returncode)
    assert set(codes) <= {0, 75}, codes
