"""MCAP recordings: ``record`` a running site, read it back with the mcap library's own
reader, ``play`` it into a fresh site; a snapshot's input window as MCAP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clitools import supervisor_cli
from mcap.reader import make_reader

from actors.core.records import decode_record, encode_record, from_json, to_json
from actors.testing import MeshFactory

COUNT = 50


def site_of(*names: str) -> dict[str, Any]:
    actors = {
        "counter": {"class": "mesh_actors:Counter"},
        "tally": {"class": "mesh_actors:Tally"},
    }
    return {
        "supervisor": {"heartbeat_interval": 0.2},
        "actors": {n: actors[n] for n in names},
    }


def read_back(path: Path) -> dict[str, Any]:
    """Schemas, channels and records of *path*, read with the mcap library directly."""
    with path.open("rb") as f:
        reader = make_reader(f)
        out: dict[str, Any] = {"schemas": {}, "messages": []}
        for schema, channel, message in reader.iter_messages(log_time_order=True):
            assert channel.message_encoding == "json" and schema is not None
            assert schema.encoding == "jsonschema"
            out["schemas"][channel.topic] = json.loads(schema.data)
            record = json.loads(message.data)
            out["messages"].append((channel.topic, record, message.sequence))
    return out


def test_a_record_round_trips_bytes_and_odd_keys() -> None:
    payload = {"raw": b"\x00\xff", "n": [1, 2.5, None, True], 3: "three"}
    value, sender, seq = decode_record(encode_record(payload, "s", 7))
    assert (sender, seq) == ("s", 7)
    assert value == {"raw": b"\x00\xff", "n": [1, 2.5, None, True], "3": "three"}
    assert from_json(to_json(b"x")) == b"x"
    with pytest.raises(ValueError, match="record"):
        decode_record(b"[1, 2]")


@pytest.mark.slow
def test_record_then_play_into_a_fresh_site(mesh: MeshFactory, tmp_path: Path) -> None:
    """50 numbers and the tally's 50 answers recorded with their schemas, senders and
    sequence numbers; played into a site with only a tally, which sees the same numbers in
    the same order."""
    site = mesh.start(site_of("counter", "tally"))
    out = tmp_path / "run.mcap"
    os.umask(0o022)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "supervisor", "record", "count.n", "tally.*"),
            *("-o", str(out), "--count", str(2 * COUNT), "--config", str(site.config_path)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("recording into")
    site.publish("count.go", [COUNT, 5])
    assert proc.wait(timeout=60) == 0
    assert f"({2 * COUNT} messages)" in proc.stdout.read()
    proc.stdout.close()
    assert out.stat().st_mode & 0o777 == 0o600
    got = read_back(out)
    assert got["schemas"]["count.n"]["properties"]["value"] == {"type": "integer"}
    assert got["schemas"]["tally.seen"]["properties"]["value"]["type"] == "array"
    numbers = [
        (r["value"], r["sender"], r["seq"], s) for t, r, s in got["messages"] if t == "count.n"
    ]
    assert numbers == [(n, "counter", n, n) for n in range(1, COUNT + 1)]
    site.close()

    fresh = mesh.start(site_of("tally"))
    cursor = fresh.mark()
    play = supervisor_cli(
        "play", str(out), "--rate", "0", "--topics", "count.n", config=fresh.config_path
    )
    assert play.returncode == 0, play.stderr
    assert f"published {COUNT} messages" in play.stdout
    seen = fresh.collect("tally.seen", COUNT, after=cursor)
    assert [m.envelope.payload for m in seen] == [[n, n] for n in range(1, COUNT + 1)]


@pytest.mark.slow
def test_a_snapshots_input_window_as_mcap(mesh: MeshFactory, tmp_path: Path) -> None:
    site = mesh.start(site_of("counter", "tally"))
    cursor = site.publish("count.go", [COUNT, 5])
    site.collect("tally.seen", COUNT, after=cursor)
    path = site.request("snapshot", name="tally")["path"]
    out = tmp_path / "window.mcap"
    proc = supervisor_cli("snapshot", "export", path, "-o", str(out), config=site.config_path)
    assert proc.returncode == 0, proc.stderr
    got = read_back(out)
    values = [r["value"] for t, r, _ in got["messages"] if t == "count.n"]
    assert values == list(range(1, COUNT + 1))
    assert got["schemas"]["count.n"]["properties"]["value"] == {"type": "integer"}


def test_play_names_a_file_that_is_not_a_recording(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mcap"
    bad.write_bytes(b"not an mcap file at all")
    proc = supervisor_cli("play", str(bad))
    assert proc.returncode == 2 and "bad.mcap" in proc.stderr, proc.stderr
    assert "not an enlil MCAP recording" in proc.stderr
    proc = supervisor_cli("play", str(tmp_path / "missing.mcap"))
    assert proc.returncode == 2 and "missing.mcap" in proc.stderr


@pytest.mark.slow
def test_the_recorder_actor_rotates_and_keeps_everything_in_order(mesh: MeshFactory) -> None:
    """The built-in recorder on count.*: 3,000 numbers over several files (rotated at
    0.02 MiB), the oldest removed past keep, the rest complete once the site stops; what
    remains is the newest numbers, each once, in order, with their senders."""
    data = site_of("counter")
    data["actors"]["recorder"] = {
        "class": "actors.recorder:Recorder",
        "topics": {"data": "count.*"},
        "params": {"rotate_mb": 0.02, "keep": 4},
        "after": ["counter"],
    }
    site = mesh.start(data)
    cursor = site.publish("count.go", [3000, 20])
    site.wait_actor("recorder", lambda a: a["metrics"].get("written", 0) >= 3001, timeout=60)
    assert cursor >= 0
    folder = site.site.site.run_dir / "recordings"
    site.close()
    files = sorted(folder.glob("recorder-*.mcap"))
    assert len(files) == 4  # keep
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    numbers = []
    for path in files:
        for topic, record, seq in read_back(path)["messages"]:
            if topic == "count.n":
                assert record["sender"] == "counter" and record["seq"] == record["value"] == seq
                numbers.append(record["value"])
    assert numbers == list(range(numbers[0], 3001))  # the newest, each once, in order
    assert numbers[0] > 1  # older files were removed


def _streamed(path: Path) -> list[int]:
    """The count.n values in *path* as mcap's own stream reader reads a file with no footer
    (front to back, up to where it is cut)."""
    from mcap.stream_reader import StreamReader

    from supervisor.mcap_repair import salvage

    values = []
    with path.open("rb") as f:
        channels: dict[int, str] = {}
        try:
            for record in StreamReader(f, skip_magic=False).records:
                if type(record).__name__ == "Channel":
                    channels[record.id] = record.topic  # type: ignore[attr-defined]
                elif (
                    type(record).__name__ == "Message"
                    and channels.get(
                        record.channel_id  # type: ignore[attr-defined]
                    )
                    == "count.n"
                ):
                    values.append(json.loads(record.data)["value"])  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a killed file ends mid-record: read up to it
            pass
    found = salvage(path)  # the same, as play and record repair read it
    topic = {i: c.topic for i, c in found.channels.items()}
    ours = [json.loads(m.data)["value"] for m in found.messages if topic[m.channel_id] == "count.n"]
    assert values == ours
    return values


@pytest.mark.slow
@pytest.mark.parametrize("who", ["record", "recorder"])
def test_a_recording_killed_mid_stream_keeps_what_was_flushed_and_is_repaired(
    mesh: MeshFactory, tmp_path: Path, who: str
) -> None:
    """``record`` (or the Recorder actor) is killed with SIGKILL after 200 numbers: within a
    second they are in the file already (a chunk is written out every second, even when
    nothing more comes), so mcap's stream reader reads them all from the killed file; play
    takes the file as it is, and ``record repair`` makes it complete (a seeking reader
    opens it)."""
    import signal

    from mcap.reader import make_reader

    data = site_of("counter")
    if who == "recorder":
        data["actors"]["recorder"] = {
            "class": "actors.recorder:Recorder",
            "topics": {"data": "count.*"},
            "after": ["counter"],
        }
    site = mesh.start(data)
    if who == "record":
        out = tmp_path / "killed.mcap"
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "supervisor", "record", "count.n", "-o", str(out)),
                *("--config", str(site.config_path)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and "recording into" in proc.stdout.readline()
        pid = proc.pid
    else:
        pid = site.pid("recorder")
        out = next((site.site.site.run_dir / "recordings").glob("recorder-*.mcap"))
    cursor = site.publish("count.go", [200, 20])
    site.collect("count.n", 200, after=cursor)
    site.wait_until(lambda: _streamed(out)[-1:] == [200], 20, "the numbers in the file")
    os.kill(pid, signal.SIGKILL)
    if who == "record":
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    else:
        site.wait_restarted("recorder", pid)
    assert _streamed(out) == list(range(1, 201))
    fresh = mesh.start(site_of("counter"))  # play takes the unfinished file as it is
    played = supervisor_cli("play", str(out), "--rate", "0", config=fresh.config_path)
    total = 200 if who == "record" else 201  # the recorder reads count.* (count.go too)
    assert played.returncode == 0, played.stderr
    assert f"published {total} messages" in played.stdout, played.stdout
    fixed = supervisor_cli("record", "repair", str(out))
    assert fixed.returncode == 0 and f"{total} messages recovered" in fixed.stdout, fixed.stdout
    assert [r["value"] for t, r, _ in read_back(out)["messages"] if t == "count.n"] == list(
        range(1, 201)
    )
    with out.open("rb") as f:
        assert make_reader(f).get_summary() is not None
    again = supervisor_cli("record", "repair", str(out))
    assert "complete, nothing to repair" in again.stdout


def test_a_snapshot_exported_as_mcap_keeps_each_messages_own_time(tmp_path: Path) -> None:
    """A window of three messages handled a few seconds apart: each is logged at the time
    its actor handled it (not at the export), so it plays back at its own pace."""
    from mcap.reader import make_reader
    from mesh_actors import Tally

    from actors.snapshots import write_snapshot
    from actors.testing import Harness

    harness = Harness(Tally, name="tally")
    handled = []
    for n in (1, 2, 3):
        harness.feed("n", n)
        handled.append(harness.clock.wall_ns())
        harness.advance(7.5)
    path = write_snapshot(
        tmp_path / "snaps", harness.engine.keeper.snapshot("manual", None), keep=5
    )
    out = tmp_path / "window.mcap"
    proc = supervisor_cli("snapshot", "export", str(path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with out.open("rb") as f:
        times = [m.log_time for _, _, m in make_reader(f).iter_messages(log_time_order=True)]
    assert [round(t / 1e9, 3) for t in times] == [round(t / 1e9, 3) for t in handled]
    assert times[2] - times[0] == 15_000_000_000


def test_recording_names_sort_in_the_order_the_files_were_started() -> None:
    """Pure: the seconds and milliseconds come from one reading of the clock (a file
    started at x.9996 s was named as if started a second earlier, and sorted before the
    file started just before it: keep removed the newer ones), and two files started in
    one millisecond keep their order by their count."""
    from actors.recorder import file_name

    times = [1_800_000_000.998, 1_800_000_000.9996, 1_800_000_001.0004, 1_800_000_001.0004]
    names = [file_name("recorder", t, n) for n, t in enumerate(times, start=1)]
    assert names == sorted(names)
    assert names[1] == "recorder-20270115T080000.999Z-000002.mcap"
    assert names[2] == "recorder-20270115T080001.000Z-000003.mcap"
