"""A fault rule's ``limit`` per process or per site: a test crash injected once in the
whole site stays one crash (not a crash loop across restarts), and actors running at the
same time share the site's count (#28 item 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actors.core.faults import FaultError, Injected, fires, parse_rule, used_of
from actors.core.wire import encode_envelope
from actors.faulty import FaultInjector, rules_of
from actors.site.parse import parse_site
from actors.testing import MeshFactory
from supervisor.children import Child
from supervisor.faults import FaultLedger

SEED = 42
CRASH = {"hop": "step", "to": "tally", "topic": "count.n", "kind": "crash", "every": 50}


def test_per_is_checked_and_kept() -> None:
    """``per`` is process or site, needs a limit, and survives the round trip."""
    with pytest.raises(FaultError, match=r"rules\[0\]\.per: is one of process, site"):
        parse_rule(0, {**CRASH, "limit": 1, "per": "host"}, "faults.rules[0]")
    with pytest.raises(FaultError, match=r"rules\[0\]\.per: says what limit counts"):
        parse_rule(0, {**CRASH, "per": "site"}, "faults.rules[0]")
    rule = parse_rule(0, {**CRASH, "limit": 1, "per": "site"}, "r")
    assert rule.describe()["per"] == "site"
    assert "per" not in parse_rule(0, {**CRASH, "limit": 1}, "r").describe()


def _site(tmp_path: Path, *rules: dict[str, Any]) -> Any:
    data = {
        "site": {"name": "limits"},
        "faults": {"seed": SEED, "rules": list(rules)},
        "actors": {"tally": {"class": "mesh_actors:Tally"}},
    }
    return parse_site(data, tmp_path / "site.toml")


def _fault_frames(rule: int, actor: str, seq: int) -> list[bytes]:
    entry = Injected(rule, "step", "crash", "count.n", "counter", seq, actor, 1.0)
    return [b"$sys.fault", encode_envelope(actor, seq, 0, entry.encode())]


def test_the_ledger_counts_a_site_limited_rule_across_actors_and_says_so(tmp_path: Path) -> None:
    """The supervisor's count of a rule limited per site is every actor's faults under it;
    a process-limited rule has none; each spawn is given the counts, and an actor told the
    same rules parses them back equal (it then only learns the counts)."""
    site = _site(tmp_path, {**CRASH, "limit": 3, "per": "site"}, {**CRASH, "limit": 3})
    ledger = FaultLedger(site)
    assert ledger.used() == {} and not ledger.spread
    for rule, actor, seq in ((0, "tally", 1), (0, "other", 2), (1, "tally", 3)):
        assert ledger.message(_fault_frames(rule, actor, seq))
    assert ledger.used() == {"0": 2}
    assert ledger.spread  # the running actors are to be told
    state = ledger.state()
    seed, rules = rules_of(state)
    assert (seed, rules) == (SEED, list(site.faults.rules))
    assert used_of(state) == {0: 2}
    child = Child("tally", "actor", ["python"], faults_used=ledger.used())
    assert child.arguments[-2:] == ["--faults-used", '{"0": 2}']
    with pytest.raises(ValueError, match=r"faults\.used"):
        used_of({"used": {"x": 1}})


def test_a_process_starts_from_the_sites_count_and_learns_the_others() -> None:
    """A new process given the site's count injects only what is left of the limit; one
    told of faults elsewhere stops when the site's total reaches it."""
    table = {"hop": "write", "to": "a", "topic": "log", "kind": "crash", "every": 1, "limit": 3}
    site_rule = parse_rule(0, {**table, "per": "site"}, "r")
    own_rule = parse_rule(0, table, "r")
    restarted = FaultInjector("a", SEED, [site_rule], started=0.0, used={0: 2})
    assert [restarted.write_fault("log") for _ in range(3)] == [True, False, False]
    process = FaultInjector("a", SEED, [own_rule], started=0.0, used={0: 2})
    assert [process.write_fault("log") for _ in range(4)] == [True, True, True, False]
    running = FaultInjector("a", SEED, [site_rule], started=0.0)
    assert running.write_fault("log")
    running.learn({0: 3})  # two more elsewhere (its own one included)
    assert not running.write_fault("log")


@pytest.mark.slow
@pytest.mark.parametrize("per", ["site", "process"])
def test_a_step_crash_limited_per_site_happens_once_not_at_every_restart(
    mesh: MeshFactory, per: str
) -> None:
    """A crash every 50th number, limit 1: per site, the restarted tally takes the next
    firing numbers without crashing (one restart in all); per process, each new process
    crashes again at the next one (the crash loop that a per-site limit prevents)."""
    rule = {**CRASH, "limit": 1, "per": per}
    firing = [
        n for n in range(1, 201) if fires(parse_rule(0, rule, "r"), SEED, "counter", "count.n", n)
    ]
    assert len(firing) == 4  # the dice: one in each 50
    site = mesh.start(
        {
            "supervisor": {"heartbeat_interval": 0.2},
            "faults": {"seed": SEED, "rules": [rule]},
            "actors": {
                "counter": {"class": "mesh_actors:Counter"},
                "tally": {"class": "mesh_actors:Tally", "after": ["counter"]},
            },
        }
    )
    old = site.pid("tally")
    site.publish("count.go", [firing[0], 1])  # up to the first firing number: one crash
    first = site.wait_restarted("tally", old)
    crash = site.control.faults()["entries"]
    assert [(e["actor"], e["seq"]) for e in crash] == [("tally", firing[0])]
    cursor = site.publish("count.go", [200, 2])  # the rest, past three more firing numbers
    if per == "process":
        again = site.wait_restarted("tally", first["pid"])
        assert again["restarts"] >= 2
        return
    site.wait_for("tally.seen", lambda p: p[0] == 200, timeout=30, after=cursor)
    record = site.actor("tally")
    assert record["restarts"] == 1 and record["pid"] == first["pid"]
    faults = site.control.faults()
    assert [(e["actor"], e["seq"]) for e in faults["entries"]] == [("tally", firing[0])]


@pytest.mark.slow
def test_actors_running_at_once_share_a_site_limit(mesh: MeshFactory) -> None:
    """Drops limited to 3 per site: the first pair's receiver takes all 3; the second
    receiver, running all along, is told and drops none of its numbers."""
    rule = {"hop": "deliver", "topic": "count.*", "kind": "drop", "every": 10}
    site = mesh.start(
        {
            "supervisor": {"heartbeat_interval": 0.2},
            "faults": {"seed": SEED, "rules": [{**rule, "limit": 3, "per": "site"}]},
            "actors": {
                "counter": {"class": "mesh_actors:Counter", "topics": {"go": "go.one"}},
                "tally": {"class": "mesh_actors:Tally", "after": ["counter"]},
                "counter2": {
                    "class": "mesh_actors:Counter",
                    "topics": {"go": "go.two", "n": "count.two"},
                },
                "tally2": {
                    "class": "mesh_actors:Tally",
                    "after": ["counter2"],
                    "topics": {"n": "count.two", "seen": "tally2.seen"},
                },
            },
        }
    )

    def dropped(status: dict[str, Any]) -> int:
        return sum(n for a in status["actors"] for n in (a.get("faults") or {}).values())

    cursor = site.publish("go.one", [100, 2])
    site.wait_for("tally.seen", lambda p: p[0] == 100, timeout=30, after=cursor)
    site.wait_status(lambda s: dropped(s) == 3, timeout=20, what="3 drops on the ledger")
    assert len(site.control.faults()["entries"]) == 3
    cursor = site.publish("go.two", [100, 2])
    seen = site.wait_for("tally2.seen", lambda p: p[0] == 100, timeout=30, after=cursor)
    assert seen.envelope.payload == [100, 100]  # every number processed: none dropped
    entries = site.control.faults()["entries"]
    assert [e["actor"] for e in entries] == ["tally"] * 3
