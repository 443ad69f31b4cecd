"""Crafted files are clear errors, never tracebacks (issue 27, item 8): a recording with a
deeply nested record, snapshots with times out of range (``state import``'s own crafted
files are in test_state_import)."""

from __future__ import annotations

import json
from pathlib import Path

import msgpack
import pytest
from clitools import supervisor_cli
from mcap.writer import Writer

from actors.core.snapshot import Snapshot
from actors.testing import Harness, MeshFactory


def _snapshot(tmp_path: Path, name: str, time: float, event_time: float | None = None) -> Path:
    from mesh_actors import Crasher

    harness = Harness(Crasher, name="crasher")
    with pytest.raises(RuntimeError) as info:
        harness.feed("command", "crash")
    data = harness.engine.keeper.snapshot("exception", info.value).to_dict()
    data["time"] = time
    if event_time is not None:
        data["events"][0]["time"] = event_time
    path = tmp_path / f"{name}.snap"
    path.write_bytes(msgpack.packb(data, use_bin_type=True))
    return path


@pytest.mark.parametrize(
    ("time", "event_time", "field"),
    [(1e300, None, "snapshot field 'time'"), (1.0, -1e20, "event field 'time'")],
)
def test_a_snapshot_with_a_time_out_of_range_is_refused_with_the_field(
    tmp_path: Path, time: float, event_time: float | None, field: str
) -> None:
    """``snapshot show`` and ``replay``: exit 78, the file and the field named."""
    path = _snapshot(tmp_path, "far", time, event_time)
    with pytest.raises(Exception, match="from 1970 to 9999"):
        Snapshot.decode(path.read_bytes())
    for args in (("snapshot", "show", str(path)), ("replay", str(path))):
        proc = supervisor_cli(*args)
        assert proc.returncode == 78, (args, proc.stdout, proc.stderr)
        assert str(path) in proc.stderr and field in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow
def test_play_of_a_deeply_nested_record_is_a_clear_error(mesh: MeshFactory, tmp_path: Path) -> None:
    """A recording whose record nests 100,000 lists: ``play`` exits 2 naming the file, the
    message and its topic; no traceback."""
    path = tmp_path / "deep.mcap"
    with path.open("wb") as f:
        writer = Writer(f)
        writer.start()
        schema = writer.register_schema("enlil.record", "jsonschema", b"{}")
        channel = writer.register_channel("count.go", "json", schema)
        deep = '{"value": ' + "[" * 100_000 + "]" * 100_000 + ', "sender": "x", "seq": 1}'
        writer.add_message(channel, log_time=1, data=deep.encode(), publish_time=1, sequence=7)
        writer.add_message(
            channel, log_time=2, data=json.dumps({"value": 1}).encode(), publish_time=2
        )
        writer.finish()
    site = mesh.start({"actors": {"counter": {"class": "mesh_actors:Counter"}}})
    proc = supervisor_cli("play", str(path), config=site.config_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(path) in proc.stderr and "message 7 on 'count.go'" in proc.stderr, proc.stderr
    assert "nested deeper" in proc.stderr and "Traceback" not in proc.stderr
