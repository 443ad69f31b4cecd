"""The web view and its Foxglove endpoint are access: a token to read, the action token to
act, Host and Origin checked on every HTTP and WebSocket request (issue 27, item 1)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_web import READ_TOKEN, TOKEN, TOOLS, free_port, get, wait_served, web_site

from actors.testing import Mesh, MeshFactory
from supervisor.core.webaccess import Refused, WebAccess, bearer, decide, split_host

LOOPBACK = WebAccess(token=TOKEN, host="127.0.0.1", port=8080, read_token=READ_TOKEN)


def test_host_names_the_endpoint_or_it_is_refused() -> None:
    """Pure: a loopback endpoint answers to its loopback names on its port only; one on
    every address to IP literals and the machine's names; a rebound name never."""
    assert LOOPBACK.host_ok("127.0.0.1:8080") and LOOPBACK.host_ok("localhost:8080")
    assert LOOPBACK.host_ok("[::1]:8080") and LOOPBACK.host_ok("LOCALHOST:8080")
    for bad in ("evil.example:8080", "127.0.0.1:8081", "127.0.0.1", "", None, "[::1:8080", ":8080"):
        assert not LOOPBACK.host_ok(bad), bad
    anywhere = WebAccess(TOKEN, "0.0.0.0", 80, machine_names=frozenset({"robot"}))
    assert anywhere.host_ok("10.1.2.3") and anywhere.host_ok("robot:80")
    assert not anywhere.host_ok("evil.example")
    named = WebAccess(TOKEN, "base.lab", 8080)
    assert named.host_ok("base.lab:8080") and not named.host_ok("127.0.0.1:8080")
    assert split_host("[::1]") == ("::1", 80)


def test_origin_token_and_role_decide_every_request() -> None:
    """Pure: a foreign Origin is refused even with the token; no Origin (a tool) is let in;
    the page's files need no token, reading needs one, acting the action token; the
    reasons never carry a token."""
    host = "127.0.0.1:8080"
    own = "http://127.0.0.1:8080"
    assert decide(LOOPBACK, "read", host, own, TOKEN) == "admin"
    assert decide(LOOPBACK, "read", host, None, READ_TOKEN) == "read"
    assert decide(LOOPBACK, "page", host, None, "") is None
    for need, origin, given in (
        ("read", "http://evil.example", TOKEN),
        ("read", "null", TOKEN),
        ("read", own, ""),
        ("read", own, "wrong-token-0123456789"),
        ("act", own, READ_TOKEN),
        ("page", "http://evil.example", ""),
    ):
        verdict = decide(LOOPBACK, need, host, origin, given)  # type: ignore[arg-type]
        assert isinstance(verdict, Refused) and verdict.status == 403, (need, origin, given)
        assert TOKEN not in verdict.reason and READ_TOKEN not in verdict.reason
    assert isinstance(decide(LOOPBACK, "page", "evil.example:8080", None, TOKEN), Refused)
    foxglove = WebAccess(TOKEN, "127.0.0.1", 8765, origins=frozenset({"https://app.foxglove.dev"}))
    assert decide(foxglove, "read", "127.0.0.1:8765", "https://app.foxglove.dev", TOKEN)
    assert bearer("Bearer abc", "q") == "abc" and bearer(None, "q") == "q"
    assert bearer("Basic abc", None) == ""


def _request(url: str, headers: dict[str, str]) -> int:
    """The status of one GET with *headers* (a Host or Origin of the test's choosing)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def _ws(url: str, headers: dict[str, str], protocols: tuple[str, ...] = ()) -> Any:
    """The first message of a WebSocket, or the HTTP status its handshake was refused with."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers, protocols=protocols) as ws:
                msg = await ws.receive(timeout=30)
                return json.loads(msg.data)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def _secured(port: int, fox: int, token: str | None = TOKEN) -> dict[str, Any]:
    data = web_site(port, token or "")
    if token is None:
        del data["web"]["token"]
    data["web"]["foxglove"] = f"127.0.0.1:{fox}"
    data["security"] = {"curve": True}  # and checks, the default with CURVE
    return data


@pytest.mark.slow
def test_the_view_needs_a_token_and_refuses_foreign_hosts_and_origins(mesh: MeshFactory) -> None:
    """On a CURVE + checks site: no read without a token (HTTP and WebSocket); the read
    token reads and cannot act; a foreign Origin and a rebound Host are refused with 403
    on HTTP and WebSocket, also with the right token; the Foxglove endpoint the same."""
    port, fox = free_port(), free_port()
    site = mesh.start(_secured(port, fox))
    origin = f"http://127.0.0.1:{port}"
    wait_served(site, origin + "/api/snapshots")
    assert get(origin + "/")[0] == 200  # the page's own files hold nothing of the site
    for path in ("/api/snapshots", "/api/actors/tally", "/api/snapshots/tally/x.snap"):
        assert get(origin + path)[0] == 403, path
        assert get(origin + path, "wrong-token-0123456789")[0] == 403, path
    assert get(origin + "/api/actors/tally", READ_TOKEN)[0] == 200
    status, reply = get(origin + "/api/action", READ_TOKEN, {"op": "stop", "name": "tally"})
    assert status == 403 and "read token" in reply["error"]
    rebound = {"Host": f"evil.example:{port}", "Authorization": f"Bearer {TOKEN}"}
    assert _request(origin + "/", rebound) == 403
    assert _request(origin + "/api/snapshots", rebound) == 403
    foreign = {"Origin": "http://evil.example", "Authorization": f"Bearer {TOKEN}"}
    assert _request(origin + "/api/snapshots", foreign) == 403
    assert _request(origin + "/api/snapshots", {**foreign, "Origin": origin}) == 200

    ws = f"ws://127.0.0.1:{port}/ws"
    assert asyncio.run(_ws(ws, {"Origin": origin})) == 403
    assert asyncio.run(_ws(f"{ws}?token={TOKEN}", {"Origin": "http://evil.example"})) == 403
    assert asyncio.run(_ws(f"{ws}?token={TOKEN}", {"Host": f"evil.example:{port}"})) == 403
    assert asyncio.run(_ws(f"{ws}?token={TOKEN}", {"Origin": origin})) == {
        "type": "hello",
        "role": "admin",
    }
    assert asyncio.run(_ws(f"{ws}?token={READ_TOKEN}", {}))["role"] == "read"

    site.wait_until(lambda: "Foxglove endpoint on" in site.log_tail(200), what="the endpoint")
    fws = f"ws://127.0.0.1:{fox}/"
    proto = ("foxglove.websocket.v1",)
    assert asyncio.run(_ws(fws, {}, proto)) == 403
    assert asyncio.run(_ws(f"{fws}?token={TOKEN}", {"Host": f"evil.example:{fox}"}, proto)) == 403
    assert asyncio.run(_ws(f"{fws}?token={TOKEN}", {"Origin": "http://evil.example"}, proto)) == 403
    assert asyncio.run(_ws(f"{fws}?token={READ_TOKEN}", {}, proto))["op"] == "serverInfo"
    # Foxglove's own client, without the token: refused at its handshake.
    client = subprocess.run(
        ["node", str(TOOLS / "foxglove_client.mjs"), fws, "count.n", "1"],
        capture_output=True,
        text=True,
        cwd=TOOLS,
        timeout=60,
        check=False,
    )
    assert client.returncode == 1 and "403" in client.stdout, client.stdout


@pytest.mark.slow
def test_a_made_token_is_in_its_owner_only_file_and_in_no_log(mesh: MeshFactory) -> None:
    """Without [web] token the supervisor makes one, writes it to [web] token_file (0600)
    and the view's banner, which goes to the site's log, names the file, not the token;
    the token from the file reads the site; the file goes when the site stops."""
    port, fox = free_port(), free_port()
    site: Mesh = mesh.start(_secured(port, fox, token=None))
    path: Path = site.site.web.token_file
    site.wait_until(path.exists, what="the token file")
    token = path.read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600 and len(token) >= 16
    origin = f"http://127.0.0.1:{port}"
    wait_served(site, origin + "/")
    site.wait_until(lambda: "Foxglove endpoint on" in site.log_tail(400), what="the banner")
    log = site.log_tail(400)
    assert f"the token is in {path}" in log and token not in log
    assert get(origin + "/api/snapshots", token)[0] == 200
    logs = site.site.site.run_dir / "logs"
    assert not [f for f in logs.glob("*.log") if token in f.read_text(errors="replace")]
    site.proc.send_signal(signal.SIGTERM)
    assert site.proc.wait(timeout=60) == 0
    assert not path.exists()


async def _advertised(url: str, want: str, publish: Any) -> tuple[dict[str, Any], set[str]]:
    """serverInfo and the topics advertised until *want* is among them (*publish* is
    called every half second meanwhile: traffic on the site)."""
    topics: set[str] = set()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=("foxglove.websocket.v1",)) as ws,
    ):
        info = json.loads((await ws.receive(timeout=30)).data)
        while want not in topics:
            try:
                msg = await ws.receive(timeout=0.5)
            except TimeoutError:
                publish()
                continue
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                if data["op"] == "advertise":
                    topics |= {c["topic"] for c in data["channels"]}
            publish()
    return info, topics


@pytest.mark.slow
def test_the_foxglove_endpoint_keeps_to_the_published_spec(mesh: MeshFactory) -> None:
    """A connection without the foxglove.websocket.v1 subprotocol is refused (400); the
    serverInfo has no supportedEncodings without a capability that needs it; a topic
    family (count.*) and a service (sp.set) are never channels, and the family's concrete
    topics are advertised once they flow."""
    port, fox = free_port(), free_port()
    data = web_site(port)
    data["web"]["foxglove"] = f"127.0.0.1:{fox}"
    data["actors"]["server"] = {"class": "call_actors:SetPoint"}
    data["actors"]["recorder"] = {
        "class": "actors.recorder:Recorder",
        "topics": {"data": "count.*"},
    }
    site = mesh.start(data)
    site.wait_until(lambda: "Foxglove endpoint on" in site.log_tail(200), what="the endpoint")
    url = f"ws://127.0.0.1:{fox}/?token={TOKEN}"
    assert asyncio.run(_ws(url, {})) == 400  # no subprotocol offered
    info, topics = asyncio.run(
        _advertised(url, "count.n", lambda: site.publish("count.go", [5, 5]))
    )
    assert info["op"] == "serverInfo" and "supportedEncodings" not in info
    assert "count.n" in topics and "tally.seen" in topics
    assert not [t for t in topics if "*" in t or t.startswith("$") or t in ("sp.set", "sp.runs")]
