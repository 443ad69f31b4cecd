"""The live web view: its pure core, its server, and the page in real headless Chromium."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from browser import Browser

from actors.site import ConfigError
from actors.site.parse import parse_site
from actors.testing import Mesh, MeshFactory, wait_gone
from supervisor.core.webfeed import FLASH, TAP_KEPT, SiteView, Tap, event_row

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TOOLS = Path(__file__).resolve().parent.parent / "tools" / "js"
TOKEN = "a-test-token-0123456789"
READ_TOKEN = "a-read-only-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def record(name: str, received: int, out: dict[str, int], state: str = "running") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "actor",
        "state": state,
        "pid": 10,
        "restarts": 0,
        "uptime": 1.0,
        "stats": {"received": received, "published": sum(out.values()), "gaps": 2},
        "topics": {"in": {"count.n": received}, "out": out, "gaps": {"count.n": 2}},
        "faults": {"0": 3},
    }


def test_the_view_has_rates_edges_faults_and_marks_an_exit() -> None:
    """Pure: rates from two replies a second apart; each edge with its rate, gaps and
    faults; an exited actor marked at once and for FLASH seconds."""
    view = SiteView()
    first = {"actors": [record("a", 100, {"count.m": 50})]}
    view.update(first, now=10.0)
    view.take_fault({"hop": "deliver", "topic": "count.n", "actor": "a", "kind": "drop"})
    view.take_fault({"hop": "deliver", "topic": "count.n", "actor": "a", "edge": "lost"})
    msg = view.update({"actors": [record("a", 300, {"count.m": 150})]}, now=12.0)
    row = msg["actors"][0]
    assert (row["in_rate"], row["out_rate"], row["gaps"], row["faults"]) == (100.0, 50.0, 2, 3)
    edges = {(e["from"], e["to"]): e for e in msg["graph"]["edges"]}
    into = edges[("t:count.n", "a:a")]
    assert (into["rate"], into["gaps"], into["faults"]) == (100.0, 2, 1)
    assert edges[("a:a", "t:count.m")]["rate"] == 50.0
    marked = view.exited("a", 12.5, msg)
    assert marked is not None and marked["actors"][0]["recent_exit"] is True
    assert marked["graph"]["nodes"][0]["state"] == "exited"
    assert view.new_gaps == []
    more = record("a", 400, {"count.m": 200})
    more["stats"]["gaps"] = 7
    view.update({"actors": [more]}, now=12.2)
    assert view.new_gaps == [("a", 5, 7)]
    for _ in range(4):  # step crashes: each ended a process, whose counts went with it
        view.take_fault({"hop": "step", "topic": "tick", "actor": "a", "kind": "crash"})
    assert view.update({"actors": [more]}, now=12.3)["actors"][0]["faults"] == 5
    later = view.update({"actors": [record("a", 10, {"count.m": 5})]}, now=12.5 + FLASH / 2)
    assert later["actors"][0]["recent_exit"] and later["actors"][0]["in_rate"] > 0  # a reset
    assert not view.update(first, now=13 + FLASH)["actors"][0]["recent_exit"]


def test_a_reliable_readers_edge_says_how_far_behind_it_is() -> None:
    """Pure: the edge from a reliable topic to each reader carries what its writer sent
    that the reader has not acknowledged (the page labels it, and colours it from 100)."""
    writer = record("w", 0, {"cmd.x": 500})
    writer["reliable"] = {
        "out": {"cmd.x": {"unacked": 380, "last": 500, "readers": {"fast": 500, "slow": 120}}}
    }
    readers = []
    for name, took in (("fast", 500), ("slow", 120)):
        reader = record(name, took, {})
        reader["topics"] = {"in": {"cmd.x": took}, "out": {}, "gaps": {}}
        readers.append(reader)
    msg = SiteView().update({"actors": [writer, *readers]}, now=1.0)
    edges = {(e["from"], e["to"]): e for e in msg["graph"]["edges"]}
    assert edges[("t:cmd.x", "a:slow")]["behind"] == 380
    assert edges[("t:cmd.x", "a:fast")]["behind"] == 0
    assert "behind" not in edges[("a:w", "t:cmd.x")]
    script = (Path(__file__).resolve().parent.parent / "supervisor/web/static/app.js").read_text()
    assert "behind ${capped(e.behind)}" in script and "const BEHIND = 100;" in script


def test_feed_rows_and_a_bounded_tap() -> None:
    """Pure: lifecycle events, faults and warnings become feed lines (info logs do not);
    a tap keeps at most TAP_KEPT messages per push and measures its rate."""
    exited = event_row("$sys.event", "sup", {"event": "exited", "actor": "a", "exit": "x"}, 1.0)
    assert exited is not None and (exited["level"], exited["actor"]) == ("error", "a")
    fault = event_row("$sys.fault", "a", {"hop": "deliver", "kind": "drop", "topic": "t"}, 1.0)
    assert fault is not None and fault["category"] == "fault"
    log = {"event": "port lost", "level": "warning", "actor": "room", "process": "room"}
    assert event_row("$sys.log.room", "log", log, 1.0)["text"] == "port lost"  # type: ignore[index]
    assert event_row("$sys.log.room", "log", {**log, "level": "info"}, 1.0) is None
    assert event_row("$sys.event", "x", "not a map", 1.0) is None
    tap = Tap("fast")
    tap.drain(0.0)
    for n in range(1000):
        tap.take("s", n, n, 0.0)
    batch = tap.drain(2.0)
    assert len(batch["messages"]) == TAP_KEPT and batch["messages"][-1]["seq"] == 999
    assert batch["count"] == 1000 and batch["rate"] == 500.0


def test_check_names_a_bad_web_key(tmp_path: Path) -> None:
    data = {
        "site": {"name": "w"},
        "web": {"listen": "127.0.0.1:99999", "token": "short", "colour": "red"},
        "actors": {"a": {"class": "mesh_actors:Counter"}},
    }
    with pytest.raises(ConfigError) as info:
        parse_site(data, tmp_path / "site.toml")
    assert {p.key for p in info.value.problems} == {"web.listen", "web.token", "web.colour"}
    data["web"] = {"listen": ":8080"}
    assert parse_site(data, tmp_path / "site.toml").web.listen == "127.0.0.1:8080"
    data["web"] = {"foxglove": "127.0.0.1:8765"}
    with pytest.raises(ConfigError, match=r"needs web\.listen"):
        parse_site(data, tmp_path / "site.toml")


def web_site(port: int, token: str = TOKEN) -> dict[str, Any]:
    return {
        "supervisor": {"heartbeat_interval": 0.2},
        "web": {"listen": f"127.0.0.1:{port}", "token": token, "read_token": READ_TOKEN},
        "actors": {
            "counter": {"class": "mesh_actors:Counter"},
            "tally": {"class": "mesh_actors:Tally", "after": ["counter"]},
        },
    }


def get(url: str, token: str | None = None, data: Any = None) -> tuple[int, Any]:
    """(status, decoded JSON or bytes) of one request."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def wait_served(site: Mesh, url: str) -> None:
    def up() -> bool:
        try:
            return get(url, TOKEN)[0] == 200
        except OSError:
            return False

    site.wait_until(up, timeout=30, what=f"the web view at {url}")


@pytest.mark.slow
def test_the_web_view_in_chromium(mesh: MeshFactory) -> None:
    """The page lists every actor; a kill -9 turns the actor red and back; a published
    message shows in the topic inspector; the exit, faults and gaps are in the events
    feed; a snapshot is listed, viewed and downloaded; with the read token the page reads
    but cannot act, with the action token an action is obeyed; nothing is asked of any
    other host and nothing is logged as an error."""
    port = free_port()
    site = mesh.start(web_site(port))
    origin = f"http://127.0.0.1:{port}"
    wait_served(site, origin + "/")
    assert "loopback only" in site.log_tail(200)
    with Browser(origin) as page:
        page.do("goto", url=f"{origin}/#token={READ_TOKEN}")
        page.do("wait", selector="#access", text="read-only")
        for name in ("counter", "tally"):
            row = f'#actors tr[data-name="{name}"]'
            page.do("wait", selector=row, attr=["data-state", "running"])
        assert page.do("count", selector="#actors tbody tr") == 3  # the broker too
        page.do("wait", selector='#graph g[data-id="a:tally"]')
        red_and_back(page, site)
        inspector(page, site)
        snapshots(page, site)
        page.do("click", selector='#actors tr[data-name="tally"] td.name')  # its page
        page.do("wait", selector="#declarations td", text="Numbers processed")
        actions(page, site, origin)
        feed(page, site)
        ARTIFACTS.mkdir(exist_ok=True)
        page.do("screenshot", path=str(ARTIFACTS / "web-view.png"))
        assert page.do("problems") == []


@pytest.mark.slow
def test_a_reliable_reader_falling_behind_shows_on_the_graph(mesh: MeshFactory) -> None:
    """5,000 commands on a reliable topic to a reader that takes 1 ms each: its edge says
    how far behind it is and turns amber; once it caught up, the colour goes."""
    port = free_port()
    site = mesh.start(
        {
            "supervisor": {"heartbeat_interval": 0.2},
            "web": {"listen": f"127.0.0.1:{port}", "token": TOKEN, "read_token": READ_TOKEN},
            "actors": {
                "commander": {"class": "reliable_actors:Commander"},
                "slow": {"class": "reliable_actors:Slow", "topics": {"number": "cmd.out"}},
            },
        }
    )
    origin = f"http://127.0.0.1:{port}"
    wait_served(site, origin + "/")
    with Browser(origin) as page:
        page.do("goto", url=f"{origin}/#token={READ_TOKEN}")
        page.do("wait", selector='#graph g[data-id="a:slow"]')
        site.publish("cmd.go", 5000)
        edge = '[data-edge="t:cmd.out>a:slow"]'
        page.do("wait", selector=f"#graph text{edge}", text="behind")
        amber = f"document.querySelector('#graph path{edge}').classList.contains('behind')"

        def colour_is(wanted: bool) -> None:  # a path's box may be flat: not "visible"
            deadline = time.monotonic() + 20
            while page.do("eval", js=amber) is not wanted:
                assert time.monotonic() < deadline, f"the edge's colour never became {wanted}"

        colour_is(True)
        site.wait_actor("slow", lambda a: a["stats"]["accepted"] == 5000, what="caught up")
        colour_is(False)
        assert page.do("problems") == []


def red_and_back(page: Browser, site: Mesh) -> None:
    """kill -9: red at once (row and node), the exit in the feed, then green again."""
    old = site.kill("tally")
    row = '#actors tr[data-name="tally"]'
    page.do("wait", selector=row, attr=["data-recent-exit", "yes"])
    page.do("wait", selector='#graph g[data-id="a:tally"].down')
    page.do("wait", selector='#events li[data-category="lifecycle"]', text="exited")
    site.wait_restarted("tally", old)
    page.do("wait", selector=row, attr=["data-recent-exit", "no"], timeout=int(FLASH + 5) * 1000)
    page.do("wait", selector=row, attr=["data-state", "running"])


def inspector(page: Browser, site: Mesh) -> None:
    """The topic inspector: a message published once the tap is on shows up."""
    page.do("fill", selector="#tap-topic", value="web.probe")
    page.do("click", selector="#tap-button")
    for n in range(40):
        site.publish("web.probe", {"hello": n})
        try:
            page.do("wait", selector="#tap-messages li", text='"hello"', timeout=500)
            break
        except AssertionError:
            continue
    assert "web.probe" in page.do("text", selector="#tap-rate")


def snapshots(page: Browser, site: Mesh) -> None:
    """A snapshot: listed, viewed (with its replay command), downloaded."""
    path = site.request("snapshot", name="counter")["path"]
    name = Path(path).name
    row = f'#snapshots tr[data-file="{name}"]'
    page.do("wait", selector=row, timeout=20000)
    page.do("click", selector=f"{row} button")
    replay = page.do("wait", selector="#snapshot-view code.replay")
    assert replay.startswith("python -m supervisor replay ") and name in replay
    got = page.do("download", selector=f"{row} a.download")
    assert got == {"name": name, "size": Path(path).stat().st_size}


def actions(page: Browser, site: Mesh, origin: str) -> None:
    """Refused with the read token (buttons off, the API says 403); with the action token,
    a restart, a log level and a swap are done."""
    assert page.do("count", selector="#actors button[disabled]") == 6
    status, reply = get(origin + "/api/action", READ_TOKEN, {"op": "restart", "name": "tally"})
    assert status == 403 and "read token" in reply["error"]
    pid = site.pid("tally")
    page.do("goto", url=f"{origin}/#token={TOKEN}")  # the token, in the URL's fragment
    page.do("wait", selector="#access", text="actions enabled")
    button = '#actors tr[data-name="tally"] button[data-op="restart"]'
    page.do("wait", selector=button)
    page.do("click", selector=button)
    page.do("wait", selector="#action-result", text="restart tally: done", timeout=30000)
    assert site.pid("tally") != pid
    page.do("click", selector='#actors tr[data-name="tally"] td.name')
    page.do("wait", selector="#actor-name", text="tally")
    page.do("select", selector="#log-level", value="debug")
    page.do("click", selector="#log-level-button")
    page.do("wait", selector="#action-result", text="loglevel tally: done")
    pid = site.pid("tally")
    page.do("click", selector="#swap-button")  # the same class, reloaded
    page.do("wait", selector="#action-result", text="swap tally: done", timeout=60000)
    assert site.pid("tally") != pid


def feed(page: Browser, site: Mesh) -> None:
    """Faults and the gaps they make, in the feed as they happen; the filter keeps gaps."""
    site.control.fault_add({"hop": "deliver", "to": "tally", "kind": "drop", "every": 2})
    site.publish("count.go", [20, 5])
    page.do("wait", selector='#events li[data-category="fault"]', text="deliver drop")
    page.do("wait", selector='#events li[data-category="gap"]', text="missed")
    page.do("select", selector="#event-category", value="gap")
    assert page.do("count", selector='#events li:not([data-category="gap"])') == 0
    # An injected step crash ends the counter's process: its fault stays in the column.
    old = site.pid("counter")
    crash = {"hop": "step", "to": "counter", "topic": "tick", "kind": "crash", "every": 1}
    site.control.fault_add({**crash, "limit": 1, "per": "site"})
    new = site.wait_restarted("counter", old)["pid"]
    site.wait_actor(
        "counter",
        lambda a: a["pid"] == new and (a["heartbeat_age"] or 99) < (a["uptime"] or 0) - 0.5,
        what="a heartbeat of the new counter",
    )
    renders = page.do("eval", js="window.enlilRenders.length")
    deadline = time.monotonic() + 30
    while page.do("eval", js="window.enlilRenders.length") < renders + 2:
        assert time.monotonic() < deadline, "the page stopped updating"
    faults = page.do("text", selector='#actors tr[data-name="counter"] td:nth-child(12)')
    assert faults == "1", faults


@pytest.mark.slow
def test_python_m_supervisor_web_serves_a_running_site(mesh: MeshFactory) -> None:
    """By hand, over a site without [web]: the API answers, a bad action is refused, a
    good token obeyed; SIGTERM ends it."""
    site = mesh.start(web_site(free_port()) | {"web": {}})
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "supervisor", "web", "--config", str(site.config_path)),
            *("--listen", f"127.0.0.1:{port}", "--token-stdin"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(TOKEN + "\n")
        proc.stdin.close()
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/#token={TOKEN}" in banner and "loopback" in banner
        origin = f"http://127.0.0.1:{port}"
        assert get(origin + "/api/snapshots", TOKEN) == (200, [])
        assert get(origin + "/api/snapshots")[0] == 403
        status, page = get(origin + "/api/actors/tally", TOKEN)
        assert status == 200 and page["name"] == "tally"
        assert get(origin + "/api/actors/ghost", TOKEN)[0] == 404
        assert get(origin + "/api/snapshots/..%2F..%2Fetc/passwd", TOKEN)[0] == 404
        bad = get(origin + "/api/action", TOKEN, {"op": "shutdown"})
        assert bad[0] == 400
        assert get(origin + "/api/action", "wrong-token-0123456789", {"op": "stop"})[0] == 403
        old = site.pid("tally")
        status, reply = get(origin + "/api/action", TOKEN, {"op": "restart", "name": "tally"})
        assert status == 200 and reply["ok"], reply
        assert site.pid("tally") != old
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
def test_the_view_dies_with_its_supervisor(mesh: MeshFactory) -> None:
    """The supervisor's web process is its child: SIGKILL the supervisor, the view goes."""
    site = mesh.start(web_site(free_port()))
    sup = psutil.Process(site.proc.pid)
    views = [p for p in sup.children() if p.cmdline()[-1:] == ["enlil test/web"]]
    views = views or [p for p in sup.children() if "web" in " ".join(p.cmdline())]
    assert len(views) == 1, [p.cmdline() for p in sup.children()]
    site.kill_supervisor()
    assert wait_gone(views, timeout=10) == []


@pytest.mark.slow
def test_the_foxglove_endpoint_with_the_official_client(mesh: MeshFactory) -> None:
    """@foxglove/ws-protocol's client: every declared topic advertised with a JSON Schema
    from its declaration; the numbers the counter publishes arrive live, as records."""
    fox = free_port()
    data = web_site(free_port())
    data["web"]["foxglove"] = f"127.0.0.1:{fox}"
    site = mesh.start(data)
    site.wait_until(lambda: "Foxglove endpoint on" in site.log_tail(200), what="the endpoint")
    client = subprocess.Popen(
        [
            *("node", str(TOOLS / "foxglove_client.mjs")),
            *(f"ws://127.0.0.1:{fox}/?token={READ_TOKEN}", "count.n", "10"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=TOOLS,
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "subscribed"
        for more in range(1, 60):  # 10 more numbers each turn, until the client has 10
            site.publish("count.go", [10 * more, 10])
            try:
                client.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        out = client.stdout.read()
    finally:
        if client.poll() is None:
            client.kill()
        client.wait()
    assert client.returncode == 0, out
    got = json.loads(out.splitlines()[-1])
    assert "supportedEncodings" not in got["serverInfo"]  # no capability needs it
    channels = {c["topic"]: c for c in got["channels"]}
    assert {"count.n", "count.go", "tally.seen"} <= set(channels)
    number = channels["count.n"]
    assert (number["encoding"], number["schemaEncoding"]) == ("json", "jsonschema")
    assert json.loads(number["schema"])["properties"]["value"] == {"type": "integer"}
    records = [m["record"] for m in got["messages"]]
    first = records[0]["value"]
    assert [r["value"] for r in records] == list(range(first, first + 10))  # live, in order
    assert [r["seq"] for r in records] == [r["value"] for r in records]
    assert {r["sender"] for r in records} == {"counter"}


def fifty_actors(port: int) -> dict[str, Any]:
    """15 counter -> tally pairs on topics of their own, and 10 pollers calling a service
    that 10 members serve: 50 actors, the graph's calls among them."""
    actors: dict[str, Any] = {}
    for i in range(15):
        actors[f"counter{i}"] = {
            "class": "mesh_actors:Counter",
            "topics": {"go": f"go.c{i}", "n": f"count.c{i}"},
        }
        actors[f"tally{i}"] = {
            "class": "mesh_actors:Tally",
            "topics": {"n": f"count.c{i}", "seen": f"tally.c{i}"},
        }
    for i in range(10):
        actors[f"member{i}"] = {"class": "call_actors:GroupMember"}
        actors[f"poller{i}"] = {"class": "call_actors:PoolPoller", "period": 0.5}
    return {
        "supervisor": {"heartbeat_interval": 0.5},
        "web": {"listen": f"127.0.0.1:{port}", "token": TOKEN},
        "actors": actors,
    }


@pytest.mark.slow
def test_the_live_graph_of_fifty_actors_shows_calls_and_no_label_overlaps(
    mesh: MeshFactory,
) -> None:
    """50 actors with calls, in Chromium: every caller's call edge is drawn with its
    arrowhead and a rate above 0, the service's serve edges too, and no two labels (nor a
    label and a node) overlap; a screenshot in test-artifacts."""
    from graph_checks import overlaps, wait_call_rates, wait_serve_rates

    port = free_port()
    site = mesh.start(fifty_actors(port), timeout=120)
    origin = f"http://127.0.0.1:{port}"
    wait_served(site, origin + "/")
    for i in range(15):  # each pair's numbers flow: go -> counter -> count -> tally -> seen
        site.publish(f"go.c{i}", [100_000, 1])
    with Browser(origin) as page:
        page.do("goto", url=f"{origin}/#token={TOKEN}")
        page.do("wait", selector='#graph g[data-id="t:tally.c14"]', timeout=60000)
        calls = wait_call_rates(page, {f"a:poller{i}>s:pool.work" for i in range(10)})
        assert len(calls) == 10
        serving = wait_serve_rates(page, {f"s:pool.work>a:member{i}" for i in range(10)})
        assert len(serving) == 10
        assert page.do("count", selector="#graph g.actor") == 50
        found = overlaps(page)
        assert found["texts"] > 100 and found["bad"] == [], found
        ARTIFACTS.mkdir(exist_ok=True)
        page.do("screenshot", path=str(ARTIFACTS / "web-graph-50-actors.png"))
        assert page.do("problems") == []


def test_the_graph_has_call_and_serve_edges_smooth_rates_and_folds_hardware_status() -> None:
    """Pure: a caller's call edge to the service and the service's edge to its server, at
    the rates of calls and requests over the last seconds (a call every 2 s is 0.5/s at
    every update, not 1 and 0 in turn); a HAL actor's unread status topics marked with
    their family, its read topic not."""

    def status(n: int) -> dict[str, Any]:
        service = "thermostat.setpoint.get"
        return {
            "actors": [
                {
                    "name": "console",
                    "kind": "actor",
                    "calls": {"calls": {"setpoint": {"service": service, "calls": n}}},
                },
                {
                    "name": "thermostat",
                    "kind": "actor",
                    "topics": {"serves": [service]},
                    "calls": {"services": {"get_setpoint": {"service": service, "requests": n}}},
                },
                {
                    "name": "room",
                    "kind": "actor",
                    "hal": True,
                    "topics": {"out": {"room.rx": n, "room.connected": 1, "room.bytes_in": n}},
                },
                {"name": "sensor", "kind": "actor", "topics": {"in": {"room.rx": n}}},
            ]
        }

    view = SiteView()
    rates = []
    for second in range(12):
        msg = view.update(status(second // 2), now=100.0 + second)
        edges = {(e["from"], e["to"]): e for e in msg["graph"]["edges"]}
        call = edges[("a:console", "s:thermostat.setpoint.get")]
        serve = edges[("s:thermostat.setpoint.get", "a:thermostat")]
        assert (call["kind"], serve["kind"]) == ("call", "serve")
        rates.append((call["rate"], serve["rate"]))
    assert all(call == serve for call, serve in rates)
    assert [call for call, _ in rates[6:]] == [0.5] * 6
    nodes = {n["id"]: n for n in msg["graph"]["nodes"]}
    assert nodes["t:room.connected"]["fold"] == nodes["t:room.bytes_in"]["fold"] == "room.*"
    assert "fold" not in nodes["t:room.rx"]  # the sensor reads it


def test_the_vendored_layout_library_is_the_pinned_package() -> None:
    """The page lays its graph out with dagre served from static/ (no CDN): the very file
    of the version tools/js pins, with its licence beside it, and the page loads it."""
    static = Path(__file__).resolve().parent.parent / "supervisor" / "web" / "static"
    pinned = json.loads((TOOLS / "package.json").read_text())["dependencies"]["@dagrejs/dagre"]
    vendored = static / f"dagre-{pinned}.min.js"
    installed = TOOLS / "node_modules" / "@dagrejs" / "dagre" / "dist" / "dagre.min.js"
    assert vendored.read_bytes() == installed.read_bytes()
    assert "Chris Pettitt" in (static / "dagre-LICENSE.txt").read_text()
    assert f'src="/static/dagre-{pinned}.min.js"' in (static / "index.html").read_text()
