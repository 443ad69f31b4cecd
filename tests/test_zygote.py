"""Zygote spawning: actors forked from a pre-imported process, adopted by the supervisor."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest

from actors.testing import MeshFactory, wait_gone

pytestmark = pytest.mark.slow

ECHO = '''
from actors import Actor, Input, Output

class Echo(Actor):
    """Answers with a version tag."""

    text = Input("echo.in", str, doc="Anything")
    answer = Output("echo.out", str, doc="The text, tagged with the code version")

    def step(self) -> None:
        """Runs in the echo process."""
        self.answer = "{tag}:" + self.text
'''


@pytest.mark.parametrize("spawn", ["zygote", "plain"])
def test_actors_are_children_of_the_supervisor_in_both_modes(mesh: MeshFactory, spawn: str) -> None:
    """Whatever forks them, actors are the supervisor's children and restart the same."""
    site = mesh.start(
        {"supervisor": {"spawn": spawn}, "actors": {"d": {"class": "mesh_actors:Doubler"}}}
    )
    supervisor = site.proc.pid
    pid = site.pid("d")
    assert psutil.Process(pid).ppid() == supervisor
    record = site.wait_restarted("d", site.kill("d", signal.SIGKILL))
    assert psutil.Process(record["pid"]).ppid() == supervisor
    cursor = site.publish("numbers.in", 3)
    assert site.wait_for("numbers.out", after=cursor).envelope.payload == 6.0


def test_a_restart_picks_up_code_edited_on_disk(mesh: MeshFactory, tmp_path: Path) -> None:
    """The zygote never imports actor modules: a restarted actor runs the new code."""
    module = tmp_path / "echo_actor.py"
    module.write_text(ECHO.format(tag="v1"))
    site = mesh.start(
        {"site": {"python_path": [str(tmp_path)]}, "actors": {"e": {"class": "echo_actor:Echo"}}}
    )
    cursor = site.publish("echo.in", "hi")
    assert site.wait_for("echo.out", after=cursor).envelope.payload == "v1:hi"
    module.write_text(ECHO.format(tag="v2"))
    site.request("restart", name="e")
    cursor = site.publish("echo.in", "hi")
    assert site.wait_for("echo.out", after=cursor).envelope.payload == "v2:hi"


def test_sigkill_of_the_supervisor_takes_zygote_children_too(mesh: MeshFactory) -> None:
    """Adopted actors die with the supervisor like plainly spawned ones."""
    site = mesh.start(
        {
            "actors": {
                f"d{i}": {
                    "class": "mesh_actors:Doubler",
                    "topics": {"value": f"n{i}", "doubled": f"o{i}"},
                }
                for i in range(5)
            }
        }
    )
    procs = [psutil.Process(a["pid"]) for a in site.status()["actors"]]
    procs += psutil.Process(site.proc.pid).children(recursive=True)
    site.kill_supervisor(signal.SIGKILL)
    site.proc.wait(timeout=10)
    assert not wait_gone(procs, timeout=2.0)


def test_the_zygote_reads_an_actors_options_as_the_command_line_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import actors.__main__ as cli

    seen: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(cli, "run_named", lambda name, **kw: seen.append((name, kw)) or 0)
    options = ["--log-level", "debug", "--swap", "t1", "--class", "m:C", "--params", "{}"]
    options += ["--table", '{"class": "m:C"}', "--retained", "--faults-used", '{"0": 1}']
    assert cli.main(["a", "--config", "s.toml", *options]) == 0
    assert cli.run_supervised("a", "s.toml", options) == 0
    assert seen[0] == seen[1]
    assert cli.run_supervised("a", "s.toml", []) == 0
    assert seen[2] == ("a", {"config": "s.toml"})
    assert cli.run_supervised("a", "s.toml", ["--bogus"]) == cli.EXIT_CONFIG
    assert "actor a: unknown option '--bogus'" in capsys.readouterr().err
