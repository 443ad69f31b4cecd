"""The built-in mode actor with real processes: a mode change brings exactly the mode's
actors up, in dependency order, and the others down; a failed change goes back."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from actors.core.modes import mode_plan, start_order
from actors.site import load_site
from actors.testing import Mesh, MeshFactory
from supervisor.calling import ServiceClient
from supervisor.site import check_actors, check_all

MANAGED = ("a", "b", "c", "bad")
SITE: dict[str, Any] = {
    "supervisor": {"max_restarts": 50},
    "actors": {
        "always": {"class": "mesh_actors:Ticker"},
        "a": {"class": "mesh_actors:Ticker", "autostart": False},
        "b": {"class": "mesh_actors:Doubler", "autostart": False, "after": ["a"]},
        "c": {"class": "mesh_actors:Ticker", "autostart": False},
        "bad": {"class": "mesh_actors:StartCrasher", "autostart": False},
        "modes": {
            "class": "actors.builtin:Modes",
            "control": list(MANAGED),
            "params": {
                "initial": "idle",
                "modes": {
                    "idle": [],
                    "run": ["b", "a"],
                    "calibrate": ["c"],
                    "broken": ["c", "bad"],
                },
            },
        },
    },
}


def wait_mode(site: Mesh, mode: str) -> None:
    """Wait until the mode actor says it reached *mode* (asked through mode.get: what it
    published before the test's link connected is not seen on the link)."""

    def now() -> Any:
        with ServiceClient.from_site(site.site) as services:
            return services.call("mode.get", None, timeout=20)

    site.wait_until(lambda: now() == {"mode": mode, "state": "reached", "actors": []}, 60, mode)


def reached(site: Mesh, mode: str, cursor: int, state: str = "reached") -> dict[str, Any]:
    """The mode actor's outcome for *mode* published after *cursor*."""
    message = site.wait_for(
        "mode.current",
        lambda p: p["state"] == state and p.get("requested", p["mode"]) == mode,
        60,
        after=cursor,
    )
    payload: dict[str, Any] = message.envelope.payload
    return payload


def up(site: Mesh) -> set[str]:
    """The managed actors running now."""
    return {n for n in MANAGED if site.actor(n)["state"] == "running"}


def actions(site: Mesh, cursor: int) -> list[tuple[str, str]]:
    """The control events since *cursor*: (op, actor), in order."""
    first = site.mark() - len(site.messages)
    return [
        (m.envelope.payload["op"], m.envelope.payload["actor"])
        for m in list(site.messages)[max(0, cursor - first) :]
        if m.topic == "$sys.event" and m.envelope.payload.get("event") == "control"
    ]


def test_the_plan_stops_dependants_first_and_starts_dependencies_first() -> None:
    """Pure: from run (a, b after a) to calibrate (c): stop b then a, start c; back: start a
    then b; what runs already is left alone."""
    after = {"b": ["a"]}
    running = {"a": "running", "b": "running", "c": "stopped"}
    plan = mode_plan(["c"], ["a", "b", "c"], running, after)
    assert (plan.stop, plan.start) == (("b", "a"), ("c",))
    plan = mode_plan(["b", "a"], ["a", "b", "c"], {"c": "running"}, after)
    assert (plan.stop, plan.start) == (("c",), ("a", "b"))
    assert start_order(["c", "b", "a"], {"b": ["a"], "a": ["c"]}) == ["c", "a", "b"]


@pytest.mark.slow
def test_a_mode_change_brings_exactly_its_actors_up_in_order(mesh: MeshFactory) -> None:
    """idle at start (nothing managed runs); run starts a before b; calibrate (through the
    service) stops b before a and starts c; the unmanaged actor runs throughout; the mode
    is retained on mode.current."""
    site = mesh.start(SITE, wait=False).wait_ready(60)
    wait_mode(site, "idle")
    assert up(site) == set()
    cursor = site.mark()
    site.publish("mode.request", "run")
    assert reached(site, "run", cursor)["actors"] == ["a", "b"]
    assert up(site) == {"a", "b"}
    assert actions(site, cursor) == [("start", "a"), ("start", "b")]
    cursor = site.mark()
    with ServiceClient.from_site(site.site) as services:
        answer = services.call("mode.set", "calibrate", timeout=20)
    assert answer == {"mode": "run", "state": "changing", "requested": "calibrate"}
    reached(site, "calibrate", cursor)
    assert up(site) == {"c"}
    assert actions(site, cursor) == [("stop", "b"), ("stop", "a"), ("start", "c")]
    assert site.actor("always")["state"] == "running"
    assert site.actor("always")["restarts"] == 0


@pytest.mark.slow
def test_a_mode_whose_actor_fails_to_start_reports_it_and_goes_back(mesh: MeshFactory) -> None:
    """broken names an actor that raises in on_start: the change fails with that actor's
    error, the mode actor goes back to calibrate (the crashing actor stopped, c still up),
    an unknown mode is refused without touching anything, and the mode actor restarted
    alone keeps calibrate."""
    site = mesh.start(SITE, wait=False).wait_ready(60)
    wait_mode(site, "idle")
    cursor = site.mark()
    site.publish("mode.request", "calibrate")
    reached(site, "calibrate", cursor)
    cursor = site.mark()
    site.publish("mode.request", "broken")
    failed = reached(site, "broken", cursor, state="failed")
    assert failed["mode"] == "calibrate"
    assert "failed" in failed["error"] and "'bad'" in failed["error"]
    assert up(site) == {"c"}
    assert site.actor("bad")["state"] == "stopped"
    cursor = site.mark()
    site.publish("mode.request", "nowhere")
    refused = reached(site, "nowhere", cursor, state="failed")
    assert refused["mode"] == "calibrate" and "no mode 'nowhere'" in refused["error"]
    assert up(site) == {"c"}
    # Killed and restarted alone, the mode actor keeps the mode it had (not the initial).
    cursor = site.mark()
    site.wait_restarted("modes", site.kill("modes", signal.SIGKILL))
    assert reached(site, "calibrate", cursor)["actors"] == ["c"]
    assert up(site) == {"c"}
    assert actions(site, cursor) == []  # nothing to do: calibrate was up


def test_check_names_every_actor_a_mode_names_that_does_not_exist_or_is_not_allowed(
    tmp_path: Path,
) -> None:
    """``check`` holds each mode's actors against the site and the mode actor's control
    rights, and the initial mode against the modes, each with its key."""
    (tmp_path / "site.toml").write_text(
        tomli_w.dumps(
            {
                "site": {"name": "m", "python_path": [str(Path(__file__).parent)]},
                "actors": {
                    "a": {"class": "mesh_actors:Ticker"},
                    "b": {"class": "mesh_actors:Ticker"},
                    "modes": {
                        "class": "actors.builtin:Modes",
                        "control": ["a"],
                        "params": {"modes": {"run": ["a", "b", "ghost"]}, "initial": "off"},
                    },
                    "more": {
                        "class": "actors.builtin:Modes",
                        "control": ["a"],
                        "params": {"modes": {"run": ["a", "b", "ghost"]}},
                    },
                    "slow": {
                        "class": "actors.builtin:Modes",
                        "params": {"modes": {"run": []}, "timeout": -1.0},
                    },
                    "fine": {
                        "class": "actors.builtin:Modes",
                        "control": ["a"],
                        "params": {"modes": {"off": [], "run": ["a"]}},
                    },
                },
            }
        )
    )
    found = [str(p) for p in check_actors(load_site(tmp_path / "site.toml"))]
    _, _, findings = check_all(tmp_path / "site.toml")
    assert [str(f) for f in findings if f.what == "actor"] == [
        "warning: actor 'a': managed by fine (params.modes.run) but starts with the site; "
        "set autostart = false in [actors.a] to leave it to fine"
    ]
    assert any("actors.modes.params.initial: 'off' is not a mode" in p for p in found), found
    assert any("actors.slow.params.timeout" in p for p in found), found
    assert any("actors.more.params.modes.run: names unknown actor 'ghost'" in p for p in found)
    assert any(
        "actors.more.control: does not let it start, stop and ask about 'b'" in p for p in found
    ), found
