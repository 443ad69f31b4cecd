"""site.toml validation: every problem is reported with file, key and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clitools import supervisor_cli

from actors.site import ConfigError, load_site, parse_site
from supervisor.site import check_site

HERE = Path(__file__).parent


def problems(data: dict[str, object], path: Path = HERE / "site.toml") -> list[str]:
    """The problem texts parse_site reports for *data*."""
    with pytest.raises(ConfigError) as info:
        parse_site(data, path)
    return [str(p) for p in info.value.problems]


def test_minimal_config_gets_defaults() -> None:
    """A site needs only a name and one actor."""
    site = parse_site(
        {"site": {"name": "s"}, "actors": {"a": {"class": "m:A"}}}, Path("/srv/site/site.toml")
    )
    assert site.site.run_dir == Path("/srv/site/run")
    assert site.broker.pub == "ipc:///srv/site/run/pub.sock"
    assert site.supervisor.control_connect == "ipc:///srv/site/run/control.sock"
    assert site.actors["a"].restart == "permanent"


def test_unknown_keys_are_named_with_a_suggestion() -> None:
    """A typo gets a 'did you mean'."""
    found = problems({"site": {"name": "s"}, "actors": {"a": {"class": "m:A", "perod": 1}}})
    assert found == [f"{HERE / 'site.toml'}: actors.a.perod: unknown key (did you mean 'period'?)"]
    found = problems({"site": {"name": "s"}, "supervisr": {}, "actors": {"a": {"class": "m:A"}}})
    assert "supervisr: unknown table (did you mean [supervisor]?)" in found[0]


@pytest.mark.parametrize(
    ("actor", "key", "reason"),
    [
        ({"class": "nocolon"}, "actors.a.class", "not of the form 'module:Class'"),
        ({"class": "m:A", "period": "fast"}, "actors.a.period", "expected int or float, got str"),
        ({"class": "m:A", "period": -1}, "actors.a.period", "greater than 0"),
        ({"class": "m:A", "restart": "always"}, "actors.a.restart", "not one of"),
        ({"class": "m:A", "after": ["ghost"]}, "actors.a.after", "unknown actor 'ghost'"),
        ({"class": "m:A", "after": ["a"]}, "actors.a.after", "after itself"),
        ({"class": "m:A", "params": 3}, "actors.a.params", "expected dict"),
        ({"period": 1}, "actors.a.class", "is required"),
    ],
)
def test_each_actor_problem_names_its_key(actor: dict[str, object], key: str, reason: str) -> None:
    """Bad values are reported with the key that holds them."""
    found = problems({"site": {"name": "s"}, "actors": {"a": actor}})
    assert any(f": {key}: " in p and reason in p for p in found), found


def test_cyclic_after_is_reported_as_a_path() -> None:
    """A cycle in start order is shown as the path that closes it."""
    found = problems(
        {
            "site": {"name": "s"},
            "actors": {
                "a": {"class": "m:A", "after": ["c"]},
                "b": {"class": "m:A", "after": ["a"]},
                "c": {"class": "m:A", "after": ["b"]},
            },
        }
    )
    assert len(found) == 1
    assert "cyclic start order: a -> c -> b -> a" in found[0]


def test_bad_types_in_site_and_supervisor_tables() -> None:
    """Wrong types and choices outside the allowed set are errors."""
    found = problems(
        {
            "site": {"name": 3},
            "supervisor": {"strategy": "all_for_none", "max_restarts": "5"},
            "actors": {"a": {"class": "m:A"}},
        }
    )
    joined = "\n".join(found)
    assert "site.name: expected str, got int" in joined
    assert "supervisor.strategy: 'all_for_none' is not one of" in joined
    assert "supervisor.max_restarts: expected int, got str" in joined


def test_long_ipc_paths_are_refused() -> None:
    """Unix socket paths over 107 bytes cannot be bound; say so before starting."""
    found = problems(
        {"site": {"name": "s", "run_dir": "/tmp/" + "x" * 120}, "actors": {"a": {"class": "m:A"}}}
    )
    assert any("broker.pub" in p and "longer than 107" in p for p in found)


def write_site(tmp_path: Path, actors: str) -> Path:
    """A site.toml in *tmp_path* whose actor modules come from the tests folder."""
    path = tmp_path / "site.toml"
    path.write_text(f'[site]\nname = "t"\npython_path = ["{HERE}"]\n{actors}')
    return path


@pytest.mark.parametrize(
    ("actors", "key", "reason"),
    [
        (
            '[actors.a]\nclass = "no_such_module:X"\n',
            "actors.a.class",
            "no module named 'no_such_module'",
        ),
        ('[actors.a]\nclass = "bad_actors:Missing"\n', "actors.a.class", "no attribute 'Missing'"),
        (
            '[actors.a]\nclass = "bad_actors:NotAnActor"\n',
            "actors.a.class",
            "not a subclass of actors.Actor",
        ),
        (
            '[actors.a]\nclass = "undocumented_actor:Undocumented"\n',
            "actors.a.class",
            "actor Undocumented, input 'speed': doc= is missing",
        ),
        (
            '[actors.a]\nclass = "bad_actors:Fine"\nparams = { level = "high" }\n',
            "actors.a.params.level",
            "expected float, got str",
        ),
        (
            '[actors.a]\nclass = "bad_actors:Fine"\nparams = { lvl = 1.0 }\n',
            "actors.a.params.lvl",
            "declares no Param 'lvl'",
        ),
    ],
)
def test_check_imports_classes_and_names_the_culprit(
    tmp_path: Path, actors: str, key: str, reason: str
) -> None:
    """Class paths, missing docs and params are checked against the real classes."""
    path = write_site(tmp_path, actors)
    with pytest.raises(ConfigError) as info:
        check_site(path)
    text = str(info.value)
    assert str(path) in text
    assert f": {key}: " in text and reason in text, text


def test_check_command_prints_every_problem(tmp_path: Path) -> None:
    """``python -m supervisor check`` exits non-zero and lists file, key and reason."""
    path = write_site(
        tmp_path,
        '[actors.a]\nclass = "bad_actors:Fine"\nperiod = "x"\n'
        '[actors.b]\nclass = "bad_actors:Fine"\nafter = ["zz"]\n',
    )
    proc = supervisor_cli("check", config=str(path))
    assert proc.returncode == 78
    assert f"{path}: actors.a.period: expected int or float" in proc.stderr
    assert f"{path}: actors.b.after: names unknown actor 'zz'" in proc.stderr


def test_check_names_every_problem_of_one_actor_at_once(tmp_path: Path) -> None:
    """An actor with an unknown key and a bad period is still checked for its class: all
    three of its problems, together, before the next actor's."""
    path = write_site(
        tmp_path,
        '[actors.a]\nclass = "no_such_module:Nothing"\ncolour = "red"\nperiod = -1\n'
        '[actors.b]\nclass = "bad_actors:Nope"\n',
    )
    proc = supervisor_cli("check", config=str(path))
    assert proc.returncode == 78
    keys = [line.split(": ")[1] for line in proc.stderr.splitlines()]
    assert keys == ["actors.a.colour", "actors.a.period", "actors.a.class", "actors.b.class"]
    assert "no module named 'no_such_module'" in proc.stderr


def test_check_command_accepts_the_demo_site() -> None:
    """The shipped demo site is valid."""
    demo = HERE.parent / "deploy" / "example" / "site.toml"
    proc = supervisor_cli("check", config=str(demo))
    assert proc.returncode == 0, proc.stderr
    assert "9 actors" in proc.stdout
    assert "warning" not in proc.stdout + proc.stderr


def test_unreadable_and_invalid_toml_name_the_file(tmp_path: Path) -> None:
    """A missing file or a TOML syntax error is a ConfigError naming the file."""
    with pytest.raises(ConfigError, match="file not found"):
        load_site(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[site\nname=")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_site(bad)


BASE = (
    '[site]\nname = "t"\npython_path = ["{here}"]\n{site}\n{tables}\n'
    '[actors.a]\nclass = "{cls}"\n{actor}\n'
)

#: (site keys, other tables, actor keys, class) -> the key and a piece of the reason.
BROKEN: list[tuple[str, str, str, str, str, str]] = [
    ("", "[supervisor]\nhang_timeout = nan", "", "", "supervisor.hang_timeout", "finite"),
    ("", "[supervisor]\nstop_timeout = inf", "", "", "supervisor.stop_timeout", "finite"),
    (
        "",
        "[supervisor]\nheartbeat_interval = 1e-9",
        "",
        "",
        "supervisor.heartbeat_interval",
        "at least 0.01 s",
    ),
    ("", "[supervisor]\nmax_seconds = nan", "", "", "supervisor.max_seconds", "finite"),
    ("", "[supervisor]\nmax_restarts = -1", "", "", "supervisor.max_restarts", "at least 0"),
    (
        "",
        "[supervisor]\nbackoff_initial = 2.0\nbackoff_max = 1.0",
        "",
        "",
        "supervisor.backoff_max",
        "not be shorter than supervisor.backoff_initial",
    ),
    (
        "",
        "[supervisor]\nhang_timeout = 0.5",
        "",
        "",
        "supervisor.hang_timeout",
        "longer than supervisor.heartbeat_interval",
    ),
    (
        "",
        '[supervisor]\ncontrol = "tcp://127.0.0.1:notaport"',
        "",
        "",
        "supervisor.control",
        "port must be a number from 1 to 65535",
    ),
    (
        "",
        '[supervisor]\ncontrol = "tcp://bad host:5555"',
        "",
        "",
        "supervisor.control",
        "is not a host name",
    ),
    (
        "",
        '[supervisor]\nstrategy = "one_for_everyone"',
        "",
        "",
        "supervisor.strategy",
        "is not one of",
    ),
    ("", '[supervisor]\nspawn = "fork"', "", "", "supervisor.spawn", "is not one of"),
    ("", "[broker]\nhwm = 10000000000", "", "", "broker.hwm", "at most 1e+08"),
    ("", '[broker]\npub = "udp://127.0.0.1:9"', "", "", "broker.pub", "not an ipc://"),
    (
        "",
        '[broker]\npub = "ipc:///tmp/x.sock"\nsub = "ipc:///tmp/x.sock"',
        "",
        "",
        "broker.sub",
        "must differ from broker.pub",
    ),
    (
        "",
        '[telemetry]\nprometheus = "127.0.0.1:99999"',
        "",
        "",
        "telemetry.prometheus",
        "port from 1 to 65535",
    ),
    (
        "",
        '[telemetry]\nprometheus = "127.0.0.1:0"',
        "",
        "",
        "telemetry.prometheus",
        "port from 1 to 65535",
    ),
    ("", "[telemetry]\nsampling = nan", "", "", "telemetry.sampling", "finite"),
    ("", "[telemetry]\nsampling = 1.5", "", "", "telemetry.sampling", "at most 1"),
    (
        "",
        "[telemetry]\nmetrics_interval = 0",
        "",
        "",
        "telemetry.metrics_interval",
        "greater than 0",
    ),
    ("", '[telemetry]\nlog_level = "verbose"', "", "", "telemetry.log_level", "is not one of"),
    (
        "",
        '[telemetry]\notlp_endpoint = "localhost:4318"',
        "",
        "",
        "telemetry.otlp_endpoint",
        "not an http:// or https:// URL",
    ),
    ("", "[snapshots]\nkeep = 0", "", "", "snapshots.keep", "greater than 0"),
    (
        "",
        '[snapshots]\ndir = "/proc/enlil-snapshots"',
        "",
        "",
        "snapshots.dir",
        "cannot create /proc/enlil-snapshots under /proc",
    ),
    ('run_dir = "/proc/x"', "", "", "", "site.run_dir", "cannot create /proc/x under /proc"),
    ("", "[supervisr]", "", "", "supervisr", "unknown table (did you mean [supervisor]?)"),
    ("", "", "perod = 1", "", "actors.a.perod", "unknown key (did you mean 'period'?)"),
    ("", "", "period = nan", "", "actors.a.period", "finite"),
    ("", "", "period = 0", "", "actors.a.period", "greater than 0"),
    ("", "", "max_rss_mb = 0", "", "actors.a.max_rss_mb", "greater than 0"),
    ("", "", "cpu_window = inf", "", "actors.a.cpu_window", "finite"),
    ("", "", "late_after = 0", "", "actors.a.late_after", "greater than 0"),
    ("", "", "recorder = -5", "", "actors.a.recorder", "at least 0"),
    (
        "",
        "",
        "hang_timeout = 0.5",
        "",
        "actors.a.hang_timeout",
        "longer than supervisor.heartbeat_interval",
    ),
    ("", "", 'after = ["ghost"]', "", "actors.a.after", "unknown actor 'ghost'"),
    ("", "", 'restart = "always"', "", "actors.a.restart", "is not one of"),
    ("", "", "", "nocolon", "actors.a.class", "is not of the form 'module:Class'"),
    ("", "", "", "no_such_module:X", "actors.a.class", "no module named 'no_such_module'"),
    (
        "",
        "",
        "params = { lvl = 1.0 }",
        "bad_actors:Fine",
        "actors.a.params.lvl",
        "declares no Param 'lvl'",
    ),
    # Built-in actors: what check passes must start (framing 'lines' crash-looped the site).
    (
        "",
        "",
        'params = { url = "loop://", framing = "lines" }',
        "hal.serial:SerialLink",
        "actors.a.params.framing",
        "'lines' is not one of 'line', 'cobs', 'length', 'raw'",
    ),
    (
        "",
        "",
        'params = { framing = "line" }',
        "hal.serial:SerialLink",
        "actors.a.params.url",
        "is required",
    ),
    (
        "",
        "",
        'params = { url = "loop://", baudrate = 0 }',
        "hal.serial:SerialLink",
        "actors.a.params.baudrate",
        "must be at least 1, got 0",
    ),
    (
        "",
        "",
        "params = { qos = 2 }",
        "hal.mqtt:MqttBridge",
        "actors.a.params.qos",
        "2 is not one of 0, 1",
    ),
    (
        "",
        "",
        'params = { from_mqtt = { "lab/+/x" = "a.b" } }',
        "hal.mqtt:MqttBridge",
        "actors.a.params.from_mqtt",
        "only exact topics and 'prefix/#' filters",
    ),
    (
        "",
        "",
        'params = { level = "loud" }',
        "actors.builtin:Log",
        "actors.a.params.level",
        "'loud' is not one of",
    ),
]


@pytest.mark.parametrize("case", BROKEN)
def test_check_names_file_key_and_reason_of_each_broken_site(
    tmp_path: Path, case: tuple[str, str, str, str, str, str]
) -> None:
    """Values that disarm or break a site, the usual typos, bad classes: each one named."""
    site, tables, actor, cls, key, reason = case
    path = tmp_path / "site.toml"
    text = BASE.format(
        here=HERE, site=site, tables=tables, actor=actor, cls=cls or "bad_actors:Fine"
    )
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        check_site(path)
    found = [str(p) for p in info.value.problems]
    assert any(p.startswith(f"{path}: {key}: ") and reason in p for p in found), found


def test_a_file_with_six_problems_gets_six(tmp_path: Path) -> None:
    """One run of ``check`` names all six, each with file and key (the class of an actor
    whose table has problems too)."""
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nname = "t"\n'
        "[supervisor]\nhang_timeout = nan\nstop_timeout = inf\n"
        '[telemetry]\nprometheus = "127.0.0.1:99999"\n'
        '[actors.a]\nclass = "m:A"\nperiod = nan\nperod = 2\n'
    )
    proc = supervisor_cli("check", config=path)
    assert proc.returncode == 78
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 6, proc.stderr
    for key in (
        "supervisor.hang_timeout",
        "supervisor.stop_timeout",
        "telemetry.prometheus",
        "actors.a.period",
        "actors.a.perod",
        "actors.a.class",
    ):
        assert sum(line.startswith(f"{path}: {key}: ") for line in lines) == 1, lines


def test_check_reports_config_classes_and_design_at_once(tmp_path: Path) -> None:
    """One run names a config problem, a class problem, a param problem and a design error
    (check stopped at the first phase that failed)."""
    path = tmp_path / "site.toml"
    path.write_text(
        f'[site]\nname = "t"\npython_path = ["{HERE}"]\n'
        "[supervisor]\nhang_timeout = nan\n"
        '[actors.a]\nclass = "mesh_actors:Doubler"\n'
        '[actors.c]\nclass = "no_such:Thing"\n'
        '[actors.d]\nclass = "mesh_actors:Fragile"\nparams = { fail_at = "x" }\n'
        '[actors.e]\nclass = "mesh_actors:Doubler"\nperod = 3\n'
    )
    proc = supervisor_cli("check", config=path)
    assert proc.returncode == 78
    lines = proc.stderr.strip().splitlines()
    for expected in (
        "supervisor.hang_timeout: must be a finite number",
        "actors.e.perod: unknown key",
        "actors.c.class: class 'no_such:Thing': no module named 'no_such'",
        "actors.d.params.fail_at: expected int, got str",
        "error: topic 'numbers.in': consumed but never produced",
    ):
        assert sum(expected in line for line in lines) == 1, (expected, lines)
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_control_rights_are_parsed_and_their_names_checked() -> None:
    """``control`` is a list of actors (every op) or a table of ops; unknown actors, ops and
    an actor that would stop itself are named with their keys; ``autostart`` is a bool."""
    base: dict[str, Any] = {"site": {"name": "s"}}
    site = parse_site(
        {
            **base,
            "actors": {
                "a": {"class": "m:A", "control": ["b"]},
                "b": {"class": "m:B", "autostart": False},
                "c": {"class": "m:C", "control": {"restart": ["b"], "status": ["*"]}},
            },
        },
        Path("/srv/site.toml"),
    )
    a, b, c = site.actors["a"], site.actors["b"], site.actors["c"]
    assert all(a.control.allows(op, "b") for op in ("start", "stop", "restart", "status"))
    assert not a.control.allows("stop", "c")
    assert c.control.allows("restart", "b") and not c.control.allows("stop", "b")
    assert c.control.allows("status", "anyone")
    assert not b.control and b.autostart is False and a.autostart is True
    found = problems(
        {
            **base,
            "actors": {
                "a": {"class": "m:A", "control": ["ghost", "a"]},
                "b": {"class": "m:B", "control": {"kill": ["a"], "stop": "a"}},
                "c": {"class": "m:C", "control": "a", "autostart": "no"},
            },
        }
    )
    assert any("actors.a.control: names unknown actor 'ghost'" in p for p in found), found
    assert any("actors.a.control: an actor cannot stop itself" in p for p in found), found
    assert any("actors.b.control.kill: unknown op" in p for p in found), found
    assert any("actors.b.control.stop: must be a list of actor names" in p for p in found)
    assert any("actors.c.control: expected list or dict" in p for p in found), found
    assert any("actors.c.autostart" in p for p in found), found


def test_a_site_read_again_unchanged_is_the_same_record(tmp_path: Path) -> None:
    """load_site remembers its last parse by the file's bytes and the added tables: read
    again unchanged, the same record comes back (a zygote's children share it instead of
    parsing it into pages of their own); any change of either is parsed anew."""
    path = tmp_path / "site.toml"
    path.write_text('[site]\nname = "a"\n[actors.t]\nclass = "m:T"\n')
    first = load_site(path)
    assert load_site(path) is first
    assert load_site(str(path)) is first  # the same file, however it is named
    added = load_site(path, extra_actors={"u": {"class": "m:U"}})
    assert added is not first and set(added.actors) == {"t", "u"}
    assert load_site(path, extra_actors={"u": {"class": "m:U"}}) is added
    assert load_site(path) is not added
    path.write_text('[site]\nname = "b"\n[actors.t]\nclass = "m:T"\n')
    changed = load_site(path)
    assert changed.site.name == "b"
    path.write_text('[site]\nname = "b"\n[actors.t]\nclass = "m:T"\nperiod = -1\n')
    with pytest.raises(ConfigError, match="period"):
        load_site(path)  # a broken file is never served from memory
