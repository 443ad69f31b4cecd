"""Logs: rotated JSON files, two thresholds, levels changed at run time."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from clitools import supervisor_cli

from actors.logs import RotatingFile, setup_logging
from actors.testing import MeshFactory


def test_rotating_file_rolls_over_and_keeps_n_backups(tmp_path: Path) -> None:
    """Past max_bytes the file moves to .1, .1 to .2 ...; only `backups` are kept."""
    f = RotatingFile(tmp_path / "a.log", max_bytes=100, backups=2)
    for i in range(20):
        f.write_line(f"line {i:02d} " + "x" * 30)
    f.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.log", "a.log.1", "a.log.2"]
    assert "line 19" in (tmp_path / "a.log").read_text()
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())


def test_an_exception_is_logged_with_its_traceback_and_where(tmp_path: Path) -> None:
    """``log.exception`` writes the traceback and file:line, in the file and the console
    (an actor's crash showed only ``ZeroDivisionError('...')``)."""
    console = io.StringIO()
    setup = setup_logging("p", "info", log_dir=tmp_path, console=console)

    def fails() -> float:
        return 1 / 0

    try:
        fails()
    except ZeroDivisionError as exc:
        setup.logger.exception("unanticipated failure", error=repr(exc))
    for text in ((tmp_path / "p.log").read_text(), console.getvalue()):
        record = json.loads(text.splitlines()[-1])
        assert record["where"].endswith(
            "test_logs.py:" + str(fails.__code__.co_firstlineno + 1) + " in fails"
        )
        assert "return 1 / 0" in record["exception"]
        assert record["exception"].endswith("ZeroDivisionError: division by zero")


def test_local_level_filters_file_and_console_and_changes_at_run_time(tmp_path: Path) -> None:
    """Below the local level nothing is written; set_levels applies at once."""
    console = io.StringIO()
    setup = setup_logging("p", "warning", log_dir=tmp_path, console=console)
    log = setup.logger.bind(actor="a")
    log.info("hidden")
    log.warning("shown", n=1)
    assert setup.set_levels("debug", "error") == {"local": "debug", "otel": "error"}
    log.debug("now shown")
    lines = [json.loads(line) for line in (tmp_path / "p.log").read_text().splitlines()]
    assert [r["event"] for r in lines] == ["shown", "now shown"]
    assert lines[0]["actor"] == "a" and lines[0]["level"] == "warning" and "timestamp" in lines[0]
    assert "hidden" not in console.getvalue()
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        setup.set_levels("loud")


@pytest.mark.slow
def test_ctl_loglevel_takes_effect_without_a_restart(mesh: MeshFactory) -> None:
    """An actor's local level changes over the control channel; its pid stays."""
    site = mesh.start(
        {"actors": {"chatty": {"class": "mesh_actors:Chatty", "log_level": "warning"}}}
    )
    pid = site.pid("chatty")
    log_file = site.site.site.run_dir / "logs" / "chatty.log"
    cursor = site.publish("chatty.in", 1)
    site.wait_for("chatty.out", after=cursor)
    result = site.request("loglevel", name="chatty", level="info", otel="error")
    assert result == {"actor": "chatty", "local": "info", "otel": "error"}
    cursor = site.publish("chatty.in", 2)
    site.wait_for("chatty.out", after=cursor)
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    values = [r["value"] for r in records if r["event"] == "got a number"]
    assert values == [2]
    assert site.pid("chatty") == pid
    assert site.request("loglevel", name="supervisor", level="debug") == {
        "local": "debug",
        "otel": "warning",
    }
    # The command line prints what the actor answered (#13: it printed "local None").
    out = supervisor_cli("ctl", "loglevel", "chatty", "debug", config=site.config_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "chatty: local debug, otel error"
    assert (site.site.site.run_dir / "logs" / "supervisor.log").exists()
    assert (site.site.site.run_dir / "logs" / "broker.log").exists()
