"""``deploy systemd|container|kubernetes``: units that systemd-analyze accepts, manifests
that validate against Kubernetes' schemas, an image file whose command starts the demo
site with no network; and the supervisor's side of it (systemd's notify protocol, the
ready file)."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
import yaml
from clitools import supervisor_cli

from actors.site import parse_site
from actors.testing.mesh import MeshFactory
from actors.testing.netns import Hosts
from supervisor.deploy.install_keys import install

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "deploy" / "example"

pytestmark = pytest.mark.slow


def three_host_site(folder: Path) -> Path:
    """A site of three hosts, its keys made (as ``keys init`` does)."""
    data = {
        "site": {"name": "plant", "python_path": [str(Path(__file__).parent)]},
        "hosts": {
            "base": {"address": "10.9.0.1"},
            "arm": {"address": "10.9.0.2"},
            "cam": {"address": "cam.local", "port": 6000, "control_port": 6001},
        },
        "actors": {
            "ba": {"class": "host_actors:Beacon", "topics": {"n": "base.n"}},
            "la": {"class": "host_actors:Listener", "host": "arm", "topics": {"far": "base.n"}},
        },
    }
    path = folder / "site.toml"
    path.write_text(tomli_w.dumps(data))
    done = supervisor_cli("keys", "init", config=path)
    assert done.returncode == 0, done.stderr
    return path


def deploy(engine: str, config: Path, out: Path, *extra: str) -> list[Path]:
    """Run ``deploy ENGINE``; the files it wrote."""
    done = supervisor_cli("deploy", engine, "--out", str(out), *extra, config=config)
    assert done.returncode == 0, done.stderr
    return [Path(line) for line in done.stdout.split()]


def test_the_systemd_units_pass_systemd_analyze(tmp_path: Path) -> None:
    """A unit per host (``--host``: that one), Type=notify with a watchdog, each accepted by
    ``systemd-analyze verify``; owner-only files."""
    config = three_host_site(tmp_path)
    units = deploy("systemd", config, tmp_path / "units")
    assert sorted(u.name for u in units) == [
        "enlil-plant-arm.service",
        "enlil-plant-base.service",
        "enlil-plant-cam.service",
    ]
    for demo in deploy("systemd", DEMO / "site.toml", tmp_path / "demo"):
        units.append(demo)
    for unit in units:
        text = unit.read_text()
        assert "Type=notify" in text and "WatchdogSec=" in text and "ProtectSystem=strict" in text
        assert stat.S_IMODE(unit.stat().st_mode) == 0o600
        done = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0 and not done.stderr.strip(), (unit.name, done.stderr)
    arm = (tmp_path / "units" / "enlil-plant-arm.service").read_text()
    assert f"--config {config} --host arm" in arm
    only = deploy("systemd", config, tmp_path / "one", "--host", "cam")
    assert [u.name for u in only] == ["enlil-plant-cam.service"]


def test_the_kubernetes_manifests_validate(tmp_path: Path) -> None:
    """A StatefulSet (node selection, readiness from the ready file) and a Service per host,
    the config with each host at its Service's name, the keys as a Secret: every document
    valid against the Kubernetes schemas (strict), the file owner-only."""
    config = three_host_site(tmp_path)
    [manifest] = deploy("kubernetes", config, tmp_path / "k8s", "--image", "reg/plant:1")
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    done = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--no-warn", str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    docs = list(yaml.safe_load_all(manifest.read_text()))
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    per_host = [
        (k, f"enlil-plant-{h}") for h in ("base", "arm", "cam") for k in ("Service", "StatefulSet")
    ]
    assert kinds == sorted(
        [("ConfigMap", "enlil-plant-config"), ("Secret", "enlil-plant-keys"), *per_host]
    )
    sets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
    pod = sets["enlil-plant-cam"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"enlil.io/host": "cam"}
    main = pod["containers"][0]
    assert main["args"][-2:] == ["--host", "cam"] and main["image"] == "reg/plant:1"
    assert "ready" in main["readinessProbe"]["exec"]["command"][-1]
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    [config_map] = [d for d in docs if d["kind"] == "ConfigMap"]
    text = config_map["data"]["site.toml"]
    for host in ("base", "arm", "cam"):  # each pod reads it as its own host
        view = parse_site(tomllib.loads(text), Path("/etc/enlil/site.toml"), host)
        assert view.hosts["cam"].address == "enlil-plant-cam"
        assert view.site.run_dir == Path(f"/site/run/{host}")
    [secret] = [d for d in docs if d["kind"] == "Secret"]
    assert "tools__operator.key_secret" in secret["data"] and "hosts__arm.key" in secret["data"]


def test_the_init_container_installs_the_keys_owner_only(tmp_path: Path) -> None:
    """The Secret's flat names become the key folder's paths, 0600 in 0700 folders; a name
    that would leave the folder is refused."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "site.key").write_bytes(b"public")
    (secret / "tools__operator.key_secret").write_bytes(b"secret")
    (secret / "..data").mkdir()  # the Secret volume's own entries are skipped
    folder = tmp_path / "keys"
    written = install(secret, folder)
    assert sorted(p.relative_to(folder).as_posix() for p in written) == [
        "site.key",
        "tools/operator.key_secret",
    ]
    assert (folder / "tools" / "operator.key_secret").read_bytes() == b"secret"
    for path in (folder / "tools", folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "site.key").stat().st_mode) == 0o600
    (secret / "tools__..__..__escape").write_bytes(b"x")
    with pytest.raises(ValueError, match="outside"):
        install(secret, folder)


def _image_command(containerfile: str) -> list[str]:
    """The image's command: its ENTRYPOINT and CMD, exec form."""
    entry = cmd = []
    for line in containerfile.splitlines():
        if line.startswith("ENTRYPOINT "):
            entry = json.loads(line.removeprefix("ENTRYPOINT "))
        if line.startswith("CMD "):
            cmd = json.loads(line.removeprefix("CMD "))
    return [*entry, *cmd]


def test_the_image_starts_the_demo_site_with_no_network(tmp_path: Path) -> None:
    """The image file installs everything when built and leaves the key and run folders
    out of it; its command, run as the image runs it (the site's folder copied to /site's
    place, the ignored paths left out) in a network namespace with nothing but loopback,
    starts the demo site: every actor runs (the ready file), and SIGTERM stops it."""
    [containerfile, ignore] = deploy("container", DEMO / "site.toml", tmp_path / "image")
    text = containerfile.read_text()
    assert text.startswith("# The image of enlil site 'demo'") and "\nFROM " in text
    assert "pip install" in text.split("ENTRYPOINT")[0]  # at build time only
    command = _image_command(text)
    assert command[:3] == ["python", "-m", "supervisor"] and "pip" not in " ".join(command)
    assert "deploy/example/run" in ignore.read_text().splitlines()
    site = Path(tempfile.mkdtemp(prefix="enlil-img"))
    try:
        shutil.copytree(DEMO, site, dirs_exist_ok=True, ignore=shutil.ignore_patterns("run"))
        inside = [
            str(site) + a.removeprefix("/site") if a.startswith("/site/") else a for a in command
        ]
        argv = [sys.executable, *inside[1:]]
        with Hosts(["box"]) as hosts:
            log = (site / "out.log").open("wb")
            proc = hosts.popen("box", argv, stdout=log, stderr=subprocess.STDOUT, cwd=site)
            log.close()
            try:
                deadline = time.monotonic() + 90
                while not (site / "run" / "ready").exists():
                    assert proc.poll() is None, (site / "out.log").read_text()[-3000:]
                    assert time.monotonic() < deadline, "the demo site did not get ready"
                    time.sleep(0.1)  # a poll of the ready file, bounded by the deadline
            finally:
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(30)
            assert code == 0, (site / "out.log").read_text()[-3000:]
        assert not (site / "run" / "ready").exists()  # not ready once stopped
        assert not hosts.left()
    finally:
        shutil.rmtree(site)


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    """A datagram socket standing in for systemd's notify socket."""
    folder = Path(tempfile.mkdtemp(prefix="enlil-n"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(folder / "notify"))
    sock.settimeout(30)
    try:
        yield sock
    finally:
        sock.close()
        shutil.rmtree(folder)


def test_the_supervisor_speaks_systemds_notify_protocol(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch, mesh: MeshFactory
) -> None:
    """Under ``Type=notify``: READY=1 once every actor runs (and the ready file), WATCHDOG=1
    from the loop at half ``WATCHDOG_USEC``, STOPPING=1 at shutdown (the file gone)."""
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.getsockname())
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    site = mesh.start({"actors": {"t": {"class": "mesh_actors:Ticker"}}})
    said: list[str] = []

    def wait_for(word: str) -> None:
        while not any(word in s for s in said):
            said.append(notify_socket.recv(4096).decode())

    wait_for("READY=1")
    assert (site.site.site.run_dir / "ready").exists()
    assert stat.S_IMODE((site.site.site.run_dir / "ready").stat().st_mode) == 0o600
    ready_at = len(said)
    wait_for("WATCHDOG=1")
    pings = 0
    while pings < 3:  # the loop goes on pinging
        said.append(notify_socket.recv(4096).decode())
        pings += said[-1] == "WATCHDOG=1"
    assert "STATUS=running, 1 actors" in said[ready_at - 1]
    site.proc.send_signal(signal.SIGTERM)
    wait_for("STOPPING=1")
    site.proc.wait(30)
    assert not (site.site.site.run_dir / "ready").exists()
