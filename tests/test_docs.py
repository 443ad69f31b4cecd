"""``docs``, ``check`` and ``ctl graph`` end to end: Graphviz, the AsyncAPI parser, Chromium.

The AsyncAPI documents are validated by the official ``@asyncapi/parser``
(npm) and the HTML dictionary is opened in Debian's headless Chromium
(through ``playwright-core``); ``./scripts/test`` installs all of them. The
screenshot of the page is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from clitools import supervisor_cli

from actors.testing import MeshFactory
from supervisor.cli import DEMO

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools" / "js"
ARTIFACTS = ROOT / "test-artifacts"
HERE = Path(__file__).resolve().parent


def node_tool(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of tools/js; its packages must be installed (./scripts/test does it)."""
    if not (TOOLS / "node_modules").is_dir() or shutil.which("node") is None:
        raise RuntimeError("node and tools/js/node_modules are missing: run ./scripts/test")
    return subprocess.run(
        ["node", str(TOOLS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=TOOLS,
    )


def diagnostics(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_docs_of_the_demo_site(tmp_path: Path) -> None:
    """Every document is written; the SVG renders; AsyncAPI parses with zero errors;
    the HTML dictionary opens in Chromium without console errors."""
    out = tmp_path / "docs"
    proc = supervisor_cli("docs", "--out", str(out), config=DEMO)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {
        "dictionary.md",
        "dictionary.json",
        "dictionary.html",
        "graph.dot",
        "graph.svg",
        "graph.mmd",
        "asyncapi.json",
        "findings.txt",
    }
    svg = (out / "graph.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "hal.serial:SerialLink" in svg and "room.rx" in svg
    rows = json.loads((out / "dictionary.json").read_text())["variables"]
    rx = next(r for r in rows if r["actor"] == "room" and r["name"] == "rx")
    assert rx["consumers"] == ["sensor.line"] and rx["hal"] is True
    assert (out / "findings.txt").read_text() == "no findings\n"
    check = node_tool("validate_asyncapi.mjs", str(out / "asyncapi.json"))
    found = diagnostics(check)
    assert check.returncode == 0, check.stdout + check.stderr
    assert [d for d in found if d["severity"] in ("error", "warning")] == []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "demo-dictionary.png"
    page = node_tool("open_page.mjs", str(out / "dictionary.html"), str(shot))
    assert page.returncode == 0, page.stdout + page.stderr
    report = json.loads(page.stdout.splitlines()[-1])
    assert report["problems"] == [] and report["rows"] == len(rows)
    assert report["filtered"].endswith(f"of {len(rows)}")
    assert shot.stat().st_size > 10_000


def larger_site(tmp_path: Path) -> Path:
    """Twenty-odd actors: chains of doublers with remapped topics, families, HAL links."""
    actors: dict[str, Any] = {
        "status": {"class": "actors.builtin:Status"},
        "log": {"class": "actors.builtin:Log"},
        "device": {"class": "hal.sim:RoomSim"},
        "room": {"class": "hal.serial:SerialLink", "params": {"url": "dev/room"}},
        "mqtt": {
            "class": "hal.mqtt:MqttBridge",
            "params": {
                "to_mqtt": {"chain.*": "site/chain", "room.rx": "site/room"},
                "from_mqtt": {"site/in": "chain.0", "site/cmd/#": "cmd.*"},
            },
        },
    }
    for i in range(16):
        actors[f"d{i}"] = {
            "class": "mesh_actors:Doubler",
            "topics": {"value": f"chain.{i}", "doubled": f"chain.{i + 1}"},
        }
    site = {"site": {"name": "larger", "python_path": [str(HERE)]}, "actors": actors}
    path = tmp_path / "site.toml"
    path.write_text(tomli_w.dumps(site))
    return path


def test_asyncapi_of_a_larger_site_parses_with_zero_errors(tmp_path: Path) -> None:
    config = larger_site(tmp_path)
    out = tmp_path / "docs"
    proc = supervisor_cli("docs", "--out", str(out), config=config)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "asyncapi.json").read_text())
    assert len(doc["channels"]) > 40 and len(doc["operations"]) > 50
    assert "chain.{rest}" in {c["address"] for c in doc["channels"].values()}
    check = node_tool("validate_asyncapi.mjs", str(out / "asyncapi.json"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert [d for d in diagnostics(check) if d["severity"] == "error"] == []


def test_check_reports_design_errors_and_warnings(tmp_path: Path) -> None:
    """A type disagreement fails check (78), naming the topic and both actors."""
    site = {
        "site": {"name": "bad", "python_path": [str(HERE)]},
        "actors": {
            "doubler": {"class": "mesh_actors:Doubler"},
            "texter": {"class": "mesh_actors:Doubler", "topics": {"value": "text.in"}},
            "reader": {"class": "mesh_actors:TextReader"},
        },
    }
    path = tmp_path / "site.toml"
    path.write_text(tomli_w.dumps(site))
    proc = supervisor_cli("check", config=path)
    assert proc.returncode == 78, proc.stdout + proc.stderr
    err = proc.stderr
    assert (
        "error: topic 'numbers.out': doubler.doubled produces float but "
        "reader.text consumes str" in err
    )
    assert "error: topic 'numbers.in': consumed but never produced" in err
    assert "warning: topic 'text.in'" in err or "error: topic 'text.in'" in err


def test_live_graph_shows_an_actor_that_was_killed(mesh: MeshFactory) -> None:
    """ctl graph: all as declared (exit 0); kill -9 a temporary actor: it is down (exit 1)."""
    site = mesh.start(
        {
            "actors": {
                "doubler": {"class": "mesh_actors:Doubler"},
                "relay": {"class": "mesh_actors:Relay", "restart": "temporary"},
            }
        }
    )
    proc = supervisor_cli("ctl", "graph", config=site.config_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "matches the declared graph" in proc.stdout
    assert "reads   numbers.in" in proc.stdout
    site.kill("relay")
    site.wait_actor("relay", lambda a: a["state"] != "running", what="relay down")
    proc = supervisor_cli("ctl", "graph", "--json", config=site.config_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    graph = json.loads(proc.stdout)
    assert {"kind": "actor_down", "actor": "relay"}.items() <= graph["differences"][0].items()
    assert graph["actors"]["doubler"]["subscribed"] == ["numbers.in"]


def test_the_committed_demo_docs_are_current(tmp_path: Path) -> None:
    """docs/demo and the reference's Mermaid graph (docs/reference/documents.md) are what
    `docs` writes for the demo today."""
    out = tmp_path / "docs"
    proc = supervisor_cli("docs", "--out", str(out), config=DEMO)
    assert proc.returncode == 0, proc.stderr
    committed = ROOT / "docs" / "demo"
    for name in ("dictionary.md", "graph.mmd"):
        assert (committed / name).read_text() == (out / name).read_text(), (
            f"docs/demo/{name} is stale: python -m supervisor docs --config "
            "deploy/example/site.toml --out docs/demo"
        )
    page = (ROOT / "docs" / "reference" / "documents.md").read_text()
    assert "```mermaid\n" + (out / "graph.mmd").read_text() + "```" in page


@pytest.mark.slow
def test_models_generated_from_the_demos_asyncapi_are_named_after_their_topics(
    tmp_path: Path,
) -> None:
    """@asyncapi/modelina on the demo's document: TypeScript models named after each topic
    and service (the envelope is the message's named headers, the value its payload), and
    the Python models (those with code: a bare number makes none) named too; none is an
    AnonymousSchema."""
    from actors.site import load_site
    from supervisor.docs import write_docs

    write_docs(load_site(ROOT / "deploy" / "example" / "site.toml"), tmp_path)
    made = node_tool("generate_models.mjs", str(tmp_path / "asyncapi.json"))
    assert made.returncode == 0, made.stdout + made.stderr
    models = json.loads(made.stdout.splitlines()[-1])
    for language in ("python", "typescript"):
        names = models[language]
        assert names and all(n and "Anonymous" not in n for n in names), (language, names)
    expected = {
        "SensorTemperature",
        "HeaterCommand",
        "ModeCurrent",
        "RoomRx",
        "ThermostatSetpointSetRequest",
        "ThermostatSetpointSetReply",
        "ModeSetRequest",
        "CallError",
    }
    assert expected <= set(models["typescript"]), models["typescript"]
    assert "CallError" in models["python"]


def records_site(tmp_path: Path) -> Path:
    """A site whose messages and service are records (tests/record_types.py)."""
    site = {
        "site": {"name": "rover", "python_path": [str(HERE)]},
        "actors": {
            "tracker": {"class": "record_types:Tracker"},
            "asker": {"class": "record_types:Asker"},
        },
    }
    path = tmp_path / "site.toml"
    path.write_text(tomli_w.dumps(site))
    return path


def test_asyncapi_names_a_schema_per_record_type_and_models_carry_the_fields(
    tmp_path: Path,
) -> None:
    """One named schema per record and enum under components/schemas, with field docs and
    units; the official parser finds no error; modelina's Python and TypeScript models are
    named after the record types and have their fields."""
    out = tmp_path / "docs"
    proc = supervisor_cli("docs", "--out", str(out), config=records_site(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "asyncapi.json").read_text())
    schemas = doc["components"]["schemas"]
    assert {"Fix", "Vec3", "Corner", "Quality"} <= set(schemas)
    fix = schemas["Fix"]
    assert fix["description"].startswith("Where the rover is")
    assert fix["properties"]["covariance"] == {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 3,
        "maxItems": 3,
        "description": "variance per axis",
        "x-unit": "m^2",
        "default": [0.0, 0.0, 0.0],
    }
    assert fix["properties"]["position"]["$ref"] == "#/components/schemas/Vec3"
    assert fix["required"] == ["frame", "position"]
    assert schemas["Quality"]["enum"] == ["good", "stale"]
    payload = doc["components"]["messages"]["rover_fix"]["payload"]
    assert payload == {"$ref": "#/components/schemas/Fix"}
    check = node_tool("validate_asyncapi.mjs", str(out / "asyncapi.json"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert [d for d in diagnostics(check) if d["severity"] == "error"] == []
    made = node_tool("generate_models.mjs", str(out / "asyncapi.json"))
    assert made.returncode == 0, made.stdout + made.stderr
    models = json.loads(made.stdout.splitlines()[-1])
    for language in ("python", "typescript"):
        fields = models["fields"][language]
        assert set(fields["Fix"]) >= {"frame", "position", "quality", "corners", "covariance"}
        assert set(fields["Vec3"]) >= {"x", "y", "z"}, (language, fields)
        assert set(fields["Corner"]) >= {"name", "at"}
        assert not [n for n in models[language] if "Anonymous" in n], models[language]
    dictionary = (out / "dictionary.md").read_text()
    assert "### Fix" in dictionary
    assert "| covariance | `tuple[float, float, float]` | m^2 | `(0.0, 0.0, 0.0)` |" in dictionary
