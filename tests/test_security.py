"""Security of a site: owner-only files whatever the umask, against another local user."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from clitools import supervisor_cli
from secured import curve_socket, events, raw_link

from actors.core.access import ACTOR, TOOL
from actors.core.wire import encode_envelope
from actors.keys import ClientKeys, Identity, KeyFolder
from actors.testing import Mesh, MeshError, MeshFactory
from supervisor.client import ControlClient

pytestmark = pytest.mark.slow
SYSTEM_PYTHON = "/usr/bin/python3"
TESTS = Path(__file__).resolve().parent
CRASHER = {"actors": {"crasher": {"class": "mesh_actors:Crasher"}}}


@pytest.fixture
def stranger() -> Iterator[str]:
    """Another local user, created for the test and removed after it (with its group)."""
    if os.geteuid() != 0:
        pytest.fail("creating another local user needs root (the CI machine runs as root)")
    name = f"enlil-t{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        check=True,
        capture_output=True,
    )
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


def as_user(user: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run Python *code* as *user* (no groups of ours), with the system's interpreter."""
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={user}",
            f"--regid={user}",
            "--clear-groups",
            SYSTEM_PYTHON,
            "-c",
            code,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder every local user may enter (so only the site's own modes keep them out)."""
    folder = Path(tempfile.mkdtemp(prefix="enlil-open-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=True)


def _modes(root: Path) -> dict[str, int]:
    """The mode of every file and folder under ``root``; one that goes while the walk runs
    (a snapshot's temporary file renamed into place) is left out, it has no mode to check."""
    modes = {}
    for p in [root, *root.rglob("*")]:
        try:
            info = p.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISLNK(info.st_mode):
            modes[str(p.relative_to(root))] = stat.S_IMODE(info.st_mode)
    return modes


def test_files_are_owner_only_under_umask_000_and_another_user_gets_nothing(
    mesh: MeshFactory, open_folder: Path, stranger: str
) -> None:
    """Started with umask 000, every folder the site makes is 0700, every file and socket
    owner-only; another local user cannot connect to the ipc control socket, list the run
    folder or read a log or a snapshot."""
    run_dir = open_folder / "run"
    old = os.umask(0)
    try:
        site = mesh.start(CRASHER, run_dir=run_dir)
    finally:
        os.umask(old)
    site.publish("crash.in", "crash")  # a failure snapshot
    snapshots = run_dir / "snapshots" / "crasher"
    finished = "[!.]*-exception.*"  # not the temporary file a snapshot is written to first
    site.wait_until(lambda: any(snapshots.glob(finished)), 20, "a failure snapshot")
    site.wait_actor("crasher", lambda a: a["state"] == "running", 20, "crasher restarted")
    modes = _modes(run_dir)
    loose = {path: f"{mode:o}" for path, mode in modes.items() if mode & 0o077}
    assert not loose, f"files others may use: {loose}"
    control = site.site.supervisor.control.removeprefix("ipc://")
    snapshot = next(snapshots.glob(finished))
    log = next((run_dir / "logs").glob("*.log"))
    probe = as_user(
        stranger,
        "import os, socket\n"
        "for what, attempt in [\n"
        f"    ('connect', lambda: socket.socket(socket.AF_UNIX).connect({control!r})),\n"
        f"    ('list', lambda: os.listdir({str(run_dir)!r})),\n"
        f"    ('log', lambda: open({str(log)!r}).read()),\n"
        f"    ('snapshot', lambda: open({str(snapshot)!r}, 'rb').read()),\n"
        "]:\n"
        "    try:\n"
        "        attempt()\n"
        "        print(what, 'ALLOWED')\n"
        "    except PermissionError:\n"
        "        print(what, 'refused')\n",
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == [
        *("connect", "refused", "list", "refused", "log", "refused", "snapshot", "refused")
    ]


def test_a_run_folder_others_can_write_is_refused_and_left_as_it_is(open_folder: Path) -> None:
    """``check`` and the start refuse a run folder of mode 777 (naming it and what to do)
    and leave its mode alone; one others can only enter is a warning."""
    run_dir = open_folder / "run"
    run_dir.mkdir()
    run_dir.chmod(0o777)
    config = open_folder / "site.toml"
    config.write_text(
        f'[site]\nname = "open"\nrun_dir = "{run_dir}"\npython_path = ["{TESTS}"]\n'
        '[actors.crasher]\nclass = "mesh_actors:Crasher"\n'
    )
    proc = supervisor_cli("check", config=config)
    assert proc.returncode == 78
    assert f"site.run_dir: {run_dir} can be written by group and others (mode 777)" in proc.stderr
    assert f"chmod 700 {run_dir}" in proc.stderr
    started = supervisor_cli(config=config)
    assert started.returncode == 78 and "can be written by group and others" in started.stderr
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o777  # not ours to change
    run_dir.chmod(0o755)
    proc = supervisor_cli("check", config=config)
    assert f"site.run_dir: warning: {run_dir} can be entered by other users" in proc.stderr


def test_replay_of_a_crafted_snapshot_naming_foreign_code_imports_nothing(tmp_path: Path) -> None:
    """A snapshot naming a module that only the folder it names holds: ``replay`` says what
    it would import and refuses, and the module's code never runs; ``--trust`` runs it."""
    from dataclasses import replace

    from mesh_actors import Crasher

    from actors.snapshots import write_snapshot
    from actors.testing import Harness

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    marker = tmp_path / "ran"
    (foreign / "enlil_payload.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nfrom mesh_actors import Crasher as Payload\n"
    )
    harness = Harness(Crasher, name="crasher")
    with pytest.raises(RuntimeError) as info:
        harness.feed("command", "crash")
    snap = harness.engine.keeper.snapshot("exception", info.value)
    crafted = replace(
        snap,
        class_path="enlil_payload:Payload",
        detail={**snap.detail, "import_paths": [str(foreign), str(Path(__file__).parent)]},
    )
    path = write_snapshot(tmp_path / "snaps", crafted, keep=5)
    refused = supervisor_cli("replay", str(path))
    assert refused.returncode == 78
    assert f"replay imports 'enlil_payload' from {foreign / 'enlil_payload.py'}" in refused.stdout
    assert "(the snapshot only)" in refused.stdout
    assert "refusing to import 'enlil_payload'" in refused.stderr
    assert not marker.exists()
    trusted = supervisor_cli("replay", str(path), "--trust")
    assert marker.exists(), trusted.stderr
    assert trusted.returncode == 1, trusted.stdout + trusted.stderr  # reproduced


# -- a secured site: CURVE, ZAP, roles and per-message checks ------------------------------

SECURED = {
    "security": {"curve": True, "roles": {"viewer": "read"}},
    "actors": {
        "doubler": {"class": "mesh_actors:Doubler"},
        "ticker": {"class": "mesh_actors:Ticker"},
    },
}


def _stranger_keys(site: Mesh) -> ClientKeys:
    """A key pair the site never saw, which knows the site's public key."""
    public, secret = zmq.curve_keypair()
    server = KeyFolder(site.site.security.keys).server().public
    return ClientKeys(server, public, secret, Identity(TOOL, "stranger"))


def _refused_everywhere(site: Mesh, ctx: zmq.Context[Any], keys: ClientKeys | None) -> None:
    """A client with *keys* (None: no CURVE) gets nothing from control, publish and
    subscribe: five fresh attempts of each."""
    s = site.site
    for _ in range(5):
        control = curve_socket(ctx, zmq.DEALER, keys)
        control.connect(s.supervisor.control_connect)
        control.send_multipart([b"", msgpack.packb({"id": 1, "op": "status"})])
        assert not control.poll(300), "a refused client got a control reply"
        control.close()
        sub = curve_socket(ctx, zmq.SUB, keys)
        sub.setsockopt(zmq.SUBSCRIBE, b"ticks")
        sub.connect(s.broker.sub_connect)
        assert not sub.poll(300), "a refused client got messages"  # ticks come every 50 ms
        sub.close()
        pub = curve_socket(ctx, zmq.PUB, keys)
        pub.connect(s.broker.pub_connect)
        cursor = site.mark()
        for _ in range(10):  # the doubler would answer each on numbers.out
            pub.send_multipart([b"numbers.in", encode_envelope("x", 1, time.time_ns(), 1.0)])
        pub.close()
    with pytest.raises(MeshError):
        site.wait_for("numbers.out", timeout=0.5, after=cursor)


def test_clients_without_a_known_key_are_refused_on_control_publish_and_subscribe(
    mesh: MeshFactory,
) -> None:
    """No CURVE, an unknown key, and a revoked one: every attempt on the control endpoint
    and on both sides of the broker is refused; the broker and the supervisor count them.
    A key added to the running site works at once, and is refused once revoked."""
    site = mesh.start(SECURED)
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        _refused_everywhere(site, ctx, None)
        _refused_everywhere(site, ctx, _stranger_keys(site))
        added = supervisor_cli("keys", "add", "bob", config=site.config_path)
        assert added.returncode == 0, added.stderr
        bob = KeyFolder(site.site.security.keys).client(Identity(TOOL, "bob"))
        with ControlClient(site.site.supervisor.control_connect, 5.0, ctx, bob) as client:
            assert client.status()["site"] == "test"  # a new key works without a restart
        revoked = supervisor_cli("keys", "revoke", "bob", config=site.config_path)
        assert revoked.returncode == 0, revoked.stderr
        _refused_everywhere(site, ctx, bob)
        site.wait_actor(  # 3 clients x 5 attempts x 2 sides: a failed handshake each
            "broker",
            lambda a: a["stats"].get("rejected", 0) >= 30,
            10,
            "the broker counting the refused connections",
        )
    finally:
        ctx.destroy(linger=0)


def test_an_actor_that_forges_is_dropped_counted_and_reported(mesh: MeshFactory) -> None:
    """With the doubler's own key: another's sender, a topic it does not declare, the
    supervisor's control topic and another's heartbeat are dropped, counted for the
    doubler and reported as ``denied`` events; no other process sees them. What the
    doubler declares still goes through."""
    site = mesh.start(SECURED)
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        doubler = KeyFolder(site.site.security.keys).client(Identity(ACTOR, "doubler"))
        pub = raw_link(ctx, site, doubler)
        now = time.time_ns()
        forged = [
            [b"numbers.out", encode_envelope("ticker", 1, now, 1.0)],  # another's name
            [b"ticks", encode_envelope("doubler", 1, now, 1)],  # not its output
            [b"$sys.control.ticker", encode_envelope("doubler", 1, now, {"op": "commit"})],
            [b"$sys.control.ticker", encode_envelope("supervisor", 1, now, {"op": "commit"})],
            [b"$sys.heartbeat.ticker", encode_envelope("doubler", 1, now, {"pid": 1})],
            [b"numbers.out", b"\x96\x01\xa6doubler", b"a third frame"],
        ]
        cursor = site.mark()
        for frames in forged:
            pub.send_multipart(frames)
        pub.send_multipart([b"numbers.out", encode_envelope("doubler", 10**6, now, 7.0)])
        assert site.wait_for("numbers.out", after=cursor).envelope.payload == 7.0  # declared
        reports = events(site, cursor, "denied", len(forged))
        assert {r["identity"] for r in reports} == {"actor:doubler"}
        assert {r["reason"] for r in reports} == {
            "the envelope names another sender",
            "not allowed to publish this topic",
            "3 frames, not 2",
        }
        site.wait_actor(
            "broker",
            lambda a: a["stats"].get("denied_by", {}).get("actor:doubler") == len(forged),
            10,
            "the broker counting the doubler's denials",
        )
        seen = [
            m
            for m in list(site.messages)
            if (
                m.topic in ("ticks", "$sys.control.ticker", "$sys.heartbeat.ticker")
                and m.envelope.sender in ("doubler", "supervisor")
            )
            or (m.topic == "numbers.out" and m.envelope.sender == "ticker")
        ]
        assert not seen, seen  # the test subscribes to everything: nobody got them
        assert site.actor("ticker")["stats"].get("control_rejected") is None
    finally:
        ctx.destroy(linger=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_roles_hold_and_the_reported_forgeries_fail_on_a_secured_site(mesh: MeshFactory) -> None:
    """What the attackers did to an open site, against a secured one: a tool with the read
    role gets ``forbidden`` for shutdown (an event says so) and may not publish; the
    operator's key cannot silence a producer with a forged sender and sequence, send
    ``commit`` on an actor's control topic or keep an actor alive with forged heartbeats;
    an actor's own malformed heartbeat crashes neither the supervisor nor the Prometheus
    page."""
    port = _free_port()
    config = {
        **SECURED,
        "telemetry": {"prometheus": f"127.0.0.1:{port}"},
        "actors": {**SECURED["actors"], "counter": {"class": "mesh_actors:TickCounter"}},
    }
    site = mesh.start(config)
    assert supervisor_cli("keys", "add", "viewer", config=site.config_path).returncode == 0
    cursor = site.mark()
    refused = supervisor_cli("ctl", "--key", "viewer", "shutdown", config=site.config_path)
    assert refused.returncode == 77  # EX_NOPERM
    assert "forbidden: tool:viewer has role read" in refused.stderr
    assert "'shutdown' needs admin" in refused.stderr
    event = events(site, cursor, "forbidden", 1)[0]
    assert (event["identity"], event["op"]) == ("tool:viewer", "shutdown")
    status = supervisor_cli("ctl", "--key", "viewer", "status", config=site.config_path)
    assert status.returncode == 0, status.stderr  # read is enough for status
    pub = supervisor_cli("pub", "--key", "viewer", "numbers.in", "1", config=site.config_path)
    assert pub.returncode == 77 and "forbidden" in pub.stderr  # asked first: nothing sent

    # The operator (admin) forging: a producer's name and a huge sequence, control, beats.
    cursor = site.mark()
    site.link.pub.send_multipart([b"ticks", encode_envelope("ticker", 2**62, time.time_ns(), 1)])
    for _ in range(6):
        site.link.pub.send_multipart(
            [
                b"$sys.control.doubler",
                encode_envelope("operator", 1, time.time_ns(), {"op": "commit"}),
            ]
        )
    site.link.pub.send_multipart(
        [b"$sys.heartbeat.ticker", encode_envelope("operator", 1, time.time_ns(), {"pid": 1})]
    )
    assert len(events(site, cursor, "denied", 8)) == 8
    before = site.wait_for("ticks.seen", after=cursor).envelope.payload
    site.wait_for("ticks.seen", lambda n: n >= before + 5, after=cursor)  # not silenced
    counter = site.actor("counter")
    assert counter["stats"]["duplicates"] == 0
    assert site.actor("doubler")["state"] == "running"  # no commit reached it

    # The doubler's own heartbeat topic, with its own key and pid, but nonsense inside.
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        doubler = KeyFolder(site.site.security.keys).client(Identity(ACTOR, "doubler"))
        raw = raw_link(ctx, site, doubler)
        junk = {"pid": site.pid("doubler"), "stats": "x", "metrics": [1], "calls": 5, "state": 3}
        junk_metrics = {"pid": site.pid("doubler"), "metrics": {1: "a", "b": {}}, "stats": {2: 1}}
        for beat in (junk, junk_metrics):
            raw.send_multipart([b"$sys.heartbeat.doubler", encode_envelope("doubler", 1, 0, beat)])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            assert b"enlil_up" in page.read()
        assert site.status()["supervisor"]["state"] == "running"
    finally:
        ctx.destroy(linger=0)


def test_a_flooding_connection_is_rate_limited_and_others_are_still_served(
    mesh: MeshFactory,
) -> None:
    """With ``control_rate = 10`` and ``control_burst = 20``: of 200 requests sent at once
    on one connection, 20 are answered and the rest get ``rate_limited`` with a
    ``retry_after``; a second connection is served meanwhile; an oversized request gets a
    clear ``bad_request``."""
    site = mesh.start(
        {
            "supervisor": {"control_rate": 10, "control_burst": 20},
            "actors": {"doubler": {"class": "mesh_actors:Doubler"}},
        }
    )
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        flood = curve_socket(ctx, zmq.DEALER, None)
        flood.connect(site.site.supervisor.control_connect)
        for i in range(200):
            flood.send_multipart([b"", msgpack.packb({"id": i, "op": "status"})])
        replies = []
        while len(replies) < 200 and flood.poll(10_000):
            replies.append(msgpack.unpackb(flood.recv_multipart()[-1]))
        assert len(replies) == 200
        ok = [r for r in replies if r["ok"]]
        limited = [r for r in replies if not r["ok"]]
        assert 20 <= len(ok) <= 25
        assert {r["error"] for r in limited} == {"rate_limited"}
        assert all(r["retry_after"] > 0 for r in limited)
        assert "requests a second from this connection" in limited[0]["message"]
        with ControlClient(site.site.supervisor.control_connect, 5.0, ctx) as other:
            assert other.status()["site"] == "test"
        fresh = curve_socket(ctx, zmq.DEALER, None)
        fresh.connect(site.site.supervisor.control_connect)
        fresh.send_multipart([b"", msgpack.packb({"id": 9, "op": "status", "x": "y" * 70_000})])
        assert fresh.poll(10_000)
        big = msgpack.unpackb(fresh.recv_multipart()[-1])
        assert big["error"] == "bad_request"
        assert "65,536" in big["message"] or "65536" in big["message"], big
    finally:
        ctx.destroy(linger=0)


def test_run_time_additions_load_code_only_in_their_own_process_and_paths_are_confined(
    mesh: MeshFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ctl add`` imports the class in the inspector's and the new actor's processes, never
    in the supervisor's; a HAL param naming a file outside the site (the symlink attack of
    the report) is refused before anything runs, and the file is untouched."""
    marker = tmp_path / "imported"
    monkeypatch.setenv("ENLIL_IMPORT_MARKER", str(marker))
    site = mesh.start({"actors": {"doubler": {"class": "mesh_actors:Doubler"}}})
    added = site.control.request("add", name="marked", **{"class": "import_marker:Marked"})
    assert added["state"] == "running"
    pids = {int(line) for line in marker.read_text().split()}
    supervisor = site.proc.pid
    assert supervisor not in pids
    assert site.pid("marked") in pids
    victim = tmp_path / "root-only"
    victim.write_text("precious")
    refused = supervisor_cli(
        "ctl", "add", "evil", "--class", "hal.sim:RoomSim", "--params",
        json.dumps({"link": str(victim)}), config=site.config_path,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "params.link" in refused.stderr
    assert "is outside the folders the site allows" in refused.stderr
    assert victim.read_text() == "precious" and not victim.is_symlink()
    assert "evil" not in {a["name"] for a in site.status()["actors"]}


def test_check_and_the_actor_itself_refuse_a_path_param_outside_the_site(tmp_path: Path) -> None:
    """A site.toml whose simulator's link points outside the site: ``check`` names the key;
    the actor run by hand refuses to start (exit 78) and touches nothing; ``[security]
    paths`` allows the place."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    site = tmp_path / "site"
    site.mkdir()
    config = site / "site.toml"
    table = (
        '[site]\nname = "p"\n[actors.room]\nclass = "hal.sim:RoomSim"\n'
        f'params = {{ link = "{outside}/dev" }}\n'
    )
    config.write_text(table)
    checked = supervisor_cli("check", config=config)
    assert checked.returncode == 78
    assert "actors.room.params.link:" in checked.stderr
    ran = subprocess.run(
        [sys.executable, "-m", "actors", "room", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.returncode == 78
    assert "is outside the folders the site allows" in ran.stdout + ran.stderr
    assert not (outside / "dev").exists()
    config.write_text(table + f'[security]\npaths = ["{outside}/*"]\n')
    assert "actors.room.params.link" not in supervisor_cli("check", config=config).stderr


def test_tcp_endpoints_are_secured_by_default_and_site_rules_narrow_a_tool(
    mesh: MeshFactory,
) -> None:
    """A site on tcp:// (loopback) uses CURVE without being told; ``[security.access]``
    rules hold for a tool (a deny wins over its role's allow) and widen an actor's reading."""
    ports = [_free_port() for _ in range(3)]
    site = mesh.start(
        {
            "broker": {"pub": f"tcp://127.0.0.1:{ports[0]}", "sub": f"tcp://127.0.0.1:{ports[1]}"},
            "supervisor": {"control": f"tcp://127.0.0.1:{ports[2]}"},
            "security": {
                "roles": {"panel": "operate"},
                "access": {"panel": {"deny_publish": ["numbers.*"], "deny_subscribe": ["ticks"]}},
            },
            "actors": SECURED["actors"],
        }
    )
    assert site.site.secured
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        _refused_everywhere(site, ctx, None)
        assert supervisor_cli("keys", "add", "panel", config=site.config_path).returncode == 0
        cursor = site.mark()
        pub = supervisor_cli("pub", "--key", "panel", "numbers.in", "2", config=site.config_path)
        assert pub.returncode == 77 and "forbidden" in pub.stderr  # asked first: not sent
        tap = supervisor_cli(
            "tap", "--key", "panel", "ticks", "--timeout", "1", config=site.config_path
        )
        assert tap.returncode == 77 and "may not read 'ticks'" in tap.stderr
        keys = KeyFolder(site.site.security.keys).client(Identity(TOOL, "panel"))
        sub = curve_socket(ctx, zmq.SUB, keys)  # as a tool that does not ask first
        sub.setsockopt(zmq.SUBSCRIBE, b"ticks")
        sub.connect(site.site.broker.sub_connect)
        denial = events(site, cursor, "denied", 1)[0]
        assert (denial["what"], denial["topic"]) == ("subscribe", "ticks")  # never made
        other = supervisor_cli("pub", "--key", "panel", "bench.x", "2", config=site.config_path)
        assert other.returncode == 0  # what the rules do not deny, its role allows
    finally:
        ctx.destroy(linger=0)


def test_a_swap_on_a_checked_site_brings_the_new_versions_rights(mesh: MeshFactory) -> None:
    """The new version declares an Output the old one did not: it is inspected before it
    starts, and what it publishes there is delivered, not denied."""
    site = mesh.start(SECURED)
    swapped = site.control.request("swap", name="doubler", **{"class": "mesh_actors:DoublerPlus"})
    assert swapped["pid"] != swapped["old_pid"]
    cursor = site.publish("numbers.in", 4.0)
    assert site.wait_for("numbers.plus", after=cursor).envelope.payload == 5.0
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 8.0
    broker = site.actor("broker")
    assert not broker["stats"].get("denied_by", {}).get("actor:doubler")


def test_an_actor_obeys_only_well_formed_control_from_the_supervisor(mesh: MeshFactory) -> None:
    """On an open site (no broker to check names): a handover request whose envelope names
    anyone but the supervisor, and malformed ones, are counted and ignored: the actor does
    not pause (it would hold every later message), and goes on working."""
    site = mesh.start({"actors": {"doubler": {"class": "mesh_actors:Doubler"}}})
    pid = site.pid("doubler")
    forged = [
        {"op": "handover", "id": 1, "pid": pid},
        {"op": "loglevel", "id": 2, "level": ["not", "a", "level"]},
        "not a request",
    ]
    for payload in forged:
        site.publish("$sys.control.doubler", payload)  # sender "test"
    site.send_frames([b"$sys.control.doubler", b"\x92garbage"])
    site.wait_actor(
        "doubler",
        lambda a: a["stats"].get("control_rejected", 0) == len(forged) + 1,
        10,
        "the doubler counting what it did not obey",
    )
    cursor = site.publish("numbers.in", 3.0)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 6.0  # not paused
    assert site.pid("doubler") == pid
