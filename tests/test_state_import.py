"""``state import`` checks what it imports, and stored State that cannot be used fails one
actor's start, not the site (issue 27, items 3 and 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgpack
import pytest
from clitools import supervisor_cli
from test_durable import add, wait_stored

from actors.durability import StateStore
from actors.testing import MeshFactory

pytestmark = pytest.mark.slow

SITE = {
    "security": {"curve": True},
    "persistence": {"interval": 0.1},
    "actors": {
        "keeper": {"class": "mesh_actors:Keeper"},
        "counter": {"class": "mesh_actors:Counter"},
    },
}


def _dump(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_a_bad_import_is_refused_with_every_problem_and_the_site_still_starts(
    mesh: MeshFactory, tmp_path: Path
) -> None:
    """Another site's name, an unknown actor, one without durable State, a value of the
    wrong type, an undeclared name, a version newer than the class, a 2^80 integer, deep
    nesting, a value the class's start would refuse: each file refused (exit 78) with all
    its problems named, nothing written; the site starts with what it had."""
    run_dir = tmp_path / "run"
    site = mesh.start(SITE, run_dir=run_dir)
    assert add(site, 4) == 4
    wait_stored(site, lambda s: s["kept"] == 4, "the sum written")
    site.close()
    db = site.site.persistence.path
    before = db.read_bytes()
    config = site.config_path
    many = _dump(
        tmp_path / "many.json",
        {
            "site": "elsewhere",
            "actors": {
                "ghost": {"values": {"kept": 1}, "version": 1},
                "counter": {"values": {"n": 1}, "version": 1},
                "keeper": {"values": {"kept": "four", "spare": 1}, "version": 1},
            },
        },
    )
    proc = supervisor_cli("state", "import", str(many), config=config)
    assert proc.returncode == 78, proc.stderr
    for expected in (
        "site: the export is of site 'elsewhere', not 'test'",
        "actors.ghost: no actor 'ghost'",
        "actors.counter: Counter declares no durable State",
        "actors.keeper.values.kept: does not fit its declaration",
        "actors.keeper.values.spare: not a durable State of Keeper (kept)",
        "5 problem(s); nothing imported",
    ):
        assert expected in proc.stderr, (expected, proc.stderr)
    assert "Traceback" not in proc.stderr
    for name, data, expected in (
        ("newer", {"keeper": {"values": {"kept": 1}, "version": 2}}, "newer than Keeper.version"),
        ("huge", {"keeper": {"values": {"kept": 2**80}, "version": 1}}, "cannot be stored"),
        ("zero", {"keeper": {"values": {"kept": 1}, "version": 0}}, "integer from 1"),
    ):
        path = _dump(tmp_path / f"{name}.json", {"site": "test", "actors": data})
        proc = supervisor_cli("state", "import", str(path), config=config)
        assert proc.returncode == 78 and expected in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    deep = tmp_path / "deep.json"
    deep.write_text('{"site": "test", "actors": ' + "[" * 100_000 + "]" * 100_000 + "}")
    proc = supervisor_cli("state", "import", str(deep), config=config)
    assert proc.returncode == 78 and "nested deeper" in proc.stderr, proc.stderr
    assert db.read_bytes() == before  # nothing written
    again = mesh.start(SITE, run_dir=run_dir)
    assert add(again, 1) == 5


def test_a_tampered_row_fails_one_actors_start_in_one_line_and_the_site_goes_on(
    mesh: MeshFactory, tmp_path: Path
) -> None:
    """A state.db row of the wrong type: the keeper does not start (exit 65, its log names
    the State and why), the supervisor gives it up at once with one line saying why,
    without a restart loop, and the rest of the site runs."""
    run_dir = tmp_path / "run"
    site = mesh.start(SITE, run_dir=run_dir)
    assert add(site, 4) == 4
    wait_stored(site, lambda s: s["kept"] == 4, "the sum written")
    site.close()
    store = StateStore(site.site.persistence.path)
    try:
        store.write("keeper", store.claim("keeper"), 1, msgpack.packb({"kept": "tampered"}))
    finally:
        store.close()
    again = mesh.start(SITE, run_dir=run_dir, wait=False)
    again.wait_actor("counter", lambda a: a["state"] == "running", what="the counter running")
    keeper = again.wait_actor("keeper", lambda a: a["state"] == "failed", what="given up")
    assert keeper["restarts"] == 0, keeper
    log = again.log_tail(400)
    reasons = [line for line in log.splitlines() if '"gave_up"' in line]
    assert len(reasons) == 1 and "stored durable State cannot be used" in reasons[0], log
    assert "ctl state keeper --reset" in reasons[0]
    assert again.status()["supervisor"]["state"] == "running"
    keeper_log = (run_dir / "logs" / "keeper.log").read_text()
    assert "stored State 'kept' does not fit its declaration" in keeper_log
