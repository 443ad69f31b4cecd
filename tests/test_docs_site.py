"""The documentation site: it builds with MkDocs with warnings as errors and without the
network, its command-line reference is every command's help from the parsers, its
site.toml reference names every key the parser takes, and README's first screen is a
newcomer's path."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from actors.site.parse import site_keys
from supervisor.cli import build_parser
from supervisor.cli_reference import commands

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built by ``mkdocs build --strict`` into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def _text(page: Path) -> str:
    """A built page's text, tags dropped and entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


def test_the_site_builds_strict_with_every_page(built: Path) -> None:
    """Every reference page, the tour (README's, with the first hour) and the demo's
    dictionary are built; no page asks another host for fonts or scripts."""
    for name in [f"reference/{p.stem}" for p in REFERENCE.glob("*.md")] + [
        "tour",
        "demo/dictionary",
    ]:
        assert (built / name / "index.html").exists(), name
    tour = _text(built / "tour" / "index.html")
    assert "pub thermostat.boost 0" in tour and "Write an actor" in tour
    for page in built.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'src="https?://|<link[^>]*href="https?://', text), page


def test_the_cli_reference_is_every_commands_help(built: Path) -> None:
    """Each command and subcommand has its section in the built reference, with every
    option its parser takes (hidden ones aside)."""
    page = _text(built / "reference" / "cli" / "index.html")
    found = 0
    for words, sub, _ in commands(build_parser()):
        assert f"usage: python -m supervisor {' '.join(words)}" in page, words
        for action in sub._actions:
            if action.help != "==SUPPRESS==":
                for option in action.option_strings:
                    assert option in page, (words, option)
        found += 1
    assert found > 30  # ctl's ops and snapshot's subcommands among them
    assert "usage: python -m actors" in page and "usage: python -m broker" in page


def test_the_site_toml_reference_names_every_key() -> None:
    """Every key the parser takes is a row of the site.toml reference (a rule's in the
    fault injection page): a key added without its documentation fails here."""
    toml = (REFERENCE / "site-toml.md").read_text()
    faults = (REFERENCE / "faults.md").read_text()
    missing = []
    for table, keys in site_keys().items():
        for key in keys:
            if table == "faults.rules":
                ok = f"| `{key}` |" in faults
            else:
                forms = (f"`[{table}] {key}`", f"`[{table}.{key}]", f"`[{table}.{key}.")
                ok = any(form in toml for form in (*forms, f"`[[{table}.{key}]]`"))
            if not ok:
                missing.append(f"{table}.{key}")
    assert missing == []


def test_readmes_first_screen_is_a_newcomers_path() -> None:
    """Clone, the two commands, the view's URL, one crash turned into a test: in that
    order, in README's first 60 lines."""
    first = "\n".join((ROOT / "README.md").read_text().splitlines()[:60])
    steps = [
        "git clone",
        "pip install -e . && python -m supervisor",
        "./scripts/test",
        "http://127.0.0.1:8080/",
        "pub thermostat.boost 0",
        "python -m supervisor replay FILE",
        "snapshot export FILE -o tests/thermostat_crash.json",
        "def test_a_boost_of_zero_minutes_does_not_crash_the_thermostat",
    ]
    at = [first.find(step) for step in steps]
    assert -1 not in at, dict(zip(steps, at, strict=True))
    assert at == sorted(at)


#: The reference's blocks of rows made from the key definitions, and their tables.
BLOCKS = {
    "the site's shared tables'": (
        "site",
        "broker",
        "telemetry",
        "snapshots",
        "web",
        "faults",
        "security",
        "persistence",
    ),
    "the [supervisor]": ("supervisor",),
    "the [hosts.NAME]": ("hosts.NAME",),
    "the [actors.NAME]": ("actors.NAME",),
}


@pytest.mark.parametrize("block", list(BLOCKS))
def test_the_keys_rows_are_made_from_their_definitions(block: str) -> None:
    """The site.toml reference's rows are the key definitions' (``actors/site/actor_keys.py``
    and ``site_keys.py``): a key's doc, default or range changed there and not here fails,
    and the definitions hold every key the parser takes, of every table."""
    from actors.site.schema import reference_rows
    from actors.site.site_keys import TABLES

    page = (REFERENCE / "site-toml.md").read_text()
    begin = page.index(f"<!-- {block} keys, from actors/site/")
    begin = page.index("\n", begin) + 1
    text = page[begin : page.index(f"\n<!-- end of {block} keys")]
    header = "| key | default | meaning |\n|---|---|---|\n"
    rows = "\n".join(reference_rows(TABLES[table], table) for table in BLOCKS[block])
    assert text == header + rows, "regenerate: actors.site.schema.reference_rows()"
    assert set(TABLES) == {t for tables in BLOCKS.values() for t in tables}
    for table in BLOCKS[block]:
        assert [k.name for k in TABLES[table]] == list(site_keys()[table])
