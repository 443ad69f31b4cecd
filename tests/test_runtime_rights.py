"""Run-time changes keep everyone's rights (issue 27, item 6): on a checked site, each
access table is computed from the whole site as it is now. A test adds, swaps, rolls back
and reloads actors in sequence and holds every actor's rights after each step."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from test_control_inside import ask

from actors.testing import Mesh, MeshFactory
from supervisor.client import ControlError

pytestmark = pytest.mark.slow

SITE: dict[str, Any] = {
    "security": {"curve": True},
    "actors": {
        "counter": {"class": "mesh_actors:Counter"},
        "tally": {"class": "mesh_actors:Tally", "after": ["counter"]},
    },
}
WARDEN = {"class": "mesh_actors:Warden", "control": {"restart": ["counter"], "status": ["*"]}}
#: What each actor must be able to do: topics it publishes, prefixes it reads.
MUST = {
    "counter": (["count.n", "$sys.heartbeat.counter"], ["count.go"]),
    "tally": (["tally.seen"], ["count.n"]),
    "warden": (["warden.done", "$svc.supervisor.control"], ["warden.do", "$sys.services"]),
    "extra": (["ticks"], []),
    "warden2": (["warden.done", "$svc.supervisor.control"], ["warden2.do", "$sys.services"]),
}


def _rights_hold(site: Mesh, actors: list[str], gone: tuple[str, ...] = ()) -> None:
    """Wait until the latest table gives each of *actors* what :data:`MUST` says (and no
    rights to the names in *gone*); fail naming what is missing."""
    missing: list[str] = []

    def holds() -> bool:
        missing.clear()
        for name in actors:
            rights = site.control.rights(f"actor:{name}").rights
            publish, read = MUST[name]
            for topic in publish:
                if rights is None or not rights.may_publish(topic):
                    missing.append(f"{name} may not publish {topic}")
            for prefix in read:
                if rights is None or not rights.may_subscribe(prefix):
                    missing.append(f"{name} may not read {prefix}")
        missing.extend(
            f"{name} still has rights"
            for name in gone
            if site.control.rights(f"actor:{name}").rights is not None
        )
        return not missing

    try:
        site.wait_until(holds, 20, "every actor's rights")
    except AssertionError:
        extra = {n: site.control.rights(f"actor:{n}").rights for n in actors}
        raise AssertionError(f"rights missing: {missing}; {extra}") from None


def test_add_swap_rollback_and_reload_keep_every_actors_rights(mesh: MeshFactory) -> None:
    """A warden with control rights added at run time controls at once; another actor
    added at run time keeps its rights through a swap of a third that rolls back; an actor
    added at run time swaps with the table it was added with; a reload that brings a
    warden with control rights gives them at once, and the actors it removes lose theirs."""
    site = mesh.start(SITE)
    _rights_hold(site, ["counter", "tally"])

    site.control.add("warden", table=WARDEN)
    _rights_hold(site, ["counter", "tally", "warden"])
    pid = site.pid("counter")
    restarted = ask(site, "restart", "counter")
    assert restarted["ok"] and restarted["status"]["pid"] != pid, restarted

    site.control.add("extra", "mesh_actors:Ticker")
    _rights_hold(site, ["counter", "tally", "warden", "extra"])

    with pytest.raises(ControlError, match="rolled back"):
        site.control.swap("tally", "mesh_actors:TallyFailsMigrate")
    _rights_hold(site, ["counter", "tally", "warden", "extra"])
    assert ask(site, "status", "extra")["status"]["state"] == "running"
    assert not _denied(site), "something was denied"

    old = site.pid("extra")
    site.control.swap("extra")  # an actor added at run time: the table it was added with
    assert site.pid("extra") != old
    swapped_warden = site.control.swap("warden")
    assert swapped_warden["pid"] != restarted["status"]["pid"]
    _rights_hold(site, ["counter", "tally", "warden", "extra"])
    assert ask(site, "status", "counter")["ok"]  # the swapped warden still controls

    path: Path = site.config_path
    data = tomllib.loads(path.read_text())
    data["actors"]["warden2"] = {
        **WARDEN,
        "topics": {"order": "warden2.do"},
    }
    path.write_text(tomli_w.dumps(data))
    report = site.control.reload()
    assert report["added"] == ["warden2"] and set(report["removed"]) == {"warden", "extra"}
    _rights_hold(site, ["counter", "tally", "warden2"], gone=("warden", "extra"))
    site.wait_actor("warden2", lambda a: a["state"] == "running", what="warden2 running")
    assert ask(site, "status", "tally", by="warden2")["ok"]
    assert not _denied(site), _denied(site)


def _denied(site: Mesh) -> dict[str, int]:
    """What the broker denied so far, per identity."""
    broker = next(e for e in site.status()["actors"] if e["name"] == "broker")
    denied: dict[str, int] = broker["stats"]["denied_by"]
    return denied
