"""The spine with real processes: supervisor, broker and actors over real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import psutil
import pytest
import zmq
from clitools import supervisor_cli

from actors.core.wire import encode_envelope
from actors.testing import Mesh, MeshFactory, wait_gone

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
DEMO = HERE.parent / "deploy" / "example"
SIMPLE = {
    "actors": {
        "doubler": {"class": "mesh_actors:Doubler"},
        "crasher": {"class": "mesh_actors:Crasher"},
    }
}


def cli(mesh: Mesh, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``python -m supervisor ARGS --config <the mesh's site.toml>``."""
    return supervisor_cli(*args, config=mesh.config_path, timeout=timeout)


def supervisor_log(mesh: Mesh) -> list[dict[str, Any]]:
    """The supervisor's JSON log records (its children's lines included)."""
    records = []
    for line in mesh.log_path.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def start_demo(mesh: MeshFactory) -> Mesh:
    """The demo site, once every actor runs (the modes actor starts the thermostat and the
    console, in mode auto, after the site is up)."""
    site = mesh.start({"site": {"python_path": [str(DEMO)]}, "actors": _demo_actors()})
    site.wait_status(
        lambda s: all(a["state"] == "running" for a in s["actors"]), 30, "the auto mode up"
    )
    return site


def test_demo_site_runs_and_answers_status_and_tap(mesh: MeshFactory) -> None:
    """The demo site starts; ctl status --json lists every process; tap shows heater commands."""
    site = start_demo(mesh)
    proc = cli(site, "ctl", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    names = {a["name"]: a for a in status["actors"]}
    assert set(names) == {
        "broker",
        "status",
        "log",
        "device",
        "room",
        "sensor",
        "modes",
        "thermostat",
        "console",
        "recorder",
    }
    for record in names.values():
        assert record["state"] == "running"
        assert psutil.pid_exists(record["pid"])
    proc = cli(site, "tap", "heater.command", "--count", "2")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 2
    assert all(m["topic"] == "heater.command" and m["sender"] == "thermostat" for m in lines)
    assert all(isinstance(m["payload"], bool) for m in lines)
    # The device's frames and the serial link's status, through a real SerialLink on a pty.
    proc = cli(site, "tap", "room.*", "--count", "12")
    assert proc.returncode == 0, proc.stderr
    seen = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {m["sender"] for m in seen} == {"room"}
    assert any(m["topic"] == "room.rx" and m["payload"].startswith("T ") for m in seen)
    assert any(m["topic"] == "room.connected" and m["payload"] is True for m in seen)
    # Several topics at once (#13: tap took one).
    proc = cli(site, "tap", "heater.command", "room.rx", "--count", "20")
    assert proc.returncode == 0, proc.stderr
    assert {json.loads(line)["topic"] for line in proc.stdout.splitlines()} == {
        "heater.command",
        "room.rx",
    }
    table = cli(site, "ctl", "status")
    assert "thermostat" in table.stdout and "running" in table.stdout
    proc = cli(site, "tap", "$sys.status.*", "--count", "3")
    assert proc.returncode == 0, proc.stderr
    topics = {json.loads(line)["topic"] for line in proc.stdout.splitlines()}
    # The status actor publishes the actors marked `status = true` and the site.
    assert topics <= {"$sys.status.sensor", "$sys.status.thermostat", "$sys.status.site"}
    assert topics
    # The log actor pushes the site's log records: restart an actor to make some. (Read on
    # the test's own link, subscribed before the restart: a tap started after it could come
    # up after the records went by, and wait for ever on a loaded machine.)
    cursor = site.mark()
    site.request("restart", name="console")
    message = site.wait_for("$sys.log.*", after=cursor)
    assert message.envelope.sender == "log" and message.topic.startswith("$sys.log.")


def _demo_actors() -> dict[str, Any]:
    import tomllib

    data = tomllib.loads((DEMO / "site.toml").read_text())
    actors: dict[str, Any] = data["actors"]
    return actors


def test_actors_start_after_their_dependencies_are_ready(mesh: MeshFactory) -> None:
    """Each actor is spawned only after every actor in its ``after`` list is ready."""
    site = start_demo(mesh)
    events = [
        (r["event"], r.get("actor"))
        for r in supervisor_log(site)
        if r.get("process") == "supervisor" and r["event"] in ("spawned", "ready")
    ]
    for actor, deps in _demo_actors().items():
        spawned = events.index(("spawned", actor))
        for dep in deps.get("after", []):
            assert events.index(("ready", dep)) < spawned, (actor, dep, events)


def test_kill_9_restarts_the_actor_and_the_site_keeps_working(mesh: MeshFactory) -> None:
    """A SIGKILLed actor comes back with a new pid and restart count 1, and works."""
    site = mesh.start(SIMPLE)
    old = site.kill("doubler", signal.SIGKILL)
    record = site.wait_restarted("doubler", old)
    assert record["restarts"] == 1
    assert record["last_exit"] == "killed by SIGKILL"
    cursor = site.publish("numbers.in", 4)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 8.0
    assert site.actor("crasher")["restarts"] == 0


def test_an_exception_in_step_is_restarted(mesh: MeshFactory) -> None:
    """An unanticipated exception exits the actor with 70; the supervisor restarts it."""
    site = mesh.start(SIMPLE)
    old = site.pid("crasher")
    cursor = site.publish("crash.in", "hello")
    assert site.wait_for("crash.out", after=cursor).envelope.payload["pid"] == old
    site.publish("crash.in", "crash")
    record = site.wait_restarted("crasher", old)
    assert record["last_exit"] == "exit code 70"
    cursor = site.publish("crash.in", "again")
    assert site.wait_for("crash.out", after=cursor).envelope.payload["pid"] == record["pid"]


def test_sigterm_to_the_supervisor_stops_everything_cleanly(mesh: MeshFactory) -> None:
    """SIGTERM: every child exits, the supervisor exits 0, no socket file is left."""
    site = mesh.start(SIMPLE)
    children = [psutil.Process(a["pid"]) for a in site.status()["actors"]]
    site.proc.send_signal(signal.SIGTERM)
    assert site.proc.wait(timeout=30) == 0
    assert not wait_gone(children, timeout=10)
    assert not list(site.root.rglob("*.sock"))
    log = supervisor_log(site)
    stopped = [r["actor"] for r in log if r.get("event") == "stopped"]
    assert stopped[-1] == "broker"


def test_sigkill_to_the_supervisor_takes_every_child_with_it(mesh: MeshFactory) -> None:
    """SIGKILL: actors and broker are gone within 2 s (they die with their parent)."""
    site = mesh.start(SIMPLE)
    children = [psutil.Process(a["pid"]) for a in site.status()["actors"]]
    site.kill_supervisor(signal.SIGKILL)
    site.proc.wait(timeout=10)
    alive = wait_gone(children, timeout=2.0)
    assert not alive, [p.pid for p in alive]


def test_malformed_traffic_crashes_nothing_and_is_counted(mesh: MeshFactory) -> None:
    """Garbage at the broker's port, bad msgpack and wrong types at an actor are counted."""
    site = mesh.start(SIMPLE)
    pids = {a["name"]: a["pid"] for a in site.status()["actors"]}
    # Garbage straight at the broker's socket: random bytes, HTTP, a ZMTP greeting with an
    # unknown security mechanism. None completes a handshake; each is counted as rejected.
    garbage = [
        os.urandom(200),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00" + b"NOPE".ljust(20, b"\x00") + b"\x00" * 32,
    ]
    for data in garbage:
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(site.site.broker.pub.removeprefix("ipc://"))
        raw.sendall(data)
        raw.close()
    # Through the broker to the actor: bad msgpack, a bad envelope, a wrong type, one frame.
    site.send_frames([b"numbers.in", b"\xc1\xc1\xc1"])
    site.send_frames([b"numbers.in", msgpack.packb({"not": "an envelope"})])
    site.send_frames([b"numbers.in", msgpack.packb([7, "x", 1, 0, None, 1.0])])
    site.send_frames([b"numbers.in", encode_envelope("evil", 1, 0, "not a number")])
    site.send_frames([b"numbers.in"])
    site.send_frames([b"numbers.in", b"x", b"y"])  # one malformed: three frames, read whole
    cursor = site.publish("numbers.in", 5)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 10.0
    record = site.wait_actor(
        "doubler",
        lambda a: a["stats"].get("accepted") == 1 and a["stats"].get("malformed") == 4,
        what="counters",
    )
    stats = record["stats"]
    assert stats["unsupported_version"] == 1
    assert stats["type_rejected"] == 1
    broker = site.wait_actor(
        "broker",
        lambda a: a["stats"].get("rejected", 0) >= len(garbage),
        what="the broker counting the rejected peers",
    )
    assert broker["pid"] == pids["broker"]
    assert {a["name"]: a["pid"] for a in site.status()["actors"]} == pids


def test_frames_smuggled_after_a_message_are_not_a_message(mesh: MeshFactory) -> None:
    """``[topic, envelope, topic, envelope2]`` is one malformed multipart, not two messages."""
    site = mesh.start(SIMPLE)
    good = encode_envelope("tool", 1, 0, 3)
    forged = encode_envelope("producer", 2**62, 0, 1000)
    before = site.mark()
    site.send_frames([b"numbers.in", good, b"numbers.in", forged])
    site.send_frames([b"numbers.in", good, b"numbers.in"])
    site.publish("numbers.in", 5)
    # The first answer is to the one real message: neither 6 (the pair) nor 2000 (smuggled).
    assert site.wait_for("numbers.out", after=before).envelope.payload == 10.0
    record = site.wait_actor(
        "doubler",
        lambda a: a["stats"].get("accepted") == 1 and a["stats"].get("malformed") == 2,
        what="counters",
    )
    assert record["stats"].get("gaps", 0) == 0


def test_the_control_endpoint_answers_garbage_with_typed_errors(mesh: MeshFactory) -> None:
    """Every request gets a reply: bad msgpack, unknown ops and unknown actors included."""
    site = mesh.start(SIMPLE)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(site.site.supervisor.control_connect)
    try:
        for body, kind in [
            (b"\xc1", "bad_request"),
            (msgpack.packb({"id": 9, "op": "dance"}), "unknown_op"),
            (msgpack.packb({"id": 10, "op": "stop", "name": "ghost"}), "unknown_actor"),
        ]:
            sock.send_multipart([b"", body])
            assert sock.poll(10_000), "no reply"
            reply = msgpack.unpackb(sock.recv_multipart()[-1])
            assert reply["ok"] is False and reply["error"] == kind, reply
    finally:
        sock.close()
    assert site.status()["supervisor"]["state"] == "running"


def test_ctl_stop_start_restart(mesh: MeshFactory) -> None:
    """Commanded stops are not restarted and do not count; start and restart wait for ready."""
    site = mesh.start(SIMPLE)
    old = site.pid("doubler")
    proc = cli(site, "ctl", "stop", "doubler", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == "stopped"
    assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE
    record = site.actor("doubler")
    assert record["state"] == "stopped" and record["restarts"] == 0
    started = site.request("start", name="doubler")
    assert started["state"] == "running" and started["pid"] != old
    restarted = site.request("restart", name="doubler")
    assert restarted["pid"] != started["pid"] and restarted["restarts"] == 0
    proc = cli(site, "ctl", "restart", "ghost")
    assert proc.returncode == 1 and "unknown_actor" in proc.stderr
    cursor = site.publish("numbers.in", 1.5)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 3.0


def test_pub_cli_publishes_one_message(mesh: MeshFactory) -> None:
    """``python -m supervisor pub TOPIC JSON`` reaches subscribers."""
    site = mesh.start(SIMPLE)
    cursor = site.mark()
    proc = cli(site, "pub", "numbers.in", "21")
    assert proc.returncode == 0, proc.stderr
    message = site.wait_for("numbers.out", after=cursor)
    assert message.envelope.payload == 42.0
    bad = cli(site, "pub", "numbers.in", "{not json")
    assert bad.returncode == 2 and "not JSON" in bad.stderr


def test_one_actor_runs_standalone_in_the_foreground(mesh: MeshFactory) -> None:
    """``python -m actors NAME`` runs against the site's broker; Ctrl-C stops it cleanly."""
    site = mesh.start(SIMPLE)
    site.request("stop", name="doubler")
    proc = subprocess.Popen(
        [sys.executable, "-m", "actors", "doubler", "--config", str(site.config_path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        site.wait_for("$sys.heartbeat.doubler", lambda p: p["pid"] == proc.pid, timeout=30)
        cursor = site.publish("numbers.in", 8)
        assert site.wait_for("numbers.out", after=cursor).envelope.payload == 16.0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "actor stopped" in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert site.actor("doubler")["state"] == "stopped"


def test_escalation_shuts_the_site_down_with_exit_1(mesh: MeshFactory) -> None:
    """More failures than max_restarts within max_seconds stop the whole site."""
    site = mesh.start(
        {"supervisor": {"max_restarts": 1, "max_seconds": 60}, "actors": SIMPLE["actors"]}
    )
    old = site.pid("crasher")
    site.publish("crash.in", "crash")
    site.wait_restarted("crasher", old)
    site.publish("crash.in", "crash")
    assert site.proc.wait(timeout=30) == 1
    reasons = [r for r in supervisor_log(site) if r.get("event") == "escalated"]
    assert "'crasher' failed 2 times" in reasons[0]["reason"]


def test_temporary_actor_is_not_restarted(mesh: MeshFactory) -> None:
    """restart = "temporary" leaves a crashed actor stopped; the others keep running."""
    site = mesh.start(
        {
            "actors": {
                "doubler": {"class": "mesh_actors:Doubler"},
                "crasher": {"class": "mesh_actors:Crasher", "restart": "temporary"},
            }
        }
    )
    site.publish("crash.in", "crash")
    record = site.wait_actor("crasher", lambda a: a["state"] == "stopped", what="crasher down")
    assert record["last_exit"] == "exit code 70"
    assert site.actor("doubler")["state"] == "running"


def test_a_second_supervisor_for_the_same_site_is_refused(mesh: MeshFactory) -> None:
    """Two supervisors cannot share a run directory."""
    site = mesh.start(SIMPLE)
    proc = cli(site)
    assert proc.returncode == 69
    assert "already running" in proc.stderr
    assert site.status()["supervisor"]["state"] == "running"


def test_a_killed_broker_is_restarted_and_actors_reconnect(mesh: MeshFactory) -> None:
    """kill -9 of the broker: a new broker binds the same endpoints; traffic resumes."""
    site = mesh.start(SIMPLE)
    old = site.kill("broker", signal.SIGKILL)
    record = site.wait_restarted("broker", old)
    assert record["restarts"] == 1
    site.link.wait_connected(20)
    # Until the actors have re-subscribed through the new broker, publish again.
    for attempt in range(200):
        cursor = site.publish("numbers.in", attempt)
        try:
            message = site.wait_for("numbers.out", timeout=0.1, after=cursor)
        except AssertionError:
            continue
        assert message.envelope.payload == 2.0 * attempt
        break
    else:
        pytest.fail("the doubler never answered through the new broker")


def test_gaps_per_input_show_in_status(mesh: MeshFactory) -> None:
    """Missing sequence numbers are counted per Input in ctl status (and the metrics)."""
    site = mesh.start(SIMPLE)
    for seq in (1, 2, 6):
        site.send_frames([b"numbers.in", encode_envelope("gappy", seq, 0, float(seq))])
    record = site.wait_actor(
        "doubler", lambda a: a["inputs"].get("value", {}).get("gaps") == 3, what="gaps"
    )
    assert record["inputs"]["value"] == {"gaps": 3, "duplicates": 0}
    assert record["stats"]["gaps"] == 3


@pytest.mark.slow
def test_a_publisher_is_asked_for_everything_from_its_first_connection(
    mesh: MeshFactory,
) -> None:
    """The broker subscribes its publishers to everything as they connect: a message sent
    right after a new subscriber became ready is never dropped at a publisher that has not
    heard of that subscription yet (ZeroMQ's slow joiner; a test under load lost one).
    An XPUB in a publisher's place sees what the broker asks of it: everything, first."""
    # The test's own link reads one topic only (with "*" it would ask for everything).
    site = mesh.start(
        {"actors": {"chatty": {"class": "mesh_actors:Chatty"}}}, subscribe=["chatty.out"]
    )
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    publisher = ctx.socket(zmq.XPUB)
    try:
        publisher.connect(site.site.broker.pub_connect)
        asked = []
        while b"\x01" not in asked:  # subscribe: every topic
            assert publisher.poll(10_000, zmq.POLLIN), f"the broker asked only {asked}"
            asked.append(publisher.recv())
    finally:
        publisher.close(linger=0)
        ctx.term()
