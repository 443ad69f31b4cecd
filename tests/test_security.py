"""Security of a site: owner-only files whatever the umask, against another local user."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from clitools import supervisor_cli

from actors.core.access import ACTOR, TOOL
from actors.core.wire import encode_envelope
from actors.keys import ClientKeys, Identity, KeyFolder
from actors.sockets import SocketFactory
from actors.testing import Mesh, MeshError, MeshFactory
from supervisor.client import ControlClient

pytestmark = pytest.mark.slow
SYSTEM_PYTHON = "/usr/bin/python3"
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
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
        for p in [root, *root.rglob("*")]
        if not p.is_symlink()
    }


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
    site.wait_until(lambda: any(snapshots.glob("*-exception.*")), 20, "a failure snapshot")
    site.wait_actor("crasher", lambda a: a["state"] == "running", 20, "crasher restarted")
    modes = _modes(run_dir)
    loose = {path: f"{mode:o}" for path, mode in modes.items() if mode & 0o077}
    assert not loose, f"files others may use: {loose}"
    control = site.site.supervisor.control.removeprefix("ipc://")
    snapshot = next(snapshots.glob("*-exception.*"))
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


def test_check_warns_about_a_run_folder_others_can_write_and_the_site_tightens_it(
    mesh: MeshFactory, open_folder: Path
) -> None:
    """``check`` warns about a run folder of mode 777; starting the site makes it 700 and
    says so."""
    run_dir = open_folder / "run"
    run_dir.mkdir()
    run_dir.chmod(0o777)
    site = mesh.start(CRASHER, run_dir=run_dir)
    # the site made it 700 at start: check, run now, finds nothing to say
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert "made it 700" in site.log_path.read_text()
    run_dir.chmod(0o777)
    proc = supervisor_cli("check", config=site.config_path)  # (a lone crasher: design errors)
    assert f"site.run_dir: warning: {run_dir} can be written by other users" in proc.stderr
    run_dir.chmod(0o700)


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
    snap = harness.engine.snapshot("exception", info.value)
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


def _socket(ctx: zmq.Context[Any], kind: int, keys: ClientKeys | None) -> zmq.Socket[Any]:
    sock = SocketFactory(ctx, keys=keys).ctx.socket(kind)
    if keys is not None:
        sock.curve_serverkey = keys.server
        sock.curve_publickey = keys.public
        sock.curve_secretkey = keys.secret
    sock.linger = 0
    return sock


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
        control = _socket(ctx, zmq.DEALER, keys)
        control.connect(s.supervisor.control_connect)
        control.send_multipart([b"", msgpack.packb({"id": 1, "op": "status"})])
        assert not control.poll(300), "a refused client got a control reply"
        control.close()
        sub = _socket(ctx, zmq.SUB, keys)
        sub.setsockopt(zmq.SUBSCRIBE, b"ticks")
        sub.connect(s.broker.sub_connect)
        assert not sub.poll(300), "a refused client got messages"  # ticks come every 50 ms
        sub.close()
        pub = _socket(ctx, zmq.PUB, keys)
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
