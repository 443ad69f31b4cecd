"""Run-time membership: ctl add, ctl remove, ctl reload applying only the difference."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from actors.testing import Mesh, MeshFactory
from supervisor.client import ControlClient, ControlError

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
    assert out.returncode == 2 and "unrecognized arguments: --period" in out.stderr


TUNER = '''
import os
from pathlib import Path

from actors import Actor, Input, Output, Param

Path(os.environ["IMPORTED_BY"]).open("a").write(f"{{os.getpid()}}\\n")


class Tuner(Actor):
    """Passes numbers on."""

    value = Input("tune.in", int, doc="A number")
    out = Output("tune.out", int, doc="The number{extra_doc}")
{param}
    def step(self) -> None:
        """Passes it on."""
        self.out = self.value
{more}'''


def test_reload_and_add_check_the_code_on_disk_never_in_the_supervisor(
    mesh: MeshFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Param added on disk and in site.toml reloads, a new class in a loaded module adds,
    and no actor module is ever imported into the supervisor's process (reload refused
    the new Param, add said 'not found', checked against the module imported at start)."""
    imported = tmp_path / "imported_by"
    monkeypatch.setenv("IMPORTED_BY", str(imported))
    code = tmp_path / "code"
    code.mkdir()
    module = code / "tuner_actors.py"
    module.write_text(TUNER.format(param="", more="", extra_doc=""))
    site = mesh.start(
        {"site": {"python_path": [str(code)]}, "actors": {"t": {"class": "tuner_actors:Tuner"}}}
    )
    module.write_text(
        TUNER.format(
            param='    band = Param(1, doc="A band")\n',
            more='\n\nclass Later(Tuner):\n    """A class added to the module later."""\n',
            extra_doc=" again",
        )
    )
    edit(site, lambda actors: actors["t"].update(params={"band": 2}))
    report = site.request("reload")
    assert report["swapped"] == ["t"] and report["failed"] == {}
    record = site.request("add", name="later", **{"class": "tuner_actors:Later"})
    assert record["state"] == "running"
    with pytest.raises(ControlError) as info:
        site.request("add", name="nope", **{"class": "tuner_actors:Nope"})
    assert "ctl add nope: actors.nope.class:" in str(info.value)
    assert "no attribute 'Nope'" in str(info.value)
    importers = set(imported.read_text().split())
    assert str(site.proc.pid) not in importers
    assert {str(site.pid("t")), str(site.pid("later"))} <= importers


def test_a_slow_import_does_not_stall_the_supervisor(
    mesh: MeshFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While ctl add checks a module that takes seconds to import, status is answered
    (the supervisor froze for as long as the import)."""
    import threading

    import psutil

    code = tmp_path / "code"
    code.mkdir()
    gate = tmp_path / "gate"
    (code / "slow_actors.py").write_text(
        "import os, time\n"
        "from pathlib import Path\n"
        "from mesh_actors import Doubler as Slow\n"
        f"while not Path({str(gate)!r}).exists():\n"
        "    time.sleep(0.01)\n"
    )
    site = mesh.start(
        {"site": {"python_path": [str(code)]}, "actors": {"d": {"class": "mesh_actors:Doubler"}}}
    )
    result: list[object] = []

    def add() -> None:
        with ControlClient(site.site.supervisor.control_connect, timeout=60) as client:
            result.append(client.add("s", cls="slow_actors:Slow"))

    adding = threading.Thread(target=add)
    adding.start()
    supervisor = psutil.Process(site.proc.pid)

    def inspecting(_: object) -> bool:
        return any("supervisor.inspect" in " ".join(p.cmdline()) for p in supervisor.children())

    try:
        # Status answered while the classes are being checked, the add still pending.
        site.wait_status(inspecting, what="status answered during the check")
        assert adding.is_alive() and not result
    finally:
        gate.touch()
        adding.join(60)
    assert result and result[0]["name"] == "s"  # type: ignore[index]
