"""A site on three hosts, each a network namespace the test makes (veth links to a bridge):
messages cross hosts over CURVE, local traffic stays local through a cut link, and the
hosts report each other lost and back."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import zmq

from actors.core.faults import fires, parse_rule
from actors.core.snapshot import Snapshot
from actors.link import BrokerLink
from actors.testing.hosts import HostSite
from actors.testing.netns import Hosts

pytestmark = pytest.mark.slow
#: Where the actor classes of these tests are.
HERE = (str(Path(__file__).parent),)

#: Three hosts; on each a beacon, and a listener of its own beacon and of another host's.
ACTORS: dict[str, dict[str, Any]] = {
    **{
        f"b{h}": {"class": "host_actors:Beacon", "host": h, "topics": {"n": f"{h}.n"}}
        for h in "abc"
    },
    "la": {"class": "host_actors:Listener", "host": "a", "topics": {"near": "a.n", "far": "b.n"}},
    "lb": {"class": "host_actors:Listener", "host": "b", "topics": {"near": "b.n", "far": "c.n"}},
    "lc": {"class": "host_actors:Listener", "host": "c", "topics": {"near": "c.n", "far": "a.n"}},
    "sp": {"class": "call_actors:SetPoint", "host": "c"},  # a service, on c
    "setting": {"class": "mesh_actors:Setting", "host": "b"},  # a retained topic, on b
    "joiner": {"class": "mesh_actors:LateJoiner", "host": "a", "autostart": False},
}


@contextlib.contextmanager
def three_hosts(**tables: Any) -> Iterator[HostSite]:
    """Three hosts, a, b and c, each running its supervisor (with *tables* in site.toml);
    every namespace, process and socket gone after."""
    with Hosts(["a", "b", "c"]) as hosts:
        site = HostSite(hosts, ACTORS, python_path=HERE, **tables)
        try:
            for host in hosts.names:
                site.start(host)
            for host in hosts.names:
                site.wait_running(host)
            site.wait_linked()
            yield site
        finally:
            problems = site.close()
    assert not hosts.left()
    assert problems == []


@pytest.fixture(scope="module")
def site() -> Iterator[HostSite]:
    """Three hosts, a, b and c (see :func:`three_hosts`), shared by the tests that leave
    them as they found them (a cut mended, an actor restarted or started)."""
    with three_hosts() as running:
        yield running


@pytest.fixture
def own_site() -> Iterator[HostSite]:
    """Three hosts of the test's own (it ends one of them)."""
    with three_hosts() as running:
        yield running


def growing(site: HostSite, host: str, actor: str, topic: str, by: int = 10) -> Any:
    """A check that *actor* on *host* has taken *by* more messages on *topic* than now."""
    start = site.received(host, actor, topic)
    return lambda: site.received(host, actor, topic) >= start + by


def test_messages_cross_hosts_and_local_traffic_outlives_a_cut_link(site: HostSite) -> None:
    """Each listener takes its own host's beacon and another host's. Host c cut off for
    3 s: on each side the local topics keep flowing and no actor restarts; the topics
    that cross resume, with the gaps counted; a and b report c lost, then back."""
    for host, far in (("a", "b.n"), ("b", "c.n"), ("c", "a.n")):
        site.wait(f"l{host} takes {far}", growing(site, host, f"l{host}", far))
    pids = {h: {a["name"]: a["pid"] for a in site.status(h)["actors"]} for h in "abc"}
    events = site.events("a")
    site.hosts.cut("c")
    cut_at = time.monotonic()
    try:
        # Within the cut: local traffic flows on both sides.
        site.wait("lc takes c.n alone", growing(site, "c", "lc", "c.n", by=20), timeout=2.5)
        site.wait("la takes a.n", growing(site, "a", "la", "a.n", by=20), timeout=2.5)
    finally:
        left = 3.0 - (time.monotonic() - cut_at)
        if left > 0:
            time.sleep(left)  # the cut's length, not a synchronisation
        site.hosts.mend("c")
    for by in ("a", "b"):  # every host's events reach every host
        lost = site.wait_event(events, lambda e, by=by: e["event"] == "host_lost" and e["by"] == by)
        assert lost["host"] == "c" and "cut" in lost["reason"], lost
    back = site.wait_event(events, lambda e: e["event"] == "host_back" and e["host"] == "c")
    assert 0 < back["down_s"] < 10.0
    site.wait("lc takes a.n again", growing(site, "c", "lc", "a.n", by=20))
    site.wait("lb takes c.n again", growing(site, "b", "lb", "c.n", by=20))
    gaps = site.actor("c", "lc")["inputs"]["far"]["gaps"]
    assert gaps > 0, "the messages a sent during the cut are counted as missed"
    for host in "abc":
        now = {a["name"]: a["pid"] for a in site.status(host)["actors"]}
        assert now == pids[host], f"no actor of {host} restarted"


def test_a_killed_supervisor_takes_its_actors_and_the_others_say_its_host_is_lost(
    own_site: HostSite,
) -> None:
    """SIGKILL b's supervisor: b's broker and actors end with it (no orphans), a and c
    report b lost, and their own actors go on."""
    site = own_site
    events = site.events("a")
    b = [p for p in site.status("b")["actors"]]
    site.kill("b")
    for by in ("a", "c"):
        lost = site.wait_event(events, lambda e, by=by: e["event"] == "host_lost" and e["by"] == by)
        assert lost["host"] == "b"
    for entry in b:
        site.wait(f"{entry['name']} of b gone", lambda pid=entry["pid"]: not pid_alive(pid))
    site.wait("la takes a.n", growing(site, "a", "la", "a.n", by=20))
    site.wait("lc takes a.n", growing(site, "c", "lc", "a.n", by=20))
    graph = site.cli("a", "ctl", "graph", "--timeout", "3")
    assert graph.returncode == 1, graph.stdout + graph.stderr
    assert "host b did not answer" in graph.stdout
    assert "edge_down: la 'b.n' (from bb.n on b: a takes nothing from b (link down))" in (
        graph.stdout
    )
    assert "edge_down: lb" not in graph.stdout  # b's own actors are down, not its edges
    # A rogue in b's place (with the site's server key, which b had) sends b.n as ba, an
    # actor of a, and as bb, b's own: a refuses the first and says so.
    rogue = site.hosts.run("b", [sys.executable, "-c", _ROGUE, str(site.site("a").security.keys)])
    assert rogue.returncode == 0, rogue.stderr
    denied = site.wait_event(events, lambda e: e["event"] == "denied")
    assert denied["identity"] == "host:b" and "5 message(s)" in denied["reason"], denied


def pid_alive(pid: int) -> bool:
    """Whether process *pid* runs (a zombie does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_wrong_host_address_is_reported_at_start() -> None:
    """Host b's address in site.toml is one no host has: a says so at start, naming it,
    with what to check (never a silent edge)."""
    actors = {
        "ba": {"class": "host_actors:Beacon", "host": "a", "topics": {"n": "a.n"}},
        "lb": {"class": "host_actors:Listener", "host": "b", "topics": {"near": "a.n"}},
    }
    with Hosts(["a", "b"]) as hosts:
        wrong = hosts.address["b"].rsplit(".", 1)[0] + ".99"
        site = HostSite(hosts, actors, addresses={"b": wrong}, python_path=HERE)
        try:
            site.start("a")
            site.wait_running("a")
            events = site.events("a")
            lost = site.wait_event(events, lambda e: e["event"] == "host_lost", timeout=15)
            assert lost["host"] == "b" and lost["by"] == "a"
            assert "never reached" in lost["reason"] and "address" in lost["reason"]
            assert '"event": "host_lost"' in site.log("a")
            site.start("b")  # b runs, but a (and so ctl graph) cannot reach it
            site.wait_running("b")
            graph = site.cli("a", "ctl", "graph", "--timeout", "3")
            assert graph.returncode == 1, graph.stdout + graph.stderr
            assert "host b did not answer" in graph.stdout
            assert "actor_down: lb" in graph.stdout
        finally:
            problems = site.close()
    assert not hosts.left()
    assert problems == []


def test_a_reliable_topic_crosses_hosts_with_no_loss_through_a_cut() -> None:
    """A reliable writer on a, its reader on c, c cut off for 3 s: the writer keeps what c
    has not acknowledged (it learns c's reader from c's host report), and c executes every
    command once, in order, when the link returns; c's status lists a's actors."""
    actors = {
        "boss": {"class": "host_actors:Commands", "host": "a"},
        "worker": {"class": "host_actors:Executor", "host": "c"},
    }
    with Hosts(["a", "c"]) as hosts:
        site = HostSite(hosts, actors, python_path=HERE)
        try:
            for host in ("a", "c"):
                site.start(host)
            for host in ("a", "c"):
                site.wait_running(host)

            def metric(host: str, name: str, key: str) -> int:
                return int(site.actor(host, name)["metrics"][key])

            site.wait("worker executes", lambda: metric("c", "worker", "count") >= 50)
            hosts.cut("c")
            cut_at = time.monotonic()
            sent = metric("a", "boss", "sent")
            site.wait("boss goes on sending", lambda: metric("a", "boss", "sent") > sent + 100)
            time.sleep(max(0.0, 3.0 - (time.monotonic() - cut_at)))  # the cut's length
            hosts.mend("c")
            sent = metric("a", "boss", "sent")
            site.wait("worker catches up", lambda: metric("c", "worker", "last") >= sent)
            worker = site.actor("c", "worker")
            assert worker["metrics"]["out_of_order"] == 0
            assert worker["metrics"]["count"] == worker["metrics"]["last"]
            assert worker["reliable"]["in"]["lost"] == {}, worker["reliable"]
            assert worker["reliable"]["in"]["recovered"]["cmd.n"] > 0  # what the cut dropped
            status = site.status("c")
            assert status["host"] == "c" and status["hosts"]["a"]["link"] == "up"
            assert {a["name"]: a["host"] for a in status["elsewhere"]} == {"boss": "a"}
        finally:
            problems = site.close()
    assert not hosts.left()
    assert problems == []


def test_ctl_on_one_host_restarts_an_actor_of_another(site: HostSite) -> None:
    """``ctl restart lb`` run on host a goes to b's supervisor (over CURVE, with the tool's
    own key): lb restarts; ``ctl status`` on a lists b's and c's actors with their host;
    ``tap`` and ``call`` on a reach c's topic and service; a snapshot says whose clock."""
    old = site.actor("b", "lb")["pid"]
    done = site.cli("a", "ctl", "restart", "lb")
    assert done.returncode == 0, done.stderr
    assert site.actor("b", "lb")["pid"] != old
    shown = site.cli("a", "ctl", "status")
    assert shown.returncode == 0, shown.stderr
    assert "this host: a" in shown.stdout
    rows = [line.split() for line in shown.stdout.splitlines()]
    assert ["lb", "b", "running"] in [r[:3] for r in rows], shown.stdout
    assert ["bc", "c", "running"] in [r[:3] for r in rows], shown.stdout
    tapped = site.cli("a", "tap", "c.n", "--count", "3")  # c's topic, read through a's broker
    assert tapped.returncode == 0 and len(tapped.stdout.splitlines()) == 3, tapped.stderr
    called = site.cli("a", "call", "sp.set", '{"value": 22.5}')  # served on c
    assert called.returncode == 0 and "22.5" in called.stdout, called.stdout + called.stderr
    taken = site.cli("a", "ctl", "snapshot", "lb", "--json")  # b takes it, by its clock
    assert taken.returncode == 0, taken.stderr
    snapshot = Snapshot.decode(Path(json.loads(taken.stdout)["path"]).read_bytes())
    assert snapshot.actor == "lb" and snapshot.host.startswith("b ("), snapshot.host


def test_faults_at_the_host_hop_are_in_the_ledger_and_the_report() -> None:
    """A rule drops 20% of a.n on its way from a to c (for 4 s, once the stream flows: a
    message lost before the first one c takes shows as no gap), another cuts b off for 3 s: c's
    listener counts the drops as gaps (exactly the sequence numbers the seed picks), a and
    c report b lost and back, and ``faults report`` on a finds every fault detected by the
    listeners of the host that took it, with the drops of another hop on the same counter."""
    rules = [
        {"hop": "host", "kind": "drop", "from": "a", "to": "c", "topic": "a.n",
         "probability": 0.2, "after": 3.0, "for": 4.0},
        {"hop": "host", "kind": "partition", "to": "b", "after": 8.0, "for": 3.0},
        {"hop": "deliver", "kind": "drop", "to": "la", "topic": "b.n", "probability": 0.05},
    ]  # fmt: skip
    with three_hosts(faults={"seed": 7, "rules": rules}) as site:
        events = site.events("a")
        lost = site.wait_event(events, lambda e: e["event"] == "host_lost" and e["by"] == "a")
        assert lost["host"] == "b"
        site.wait_event(events, lambda e: e["event"] == "host_back" and e["by"] == "a")
        site.wait("la takes b.n again", growing(site, "a", "la", "b.n"))
        site.wait("lb takes c.n again", growing(site, "b", "lb", "c.n"))
        ledger = site.client("a").request("faults")["entries"]
        drops = sorted(e["seq"] for e in ledger if e["rule"] == 0)
        assert drops and {e["actor"] for e in ledger if e["rule"] == 0} == {"host:c"}
        rule = parse_rule(0, rules[0], "r")
        chosen = [n for n in range(drops[0], drops[-1] + 1) if fires(rule, 7, "ba", "a.n", n)]
        assert drops == chosen  # the seed's picks, every one and no other
        cut = {(e["actor"], e["topic"]) for e in ledger if e["rule"] == 1}
        assert {("host:a", "b.n"), ("host:b", "c.n")} <= cut
        report = site.cli("a", "faults", "report", "--json", "--settle", "0")
        assert report.returncode == 0, report.stdout + report.stderr
        rows = {(r["actor"], r["counter"]): r for r in json.loads(report.stdout)}
        for actor in ("lc", "la", "lb"):
            assert rows[actor, "gaps"]["verdict"] == "detected", rows
        # A host hop is held against the counters as any other: la's gaps are the cut's
        # and its own deliveries' drops together.
        assert rows["la", "gaps"]["kinds"] == ["deliver drop", "host partition"]


def test_a_retained_value_of_one_host_reaches_an_actor_starting_on_another(
    site: HostSite,
) -> None:
    """b's setting is retained: a keeps its last value (b's report names the topic), and
    the joiner started on a later has it in its Inputs before it is ready."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    link = BrokerLink.to_site(ctx, site.site("a"), "test", ["joiner.started"])
    try:
        link.wait_connected(10)
        assert site.cli("a", "pub", "setting.set", "7").returncode == 0
        site.wait("b's setting is 7", lambda: site.received("b", "setting", "setting.set") == 1)
        site.wait(
            "a's supervisor keeps it",
            lambda: site.cli("a", "ctl", "start", "joiner").returncode == 0,
        )
        message = link.recv(20)
        assert message is not None and message.envelope.payload == 7
    finally:
        link.close(linger_ms=0)
        ctx.term()


#: Run in host b's namespace once its supervisor is gone: bind b's link port as b would
#: and, once a asks for b.n, send it 5 times as ``ba`` (a's actor) and 5 times as ``bb``.
_ROGUE = """
import sys, time, zmq
from pathlib import Path
from actors.core.wire import encode_envelope
from actors.keys import KeyFolder
server = KeyFolder(Path(sys.argv[1])).server()
ctx = zmq.Context()
export = ctx.socket(zmq.XPUB)
export.curve_server, export.curve_secretkey = True, server.secret
export.bind("tcp://*:5570")
while export.poll(20_000) and export.recv() != b"\\x01b.n":
    pass
for sender in ("ba", "bb"):
    for n in range(5):
        export.send_multipart([b"b.n", encode_envelope(sender, 10_000 + n, time.time_ns(), n)])
export.close(linger=5000)
ctx.term()
"""


#: Run in a host's namespace: connect to another host's link port with a key, and say
#: whether the handshake passed (``up``) or was refused (``refused``).
_LINK_PROBE = """
import sys, zmq
from pathlib import Path
from zmq.utils.monitor import recv_monitor_message
from actors.keys import Identity, KeyFolder
folder, kind, name, address = sys.argv[1:5]
keys = KeyFolder(Path(folder)).client(Identity(kind, name))
ctx = zmq.Context()
sock = ctx.socket(zmq.XSUB)
sock.curve_serverkey, sock.curve_publickey = keys.server, keys.public
sock.curve_secretkey = keys.secret
events = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
monitor = sock.get_monitor_socket(events)
sock.connect(address)
if not monitor.poll(10_000):
    print("silent")
else:
    event = recv_monitor_message(monitor)["event"]
    print("up" if event == zmq.EVENT_HANDSHAKE_SUCCEEDED else "refused")
sock.disable_monitor(); monitor.close(0); sock.close(0); ctx.term()
"""


def test_a_link_port_lets_in_host_keys_only(site: HostSite) -> None:
    """b's link port takes a's host key and refuses the operator's tool key (CURVE, ZAP):
    a tool cannot pose as a host to read what crosses."""
    folder = str(site.site("a").security.keys)
    address = site.site("a").hosts["b"].link
    for kind, name, expected in (("host", "a", "up"), ("tool", "operator", "refused")):
        probe = site.hosts.run(
            "a", [sys.executable, "-c", _LINK_PROBE, folder, kind, name, address]
        )
        assert probe.stdout.strip() == expected, (kind, probe.stdout, probe.stderr)
