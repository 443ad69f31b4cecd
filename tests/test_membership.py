"""Run-time membership: ctl add, ctl remove, ctl reload applying only the difference."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import tomli_w

from actors.testing import Mesh, MeshFactory
from supervisor.client import ControlError

pytestmark = pytest.mark.slow

SITE = {
    "actors": {
        "doubler": {"class": "mesh_actors:Doubler"},
        "relay": {"class": "mesh_actors:Relay"},
        "extra": {"class": "mesh_actors:Relay", "topics": {"value": "x.in", "out": "x.out"}},
        "counter": {"class": "mesh_actors:Counter"},
    }
}


def pids(site: Mesh) -> dict[str, int]:
    return {a["name"]: a["pid"] for a in site.status()["actors"]}


def edit(site: Mesh, change: Any) -> None:
    data = tomllib.loads(site.config_path.read_text())
    change(data["actors"])
    site.config_path.write_text(tomli_w.dumps(data))


def test_reload_applies_only_the_difference(mesh: MeshFactory) -> None:
    """One actor changed (swapped), one added, one removed; the rest keep their pids."""
    site = mesh.start(SITE)
    before = pids(site)
    etag = site.status()["config_etag"]

    def change(actors: dict[str, Any]) -> None:
        actors["relay"]["topics"] = {"value": "relay.in2"}  # changed: swapped in place
        del actors["extra"]  # removed
        actors["tripler"] = {"class": "mesh_actors:Doubler", "topics": {"value": "t.in"}}

    edit(site, change)
    result = site.request("reload", etag=etag)
    assert result["added"] == ["tripler"] and result["removed"] == ["extra"]
    assert result["swapped"] == ["relay"] and result["failed"] == {}
    assert sorted(result["unchanged"]) == ["counter", "doubler"]
    after = pids(site)
    assert "extra" not in after and after["tripler"]
    assert after["doubler"] == before["doubler"] and after["counter"] == before["counter"]
    assert after["broker"] == before["broker"]
    assert after["relay"] != before["relay"]
    cursor = site.publish("relay.in2", 1)  # the swapped relay reads its new topic
    assert site.wait_for("relay.out", after=cursor).envelope.payload == 2
    cursor = site.publish("t.in", 4)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 8
    # The old etag is stale now: a second operator's reload is refused.
    with pytest.raises(ControlError, match="stale"):
        site.request("reload", etag=etag)
    assert site.request("reload")["swapped"] == []  # nothing changed since


def test_add_and_remove_at_run_time(mesh: MeshFactory) -> None:
    """ctl add starts a new actor from a class and params; ctl remove stops and drops it."""
    site = mesh.start(SITE)
    before = pids(site)
    record = site.request(
        "add", name="late", **{"class": "mesh_actors:Relay"}, params={}, table=None
    )
    assert record["state"] == "running" and record["name"] == "late"
    with pytest.raises(ControlError, match="already exists"):
        site.request("add", name="late", **{"class": "mesh_actors:Relay"})
    with pytest.raises(ControlError, match="NoSuch"):
        site.request("add", name="bad", **{"class": "mesh_actors:NoSuch"})
    etag = site.actor("late")["etag"]
    record = site.request("remove", name="late", etag=etag)
    assert record["state"] == "stopped"
    assert "late" not in pids(site)
    assert {n: p for n, p in pids(site).items()} == before


def test_ctl_add_takes_what_a_site_toml_table_takes(mesh: MeshFactory) -> None:
    """--after, --period, --restart, --topics... on the command line, checked as site.toml
    checks them (ctl add took only --class and --params)."""
    from clitools import supervisor_cli

    site = mesh.start({"actors": {"doubler": {"class": "mesh_actors:Doubler"}}})
    add = ["ctl", "add", "fast", "--class", "mesh_actors:Ticker", "--after", "doubler"]
    add += ["--period", "0.02", "--restart", "transient", "--topics", '{"tick": "ticks.fast"}']
    out = supervisor_cli(*add, "--status", config=site.config_path)
    assert out.returncode == 0, out.stderr
    assert site.wait_for("ticks.fast").envelope.sender == "fast"
    added = site.request("status")["actors"][-1]
    assert added["name"] == "fast" and added["state"] == "running"
    # Bad values: the supervisor's check names the key; a non-number never leaves the CLI.
    out = supervisor_cli(
        "ctl",
        "add",
        "bad",
        "--class",
        "mesh_actors:Ticker",
        "--period",
        "nan",
        config=site.config_path,
    )
    assert out.returncode == 1 and "actors.bad.period: must be a finite number" in out.stderr
    out = supervisor_cli("ctl", "add", "bad", "--period", "often", config=site.config_path)
    assert out.returncode == 2 and "--period: 'often' is not a number" in out.stderr
    out = supervisor_cli("ctl", "stop", "doubler", "--period", "1", config=site.config_path)
    assert out.returncode == 2 and "only ctl add takes the keys of a table" in out.stderr
