"""The first hour of a user: clear, immediate answers where there were waits and riddles."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest
from clitools import supervisor_cli
from mounts import fill, tmpfs

from actors.testing import Mesh, MeshError, MeshFactory
from supervisor.client import ControlClient, ControlError, listening

pytestmark = pytest.mark.slow


def test_a_mesh_with_a_bad_config_fails_with_the_supervisors_error(mesh: MeshFactory) -> None:
    """The supervisor exits 78 at once: so does start, with its reason (it waited 30 s)."""
    with pytest.raises(MeshError) as info:
        mesh.start({"actors": {"a": {"class": "no_such_module:Nothing"}}}, timeout=120)
    assert "the supervisor exited with 78" in str(info.value)
    assert "actors.a.class" in str(info.value)


def test_ctl_against_a_stopped_site_says_so_at_once(tmp_path: Path) -> None:
    """No control socket, or one a killed supervisor left: 'not running', not a 15 s wait."""
    config = tmp_path / "site.toml"
    run = tmp_path / "run"
    config.write_text(
        f'[site]\nname = "idle"\nrun_dir = "{run}"\n[actors.a]\nclass = "mesh_actors:Doubler"\n'
    )
    out = supervisor_cli("ctl", "status", "--timeout", "120", config=config)
    assert out.returncode == 69
    assert "the site is not running (nothing listens at ipc://" in out.stderr
    # The file a SIGKILLed supervisor leaves behind refuses connections.
    run.mkdir()
    with socket.socket(socket.AF_UNIX) as left_behind:
        left_behind.bind(str(run / "control.sock"))
    assert listening(f"ipc://{run / 'control.sock'}") is False
    out = supervisor_cli("ctl", "status", "--timeout", "120", config=config)
    assert out.returncode == 69
    assert "the site is not running" in out.stderr


def test_a_request_over_the_size_limit_is_refused_clearly(mesh: MeshFactory) -> None:
    """Too big for the protocol: a clear error from the client, and the site still answers."""
    site = mesh.start({"actors": {"a": {"class": "mesh_actors:Doubler"}}})
    with ControlClient(site.site.supervisor.control_connect, timeout=120) as client:
        with pytest.raises(ControlError) as info:
            client.add("b", cls="mesh_actors:Doubler", params={"pad": "x" * 2_000_000})
        assert info.value.kind == "bad_request"
        assert "a control request may have 65,536" in info.value.message
        assert client.status()["site"] == site.site.site.name


def test_an_unwritable_snapshot_folder_stops_no_actor(mesh: MeshFactory, tmp_path: Path) -> None:
    """Actors start and run without it (it stopped every actor at start); check says so."""
    snaps = tmp_path / "snaps"
    with tmpfs(snaps, read_only=True):
        site = mesh.start(
            {
                "snapshots": {"dir": str(snaps)},
                "actors": {"doubler": {"class": "mesh_actors:Doubler"}},
            }
        )
        try:
            cursor = site.publish("numbers.in", 4)
            assert site.wait_for("numbers.out", after=cursor).envelope.payload == 8.0
            # A death the supervisor must record: the record cannot be written; it restarts.
            site.wait_restarted("doubler", site.kill("doubler"))
            cursor = site.publish("numbers.in", 5)
            assert site.wait_for("numbers.out", after=cursor).envelope.payload == 10.0
            assert f"warning: {site.config_path}: snapshots.dir: cannot write in" in (
                site.log_tail(400)
            )
            out = supervisor_cli("check", config=site.config_path)
            assert out.returncode == 78
            assert f"{site.config_path}: snapshots.dir: cannot write in {snaps}" in out.stderr
        finally:
            site.close()


def test_a_full_disk_stops_no_process_and_leaves_no_temporary_file(mesh: MeshFactory) -> None:
    """run_dir on a 1 MiB tmpfs, filled: logs and snapshots are counted as lost, reported
    once, retried; every process lives on (the supervisor exited 1 in its restart path)."""
    run = Path(tempfile.mkdtemp(prefix="enlil-full-"))
    try:
        with tmpfs(run, "1m"):
            site = mesh.start(
                {
                    "telemetry": {"log_level": "info"},
                    "actors": {
                        "chatty": {"class": "mesh_actors:Chatty"},
                        "crasher": {"class": "mesh_actors:Crasher"},
                    },
                },
                run_dir=run,
            )
            try:
                full_disk_survived(site, run)
            finally:
                site.close()
    finally:
        run.rmdir()


def full_disk_survived(site: Mesh, run: Path) -> None:
    """The checks of the full-disk test, on the running site."""
    supervisor = site.status()["supervisor"]["pid"]
    chatty = site.pid("chatty")
    filler = fill(run)
    cursor = site.mark()
    for n in range(300):  # more than the free tail of the log file's last page
        site.publish("chatty.in", n)
    site.wait_for("chatty.out", lambda v: v == 299, after=cursor)
    # A crash: the actor's snapshot and then... every write fails; it is restarted.
    crasher = site.pid("crasher")
    site.publish("crash.in", "crash")
    site.wait_restarted("crasher", crasher)
    # And deaths only the supervisor can record: its records fail too.
    for _ in range(3):
        site.wait_restarted("crasher", site.kill("crasher"))
    status = site.wait_status(
        lambda s: any(
            a["name"] == "chatty" and a["stats"].get("log_lost", 0) > 0 for a in s["actors"]
        ),
        what="the chatty actor counting lost log lines",
    )
    assert status["supervisor"]["pid"] == supervisor
    assert status["supervisor"]["records_failed"] >= 1
    assert status["supervisor"]["log_lost"] > 0
    assert site.pid("chatty") == chatty
    events = [
        m.envelope.payload
        for m in site.messages
        if m.topic == "$sys.event" and m.envelope.payload.get("event") == "write_failed"
    ]
    assert {(e.get("actor"), e["what"]) for e in events} >= {
        ("chatty", "log_lost"),
        (None, "records"),
    }
    assert len([e for e in events if e.get("actor") == "chatty"]) == 1  # reported once
    assert not list(run.rglob("*.tmp")), "a temporary file was left behind"
    # Space again: the logs are written again (tried every second), and say what was lost.
    filler.unlink()
    log = run / "logs" / "chatty.log"
    size = log.stat().st_size
    site.wait_status(
        lambda s: (site.publish("chatty.in", 100), log.stat().st_size > size)[1],
        what="the chatty actor writing its log again",
    )
    assert "is writable again" in site.log_tail(400)


def test_a_second_copy_of_a_running_actor_is_refused(mesh: MeshFactory) -> None:
    """``python -m actors NAME`` beside the supervised NAME: refused, with the pid and what
    to do (it published as the same sender and its messages were dropped as duplicates)."""
    import subprocess
    import sys

    site = mesh.start({"actors": {"doubler": {"class": "mesh_actors:Doubler"}}})
    pid = site.pid("doubler")
    out = subprocess.run(
        [sys.executable, "-m", "actors", "doubler", "--config", str(site.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 75
    assert f"actor 'doubler' is already running (pid {pid})" in out.stderr
    assert "ctl stop doubler" in out.stderr
    # The supervised copy is untouched, and after a restart the new process holds the name.
    cursor = site.publish("numbers.in", 2)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 4.0
    site.wait_restarted("doubler", site.kill("doubler"))
    assert site.pid("doubler") != pid


@pytest.mark.parametrize("spawn", ["zygote", "plain"])
def test_every_process_shows_its_site_and_name(mesh: MeshFactory, spawn: str) -> None:
    """In ps and top: ``enlil SITE/NAME`` (a forked actor showed the zygote's command line)."""
    import psutil

    site = mesh.start(
        {
            "site": {"name": "bench7"},
            "supervisor": {"spawn": spawn},
            "actors": {"doubler": {"class": "mesh_actors:Doubler"}},
        }
    )
    titles = {
        a["name"]: " ".join(psutil.Process(a["pid"]).cmdline()).strip()
        for a in site.status()["actors"]
    }
    assert titles == {"broker": "enlil bench7/broker", "doubler": "enlil bench7/doubler"}
    supervisor = psutil.Process(site.proc.pid)
    assert " ".join(supervisor.cmdline()).strip() == "enlil bench7/supervisor"
    if spawn == "zygote":
        zygotes = [p for p in supervisor.children() if "zygote" in " ".join(p.cmdline())]
        assert [" ".join(p.cmdline()).strip() for p in zygotes] == ["enlil bench7/zygote"]


def test_replay_from_the_repository_root_finds_the_demo_site(tmp_path: Path) -> None:
    """README's crash-to-test loop as written: ``replay SNAPSHOT`` from the repository
    root, with no site.toml there and no --config, finds the demo site as ``ctl`` and
    ``tap`` do, and imports the demo's actor from its folder (not refused as foreign)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    demo = root / "deploy" / "example"
    sys.path.insert(0, str(demo))
    try:
        from demo_actors import Thermostat  # type: ignore[import-not-found]

        from actors.snapshots import write_snapshot
        from actors.testing import Harness

        harness = Harness(Thermostat, name="thermostat")
        harness.feed("temperature", 19.0)
        snap = harness.engine.keeper.snapshot("manual", None)
    finally:
        sys.path.remove(str(demo))
    path = write_snapshot(tmp_path / "snaps", snap, keep=5)
    assert not (root / "site.toml").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "supervisor", "replay", str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"imports 'demo_actors' from {demo / 'demo_actors.py'}" in proc.stdout, proc.stdout
    assert "replayed 2 event(s) without an exception" in proc.stdout, proc.stdout


def _taken_port() -> tuple[socket.socket, int]:
    """A loopback port something else listens on (the caller closes the socket)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


def _marked(pid: int, mark: str) -> bool:
    """Whether process *pid* still runs with *mark* in its environment (every process a
    site started inherits its supervisor's): another test's processes are not this site's."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and mark in proc.environ()
    except psutil.Error:
        return False


@pytest.mark.parametrize("key", ["telemetry.prometheus", "supervisor.control", "broker.pub"])
def test_a_taken_address_is_one_line_naming_the_key_exit_71(tmp_path: Path, key: str) -> None:
    """A port in use for the Prometheus page, the control endpoint or the broker: one line
    naming the key and the address, exit 71, no traceback, nothing left running."""
    import psutil

    holder, port = _taken_port()
    with socket.socket() as spare:  # a free port for the broker's other side
        spare.bind(("127.0.0.1", 0))
        free = spare.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="enlil-l-"))
    try:
        address = f"127.0.0.1:{port}"
        table = {
            "telemetry.prometheus": f'[telemetry]\nprometheus = "{address}"\n',
            "supervisor.control": f'[supervisor]\ncontrol = "tcp://{address}"\n',
            "broker.pub": f'[broker]\npub = "tcp://{address}"\nsub = "tcp://127.0.0.1:{free}"\n',
        }[key]
        config = folder / "site.toml"
        config.write_text(
            f'[site]\nname = "l"\npython_path = ["{Path(__file__).parent}"]\n{table}'
            '[actors.t]\nclass = "mesh_actors:Ticker"\n'
        )
        before = {p.pid for p in psutil.process_iter()}
        mark = f"ENLIL_TEST_{os.getpid()}_{port}"
        proc = supervisor_cli(config=config, env={mark: "1"})
        assert proc.returncode == 71, proc.stdout + proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.startswith("error")]
        assert len(lines) == 1 and key in lines[0] and address in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
        left = {p.pid for p in psutil.process_iter()} - before
        assert not [p for p in left if _marked(p, mark)]
    finally:
        holder.close()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_commands_piped_into_head_end_quietly(mesh: MeshFactory) -> None:
    """``tap '*' | head -1`` and ``ctl status | head -1``: head's line, no BrokenPipeError,
    nothing on stderr; tap ends (141, as a shell reports a command its pipe ended)."""
    import subprocess
    import sys

    site = mesh.start({"actors": {"t": {"class": "mesh_actors:Ticker"}}})
    for args in (("tap", "*"), ("ctl", "status")):
        command = [sys.executable, "-m", "supervisor", *args, "--config", str(site.config_path)]
        tool = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = subprocess.run(
            ["head", "-1"], stdin=tool.stdout, capture_output=True, timeout=60, check=False
        )
        assert tool.stdout is not None
        tool.stdout.close()  # the pipe is head's alone: when head ends, it is closed
        _, err = tool.communicate(timeout=60)
        assert head.stdout.strip(), args
        assert b"BrokenPipe" not in err and b"Traceback" not in err, err
        assert tool.returncode in (0, 141), (args, tool.returncode, err)
