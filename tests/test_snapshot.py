"""Flight recorder, snapshot files and replay, in-process (no sockets)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mesh_actors import Fragile

from actors import Actor, Input, Output, State
from actors.core.snapshot import Snapshot, SnapshotError
from actors.loader import UntrustedCode
from actors.snapshots import export_snapshot, list_snapshots, read_snapshot, write_snapshot
from actors.testing import Harness, replay

HERE = Path(__file__).parent


def crash_on_37(tmp_path: Path, recorder: int = 100) -> tuple[Harness, Path]:
    """Feed Fragile 1..37 in a harness; write the failure snapshot; return both."""
    h = Harness(Fragile, name="fragile", recorder=recorder)
    for n in range(1, 37):
        h.feed("number", n)
    with pytest.raises(ZeroDivisionError) as info:
        h.feed("number", 37)
    snap = h.engine.keeper.snapshot("exception", info.value)
    return h, write_snapshot(tmp_path, snap, keep=5)


def test_snapshot_holds_the_inputs_and_the_state_before_the_failing_step(tmp_path: Path) -> None:
    """Events are the 37 messages in order; state is as before the 37th step."""
    _, path = crash_on_37(tmp_path)
    snap = read_snapshot(path)
    assert snap.class_path == "mesh_actors:Fragile"
    assert [e.kind for e in snap.events] == ["start"] + ["message"] * 37
    assert [e.payload for e in snap.events[1:]] == list(range(1, 38))
    assert snap.failed_event == 37
    assert snap.state is not None
    assert snap.state["state"] == {"count": 36, "sum": sum(range(1, 37))}
    assert snap.state["inputs"] == {"number": 36}
    assert snap.initial == {"state": {"count": 0, "sum": 0}, "inputs": {}, "outputs": {}}
    assert snap.exception is not None
    assert snap.exception["type"] == "ZeroDivisionError"
    assert snap.exception["where"]["function"] == "step"
    assert "input 37 breaks me" in snap.exception["traceback"]


def test_replay_reproduces_the_exception(tmp_path: Path) -> None:
    """actors.testing.replay raises the same exception; --last does too."""
    _, path = crash_on_37(tmp_path)
    with pytest.raises(ZeroDivisionError, match="input 37 breaks me"):
        replay(path)
    with pytest.raises(ZeroDivisionError):
        replay(path, last_only=True)


def test_a_bounded_recorder_restores_from_its_oldest_event(tmp_path: Path) -> None:
    """With 10 slots, replay starts from the state before input 28 and still fails."""
    _, path = crash_on_37(tmp_path, recorder=10)
    snap = read_snapshot(path)
    assert [e.payload for e in snap.events] == list(range(28, 38))
    assert snap.initial is not None
    assert snap.initial["state"] == {"count": 27, "sum": sum(range(1, 28))}
    with pytest.raises(ZeroDivisionError):
        replay(snap)


def test_an_edited_export_becomes_a_passing_test_case(tmp_path: Path) -> None:
    """Export to JSON, drop the failing input, import: the replay now passes."""
    _, path = crash_on_37(tmp_path)
    data = json.loads(export_snapshot(read_snapshot(path), "json"))
    data["events"] = data["events"][:-1]
    data["exception"] = None
    edited = tmp_path / "case.json"
    edited.write_text(json.dumps(data))
    result = replay(edited)
    assert result.state == {"count": 36, "sum": sum(range(1, 37))}
    assert result.outputs["total"] == sum(range(1, 37))


def test_toml_export_round_trips_bytes_and_nil(tmp_path: Path) -> None:
    """TOML has no nil and no bytes; both survive tagged."""

    class Bytes(Actor):
        """Keeps bytes."""

        blob = Input("b", bytes, doc="Bytes in")
        last = State(None, doc="Last blob", type=object)
        out = Output("o", bytes, doc="Echo")

        def step(self) -> None:
            """Echoes."""
            self.last = self.blob
            self.out = self.blob

    h = Harness(Bytes)
    h.feed("blob", b"\x00\xffhi")
    snap = h.snapshot()
    text = export_snapshot(snap, "toml")
    path = tmp_path / "s.toml"
    path.write_text(text)
    back = read_snapshot(path)
    assert back.state == snap.state
    assert back.events[-1].payload == b"\x00\xffhi"
    assert back.events[-1].trace is None


def test_the_folder_keeps_only_the_newest_k(tmp_path: Path) -> None:
    """Writing more than keep files prunes the oldest."""
    h = Harness(Fragile, name="fragile")
    for i in range(8):
        snap = h.snapshot()
        write_snapshot(
            tmp_path, Snapshot(**{**snap.__dict__, "time": 1000.0 + i, "pid": i}), keep=3
        )
    files = list_snapshots(tmp_path, "fragile")
    assert [f["pid"] for f in files] == [5, 6, 7]
    assert not list(tmp_path.rglob("*.tmp"))


def test_bad_files_are_snapshot_errors(tmp_path: Path) -> None:
    """Garbage, other msgpack and future versions are refused with the file named."""
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"\xc1\xc1")
    with pytest.raises(SnapshotError, match=r"bad\.snap"):
        read_snapshot(bad)
    with pytest.raises(SnapshotError, match="not an enlil snapshot"):
        Snapshot.from_dict({"a": 1})
    with pytest.raises(SnapshotError, match="version 9"):
        Snapshot.from_dict({"format": "enlil-snapshot", "version": 9})


def test_unpackable_state_is_kept_as_repr() -> None:
    """A State value msgpack cannot carry is stored as its repr, not lost or fatal."""

    class Odd(Actor):
        """Keeps an object."""

        x = Input("x", float, doc="X")
        thing = State(None, doc="An arbitrary object", type=object)

        def step(self) -> None:
            """Stores a complex number."""
            self.thing = complex(self.x, 1)

    h = Harness(Odd)
    h.feed("x", 2.0)
    h.feed("x", 3.0)
    snap = Snapshot.decode(h.snapshot().encode())
    assert snap.state is not None
    assert snap.state["state"]["thing"] == {"$repr": "(3+1j)"}


class Ledger(Actor):
    """Keeps a large table (a memory the recorder checkpoints rather than copies each time)."""

    number = Input("ledger.in", int, doc="A number")
    table = State(None, doc="10,000 entries, one changed per number", type=object)
    seen = State(0, doc="Numbers seen")

    def on_start(self) -> None:
        """Runs in the ledger's process: fills the table."""
        self.table = {str(i): 0 for i in range(10_000)}

    def step(self) -> None:
        """Runs in the ledger's process; raises on number 5,000."""
        self.seen += 1
        self.table[str(self.number % 10_000)] += self.number
        if self.number == 5_000:
            raise KeyError("number 5000 breaks me")


def test_a_large_memory_is_checkpointed_not_copied_per_event(tmp_path: Path) -> None:
    """The recorder copies a large memory every so many events, not before each one."""
    h = Harness(Ledger, name="ledger", recorder=100)
    captures = []
    capture = h.engine.recorder._capture
    h.engine.recorder._capture = lambda: captures.append(1) or capture()  # type: ignore[method-assign,func-returns-value]
    for n in range(1, 4_000):
        h.feed("number", n)
    assert h.engine.recorder.interval > 1_000
    # 4,000 events: a copy before start, one before the first message (the table is
    # filled by then), then one per interval.
    assert len(captures) <= 4_000 // h.engine.recorder.interval + 2
    # The window still reaches back at least 100 events, from a checkpoint.
    assert len(h.engine.recorder) >= 100


def test_replay_of_a_checkpointed_memory_is_exact(tmp_path: Path) -> None:
    """Replay from the checkpoint rebuilds the memory before the failing event; --last too."""
    h = Harness(Ledger, name="ledger", recorder=100)
    for n in range(1, 5_000):
        h.feed("number", n)
    before = {k: v for k, v in h.state["table"].items()}
    with pytest.raises(KeyError) as info:
        h.feed("number", 5_000)
    path = write_snapshot(tmp_path, h.engine.keeper.snapshot("exception", info.value), keep=5)
    snap = read_snapshot(path)
    assert snap.failed_event == len(snap.events) - 1
    assert snap.events[-1].payload == 5_000
    assert snap.initial is not None
    assert snap.state is None  # no copy right before the failing event: replay rebuilds it
    with pytest.raises(KeyError, match="5000 breaks me"):
        replay(snap)
    with pytest.raises(KeyError, match="5000 breaks me"):
        replay(snap, last_only=True)
    # Without the failing event, the replay ends with the memory the actor had before it.
    data = json.loads(export_snapshot(snap, "json"))
    data["events"] = data["events"][:-1]
    data["exception"] = data["failed_event"] = None
    edited = tmp_path / "case.json"
    edited.write_text(json.dumps(data))
    result = replay(edited)
    assert result.state["table"] == before
    assert result.state["seen"] == 4_999


def test_export_takes_its_format_from_the_output_file(tmp_path: Path) -> None:
    """``-o x.toml`` writes TOML (it wrote JSON), ``-o x.json`` JSON; a clash is an error."""
    import tomllib

    from clitools import supervisor_cli

    _, path = crash_on_37(tmp_path)
    for name, parse in (("x.toml", tomllib.loads), ("x.json", json.loads)):
        out = supervisor_cli("snapshot", "export", str(path), "-o", str(tmp_path / name))
        assert out.returncode == 0, out.stderr
        assert parse((tmp_path / name).read_text())["actor"] == "fragile"
        assert read_snapshot(tmp_path / name).failed_event == 37
    clash = supervisor_cli(
        "snapshot", "export", str(path), "--format", "json", "-o", str(tmp_path / "y.toml")
    )
    assert clash.returncode == 2
    assert "--format json does not match the extension of" in clash.stderr
    assert not (tmp_path / "y.toml").exists()


def test_replay_says_how_many_events_ran(tmp_path: Path) -> None:
    """``replay --last`` runs one event and says so (it said '38 events ran')."""
    from dataclasses import replace as replaced

    from clitools import supervisor_cli

    _, path = crash_on_37(tmp_path)
    fixed = replaced(  # as if the bug were fixed; captured beside the tests' actors
        read_snapshot(path), params={"fail_at": 1000}, detail={"import_paths": [str(HERE)]}
    )
    assert replay(fixed).ran == 38  # start and 37 messages
    assert replay(fixed, last_only=True).ran == 1
    out_file = write_snapshot(tmp_path / "fixed", fixed, keep=5)
    out = supervisor_cli("replay", str(out_file), "--last")  # from /work: tests/ is not there
    assert out.returncode == 78
    assert "refusing to import 'mesh_actors'" in out.stderr  # nothing imported
    out = supervisor_cli("replay", str(out_file), "--last", "--trust")
    assert out.returncode == 0, out.stderr
    assert f"replay imports 'mesh_actors' from {HERE / 'mesh_actors.py'}" in out.stdout
    assert "did not reproduce: 1 event(s) ran without an exception" in out.stdout


def test_the_code_beside_the_test_wins_over_the_captured_import_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot names the folders it was captured with; the test's own project (its
    sys.path) comes first, and those folders only when the module is nowhere else."""
    source = '''
from actors import Actor, Input, Output

class Divider(Actor):
    """Divides 100 by each number."""

    n = Input("div.in", int, doc="A number")
    out = Output("div.out", float, doc="100 divided by it")

    def step(self) -> None:
        """Divides."""
        self.out = {expr}
'''
    captured, project = tmp_path / "captured", tmp_path / "project"
    for folder, expr in ((captured, "100 / self.n"), (project, "100 / self.n if self.n else 0.0")):
        folder.mkdir()
        (folder / "replay_divider.py").write_text(source.format(expr=expr))
    monkeypatch.setattr(sys, "path", [str(captured), *sys.path])
    monkeypatch.delitem(sys.modules, "replay_divider", raising=False)
    from replay_divider import Divider  # type: ignore[import-not-found]

    h = Harness(Divider, name="divider")
    h.feed("n", 4)
    with pytest.raises(ZeroDivisionError) as info:
        h.feed("n", 0)
    snap = replaced_detail(h.engine.keeper.snapshot("exception", info.value), captured)
    # In the test's project the bug is fixed: its module must be the one replayed.
    monkeypatch.setattr(sys, "path", [str(project), *sys.path[1:]])
    monkeypatch.delitem(sys.modules, "replay_divider")
    assert replay(snap).outputs["out"] == 0.0
    # Where the module is nowhere else, the captured folder is used only when trusted.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(project)])
    monkeypatch.delitem(sys.modules, "replay_divider")
    with pytest.raises(UntrustedCode, match=r"found only at .*captured"):
        replay(snap)
    assert "replay_divider" not in sys.modules
    with pytest.raises(ZeroDivisionError):
        replay(snap, trust=True)


def replaced_detail(snap: Snapshot, folder: Path) -> Snapshot:
    """*snap* as the runtime writes it: with the folders its actor was imported from."""
    from dataclasses import replace as replaced

    return replaced(snap, detail={"import_paths": [str(folder)]})


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d.update(exception="boom"), "'exception' must be a map"),
        (lambda d: d.update(time=float("inf")), "'time' must be a finite number"),
        (lambda d: d.update(detail={"import_paths": 5}), "'detail.import_paths' must be a list"),
        (lambda d: d.update(initial=[1]), "'initial' must be a map"),
        (lambda d: d.update(failed_event=999), "'failed_event' must be the index of one"),
        (lambda d: d.update(events="x"), "'events' must be list"),
        (lambda d: d["events"][1].update(kind="explode"), "event kind 'explode' is not one of"),
        (lambda d: d.update(pid="x"), "'pid' must be int"),
        (lambda d: d["exception"].update(where={"file": 1}), "'file' must be str"),
        (lambda d: d.update(state={"state": [1]}), "state.state must be a map of names"),
    ],
)
def test_a_malformed_snapshot_is_a_clear_error(tmp_path: Path, edit: Any, reason: str) -> None:
    """Every malformed field: rc 78 and the file and field named, from show and replay
    (they gave tracebacks, rc 1, or blamed the actor, rc 4)."""
    from clitools import supervisor_cli

    _, path = crash_on_37(tmp_path)
    data = json.loads(export_snapshot(read_snapshot(path), "json"))
    edit(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data).replace("Infinity", "1e400"))
    for command in (["snapshot", "show"], ["replay"]):
        out = supervisor_cli(*command, str(bad))
        assert out.returncode == 78, (command, out.stdout, out.stderr)
        assert f"error: {bad}: " in out.stderr and reason in out.stderr, out.stderr
        assert "Traceback" not in out.stderr + out.stdout


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("deep.json", _deep(5000), "nested too deeply"),
        ("garbage.snap", b"\xc1\xc1\xc1", "not msgpack"),
        ("deep.snap", b"\x91" * 5000 + b"\xc0", "not msgpack"),
    ],
)
def test_a_file_that_is_no_snapshot_is_a_clear_error(
    tmp_path: Path, name: str, content: str | bytes, reason: str
) -> None:
    """Garbage and deep nesting: rc 78 and a reason, never a traceback."""
    from clitools import supervisor_cli

    bad = tmp_path / name
    if isinstance(content, str):
        bad.write_text(content)
    else:
        bad.write_bytes(content)
    out = supervisor_cli("replay", str(bad))
    assert out.returncode == 78, (out.stdout, out.stderr)
    assert reason in out.stderr and "Traceback" not in out.stderr


def test_the_recorder_is_bounded_by_bytes_and_still_replays_exactly(tmp_path: Path) -> None:
    """40 payloads of 256 KiB with a 1 MiB bound: the window holds about 1 MiB (it held all
    10 MiB, and 40 x 15 MiB grew an actor by 600 MiB), and its snapshot replays to the
    same state."""

    from mesh_actors import Blobs

    h = Harness(Blobs, name="blobs", recorder=1000, recorder_bytes=1024 * 1024)
    for n in range(40):
        h.feed("blob", bytes([n]) * 256 * 1024)
    recorder = h.engine.recorder
    assert recorder.bytes <= 1024 * 1024 + 300 * 1024
    assert 3 <= len(recorder) <= 5
    snap = h.snapshot()
    assert snap.initial is not None
    assert replay(snap).state["total"] == 40 * 256 * 1024


def test_a_large_snapshot_is_written_with_progress_calls(tmp_path: Path) -> None:
    """A snapshot of several MiB calls progress after each MiB (the actor heartbeats from
    it, so writing never looks like a hang) and reads back whole."""
    from mesh_actors import Blobs

    h = Harness(Blobs, name="blobs")
    for n in range(5):
        h.feed("blob", bytes([n]) * 1024 * 1024)
    calls: list[int] = []
    path = write_snapshot(tmp_path, h.snapshot(), keep=5, progress=lambda: calls.append(1))
    assert len(calls) >= 5
    assert [len(e.payload) for e in read_snapshot(path).events[1:]] == [1024 * 1024] * 5
