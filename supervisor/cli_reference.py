"""The command line's reference, made from its parser (shell): every command and
subcommand with its ``-h``, so the documentation cannot drift from the code.

The documentation site's build (``tools/mkdocs_hooks.py``) puts it into
``docs/reference/cli.md``; ``python -m supervisor.cli_reference`` prints it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

from actors.__main__ import build_parser as actor_parser
from broker.__main__ import build_parser as broker_parser
from supervisor.cli import build_parser

#: The width help is wrapped at (argparse reads COLUMNS): the same text on any terminal.
WIDTH = 88


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every command under *parser*, depth first: its words after ``python -m
    supervisor``, its parser, and its one-line help."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, sub in action.choices.items():
            words = (*path, name)
            yield words, sub, helps.get(name, "")
            yield from commands(sub, words)


def cli_markdown() -> str:
    """The reference of ``python -m supervisor`` (a section per command, its help as the
    parser prints it), then of ``python -m actors`` and ``python -m broker``."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        parser = build_parser()
        out = [
            "Every command of `python -m supervisor`, with the help it prints for `-h` "
            "(made from the parser when this site is built).",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
        ]
        for words, sub, what in commands(parser):
            out += [
                "",
                f"{'#' * min(len(words) + 1, 4)} `{' '.join(words)}`",
                "",
                *([what[:1].upper() + what[1:] + ".", ""] if what else []),
                "```text",
                sub.format_help().rstrip(),
                "```",
            ]
        for program, made in (
            ("python -m actors", actor_parser),
            ("python -m broker", broker_parser),
        ):
            out += ["", f"## `{program}`", "", "```text", made().format_help().rstrip(), "```"]
        return "\n".join(out) + "\n"
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


if __name__ == "__main__":
    print(cli_markdown(), end="")
