"""The command line's help and options: each ``ctl`` op shows only its own options, the
table keys take JSON as ``--params`` does, and shared options go before or after the op."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from supervisor import cli_ctl
from supervisor.cli import build_parser
from supervisor.core.protocol import OPS


def _help(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "supervisor", *args, "-h"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def test_ctl_help_lists_the_ops_and_each_op_shows_only_its_own_options() -> None:
    """``ctl -h`` names every op and no op's options; ``ctl status -h`` has no table key,
    ``ctl add -h`` every one (and no fault rule's), ``ctl fault -h`` the rule's keys."""
    top = _help("ctl")
    for op in cli_ctl.CTL_OPS:
        assert f"    {op} " in top, op
    for foreign in ("--class", "--hop", "--period", "--reset", "--etag"):
        assert foreign not in top
    status = _help("ctl", "status")
    assert "--json" in status and "--period" not in status and "--class" not in status
    add = _help("ctl", "add")
    assert "--class MODULE:CLASS" in add and "--control CONTROL" in add
    assert "--no-autostart" in add and "--hop" not in add and "--reset" not in add
    fault = _help("ctl", "fault")
    assert "--hop HOP" in fault and "--per PER" in fault and "--class" not in fault
    assert "--reset" in _help("ctl", "state") and "--etag" not in _help("ctl", "state")


def test_every_subcommand_has_a_help_of_its_own() -> None:
    """Every command and sub-subcommand answers ``-h`` (from the parser itself)."""
    parser = build_parser()
    for name, sub in _subcommands(parser).items():
        text = sub.format_help()
        assert text.startswith(f"usage: python -m supervisor {name}"), name
        for inner, deeper in _subcommands(sub).items():
            assert deeper.format_help().startswith(f"usage: python -m supervisor {name} {inner}")


def test_ctl_covers_every_control_op_a_tool_sends() -> None:
    """The protocol's ops are all reachable from ``ctl`` (fault_* through ``ctl fault``,
    state_reset through ``ctl state --reset``)."""
    reachable = set(cli_ctl.CTL_OPS) | {"faults", "state_reset"}
    reachable |= {f"fault_{a}" for a in ("add", "clear", "pause", "resume")}
    assert set(OPS) <= reachable


@pytest.mark.parametrize(
    ("given", "table"),
    [
        (["--control", '["a", "b"]'], {"control": ["a", "b"]}),
        (
            ["--control", '{"start": ["a"], "status": "*"}'],
            {"control": {"start": ["a"], "status": "*"}},
        ),
        (["--control", "a, b"], {"control": ["a", "b"]}),
        (["--after", '["x"]', "--period", "0.5"], {"after": ["x"], "period": 0.5}),
        (["--after", "x,y", "--no-autostart"], {"after": ["x", "y"], "autostart": False}),
        (["--topics", '{"n": "count.two"}'], {"topics": {"n": "count.two"}}),
    ],
)
def test_ctl_add_takes_json_for_lists_and_tables(
    given: list[str], table: dict[str, object]
) -> None:
    """``--control`` (and every list key) takes JSON as ``--params`` does, or names
    separated by commas."""
    args = build_parser().parse_args(["ctl", "add", "w", "--class", "m:C", *given])
    assert cli_ctl._request_args(args)["table"] == table


def test_ctl_add_names_a_bad_json_value() -> None:
    args = build_parser().parse_args(["ctl", "add", "w", "--control", '{"start": '])
    with pytest.raises(ValueError, match="--control is not JSON"):
        cli_ctl._request_args(args)
    args = build_parser().parse_args(["ctl", "add", "w", "--topics", '["a"]'])
    with pytest.raises(ValueError, match="--topics must be a JSON dict"):
        cli_ctl._request_args(args)


def test_shared_options_go_before_or_after_the_op() -> None:
    parse = build_parser().parse_args
    for argv in (["ctl", "--json", "status"], ["ctl", "status", "--json"]):
        args = parse(argv)
        assert args.json and args.timeout == 15.0 and args.op == "status"
    args = parse(["ctl", "--timeout", "3", "--key", "viewer", "stop", "a", "--config", "s.toml"])
    assert (args.timeout, args.key, args.name, str(args.config)) == (3.0, "viewer", "a", "s.toml")
    with pytest.raises(SystemExit):
        parse(["ctl", "stop", "a", "--period", "1"])  # not an option of stop
