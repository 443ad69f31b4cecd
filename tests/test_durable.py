"""Durable State with real processes: kill -9, a whole-site restart, a swap with a migration,
a second writer, a database that cannot be written."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from actors.durability import StateStore
from actors.testing import Mesh, MeshFactory

pytestmark = pytest.mark.slow
KEEPER = {"persistence": {"interval": 0.1}, "actors": {"keeper": {"class": "mesh_actors:Keeper"}}}


def stored(site: Mesh, actor: str = "keeper") -> dict[str, Any] | None:
    """What the state database holds for *actor* now (read as another process would)."""
    store = StateStore(site.site.persistence.path)
    try:
        record = store.load(actor)
    finally:
        store.close()
    if record is None or record.written == 0:
        return None
    return dict(msgpack.unpackb(record.data))


def wait_stored(site: Mesh, predicate: Any, what: str) -> dict[str, Any]:
    """Wait until the stored record satisfies *predicate*; return it."""
    site.wait_until(lambda: (s := stored(site)) is not None and predicate(s), 20, what)
    result = stored(site)
    assert result is not None
    return result


def add(site: Mesh, *numbers: int) -> int:
    """Send *numbers* to the keeper; return the total it published after the last."""
    cursor = site.mark()
    for n in numbers:
        site.publish("keep.in", n)
    total: int = site.collect("keep.total", len(numbers), after=cursor)[-1].envelope.payload
    return total


def test_a_durable_value_survives_kill_9_and_a_restart_of_the_whole_site(
    mesh: MeshFactory, tmp_path: Path
) -> None:
    """Only the State marked durable comes back: after kill -9 of the actor (restarted by
    the supervisor), and after SIGTERM of the whole site and a new start on the same run
    folder."""
    run_dir = tmp_path / "run"
    site = mesh.start(KEEPER, run_dir=run_dir)
    assert add(site, 1, 2, 3) == 6
    wait_stored(site, lambda s: s["kept"] == 6, "the sum written")
    assert set(stored(site) or {}) == {"kept"}  # steps is not durable
    site.wait_restarted("keeper", site.kill("keeper", signal.SIGKILL))
    assert add(site, 4) == 10
    assert site.close() == []
    again = mesh.start(KEEPER, run_dir=run_dir)
    assert add(again, 5) == 15
    with sqlite3.connect(again.site.persistence.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat_mode(again.site.persistence.path) == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_kill_9_in_a_write_burst_leaves_a_readable_database_and_a_published_sum(
    mesh: MeshFactory,
) -> None:
    """A burst of numbers, the actor killed in the middle of it: the database passes its
    integrity check and holds a sum the actor had reached (a whole write, never a torn
    one); the restarted actor goes on from it."""
    site = mesh.start(KEEPER)
    for n in range(1, 20_001):
        site.publish("keep.in", n)
    wait_stored(site, lambda s: s["kept"] > 0, "a first write in the burst")
    site.wait_restarted("keeper", site.kill("keeper", signal.SIGKILL))  # writing still
    totals = {m.envelope.payload for m in list(site.messages) if m.topic == "keep.total"}
    with sqlite3.connect(site.site.persistence.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = stored(site)
    assert kept is not None and kept["kept"] in totals | {0}


def test_a_swap_with_migrate_state_writes_the_migrated_value(mesh: MeshFactory) -> None:
    """A swap to version 2 migrates the sum into hundredths and writes it; a restart of the
    new version reads it back (no second migration)."""
    site = mesh.start(KEEPER)
    assert add(site, 7) == 7
    site.control.request("swap", name="keeper", **{"class": "mesh_actors:KeeperV2"})
    wait_stored(site, lambda s: s.get("cents") == 700, "the migrated sum written")
    assert add(site, 1) == 800
    wait_stored(site, lambda s: s.get("cents") == 800, "the new sum written")
    site.wait_restarted("keeper", site.kill("keeper", signal.SIGKILL))
    assert add(site, 1) == 900  # read back as version 2: no second migration


def test_a_second_copy_cannot_write_and_a_read_only_database_is_reported(
    mesh: MeshFactory,
) -> None:
    """A copy started by hand is refused (the actor's name is held) and writes nothing; a
    database made read-only under the running actor is counted and reported, and the actor
    keeps working."""
    site = mesh.start(KEEPER)
    assert add(site, 2) == 2
    wait_stored(site, lambda s: s["kept"] == 2, "the sum written")
    copy = subprocess.run(
        [sys.executable, "-m", "actors", "keeper", "--config", str(site.config_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert copy.returncode == 75, copy.stderr  # ALREADY_RUNNING
    assert (stored(site) or {})["kept"] == 2
    store = StateStore(site.site.persistence.path)
    try:
        store.db.execute("BEGIN EXCLUSIVE")  # another process holding the database
        assert add(site, 3) == 5
        site.wait_actor(
            "keeper",
            lambda a: a["stats"].get("durable_failed", 0) >= 1,
            20,
            "the keeper counting writes that failed",
        )
        event = site.wait_for(
            "$sys.event", lambda p: p.get("event") == "write_failed", after=0
        ).envelope.payload
        assert event["what"] == "durable_failed"
    finally:
        store.db.execute("ROLLBACK")
        store.close()
    wait_stored(site, lambda s: s["kept"] == 5, "the write retried once the lock is gone")


def test_operating_durable_state_show_reset_remove_add_export_import(
    mesh: MeshFactory, tmp_path: Path
) -> None:
    """``ctl state`` shows what is stored; ``--reset`` needs a stopped actor and forgets it;
    ``ctl remove`` and ``ctl add`` ask what becomes of stored State; ``state export`` and
    ``state import`` move it between sites (round trip)."""
    from clitools import supervisor_cli

    run_dir = tmp_path / "run"
    site = mesh.start(KEEPER, run_dir=run_dir)
    assert add(site, 4) == 4
    wait_stored(site, lambda s: s["kept"] == 4, "the sum written")
    shown = supervisor_cli("ctl", "state", "keeper", config=site.config_path)
    assert shown.returncode == 0, shown.stderr
    assert "kept = 4" in shown.stdout and "by version 1" in shown.stdout
    assert site.control.state("keeper")["values"] == {"kept": 4}
    refused = supervisor_cli("ctl", "state", "keeper", "--reset", config=site.config_path)
    assert refused.returncode == 1 and "stop it first" in refused.stderr
    exported = tmp_path / "state.json"
    out = supervisor_cli("state", "export", str(exported), config=site.config_path)
    assert out.returncode == 0, out.stderr
    assert exported.stat().st_mode & 0o777 == 0o600
    removing = supervisor_cli("ctl", "remove", "keeper", config=site.config_path)
    assert removing.returncode == 1 and "--keep-state" in removing.stderr
    kept = supervisor_cli("ctl", "remove", "keeper", "--keep-state", config=site.config_path)
    assert kept.returncode == 0, kept.stderr
    assert site.control.state("keeper")["values"] == {"kept": 4}
    adding = ["ctl", "add", "keeper", "--class", "mesh_actors:Keeper"]
    assert supervisor_cli(*adding, config=site.config_path).returncode == 1  # asks again
    assert supervisor_cli(*adding, "--keep-state", config=site.config_path).returncode == 0
    assert add(site, 1) == 5  # started from what was kept
    wait_stored(site, lambda s: s["kept"] == 5, "the sum written")
    site.control.stop("keeper")
    assert site.control.state_reset("keeper")["reset"] is True
    site.control.start("keeper")
    assert add(site, 1) == 1  # from the defaults
    site.close()
    running = supervisor_cli("state", "import", str(exported), config=site.config_path)
    assert running.returncode == 0, running.stderr  # the site is stopped now
    again = mesh.start(KEEPER, run_dir=run_dir)
    assert add(again, 10) == 14  # the exported 4, back


def test_a_full_disk_is_reported_the_actor_keeps_running_and_the_write_comes_later(
    mesh: MeshFactory, tmp_path: Path
) -> None:
    """The state database on a small real tmpfs, filled up: the growing durable value cannot
    be written (counted, a ``write_failed`` event), the actor goes on; once there is room
    again, the next interval writes it."""
    from mounts import fill, tmpfs

    with tmpfs(tmp_path / "disk", "2m") as disk:
        site = mesh.start(
            {
                "persistence": {"path": str(disk / "state.db"), "interval": 0.1},
                "actors": {"hoarder": {"class": "mesh_actors:Hoarder"}},
            }
        )
        cursor = site.publish("hoard.in", "first")
        site.wait_for("hoard.size", after=cursor)
        site.wait_until(lambda: (stored(site, "hoarder") or {}).get("kept") == ["first"], 20)
        filler = fill(disk)
        cursor = site.mark()
        for i in range(50):
            site.publish("hoard.in", f"{i}-" + "x" * 20_000)  # about 1 MiB more
        site.wait_for("hoard.size", lambda n: n == 51, after=cursor)  # it goes on
        site.wait_actor(
            "hoarder", lambda a: a["stats"].get("durable_failed", 0) >= 1, 20, "failed writes"
        )
        event = site.wait_for(
            "$sys.event", lambda p: p.get("event") == "write_failed", after=0
        ).envelope.payload
        assert (event["actor"], event["what"]) == ("hoarder", "durable_failed")
        filler.unlink()
        site.wait_until(
            lambda: len((stored(site, "hoarder") or {}).get("kept", [])) == 51, 20, "written"
        )
        assert site.close() == []


def test_stored_state_that_cannot_be_migrated_stops_the_start_unless_the_class_falls_back(
    mesh: MeshFactory,
) -> None:
    """A new class whose ``migrate_state`` fails: the actor does not start and says why; a
    class with ``durable_fallback`` starts from its defaults, logging the reason."""
    site = mesh.start(KEEPER)
    assert add(site, 9) == 9
    wait_stored(site, lambda s: s["kept"] == 9, "the sum written")
    site.control.request("remove", name="keeper", state="keep")
    from supervisor.client import ControlError

    with pytest.raises(ControlError) as info:
        site.control.request(
            "add", name="keeper", state="keep", table={"class": "mesh_actors:KeeperBroken",
                                                        "restart": "temporary"},
        )  # fmt: skip
    assert "keeper" in str(info.value)
    assert "migrate_state from version 1 to 3 failed" in site.log_tail(200)
    site.control.request("remove", name="keeper", state="keep")
    site.control.request(
        "add", name="keeper", state="keep", table={"class": "mesh_actors:KeeperFallback"}
    )
    assert add(site, 1) == 1  # from the defaults
    assert "durable state not used: starting from the defaults" in site.log_tail(200)


def test_what_a_kill_9_loses_is_what_changed_since_the_last_write(mesh: MeshFactory) -> None:
    """With a write interval of an hour: a clean stop writes (nothing lost); a kill -9 loses
    exactly the changes since the last write, never what was written."""
    site = mesh.start(
        {"persistence": {"interval": 3600}, "actors": {"keeper": {"class": "mesh_actors:Keeper"}}}
    )
    assert add(site, 5) == 5
    site.control.restart("keeper")  # a planned restart: written at the stop
    assert (stored(site) or {}).get("kept") == 5
    assert add(site, 3) == 8  # not written: the interval has not passed
    site.wait_restarted("keeper", site.kill("keeper", signal.SIGKILL))
    assert add(site, 1) == 6  # the 3 since the last write are lost, the 5 are not


def test_a_superseded_writer_is_refused(tmp_path: Path) -> None:
    """Two claims of one actor's state: the first claimer's writes are refused from then
    on (a swap's old version), the second's go through; the record is never torn."""
    from actors.durability import Superseded

    first, second = StateStore(tmp_path / "s.db"), StateStore(tmp_path / "s.db")
    try:
        one = first.claim("a")
        first.write("a", one, 1, msgpack.packb({"x": 1}))
        two = second.claim("a")
        assert two == one + 1
        with pytest.raises(Superseded, match="another process claimed its state"):
            first.write("a", one, 1, msgpack.packb({"x": 2}))
        second.write("a", two, 1, msgpack.packb({"x": 3}))
        record = first.load("a")
        assert record is not None and msgpack.unpackb(record.data) == {"x": 3}
    finally:
        first.close()
        second.close()
