"""MkDocs hooks of the documentation site (``mkdocs.yml``): pages made from the code and
from README at build time, so that none of them can drift.

* ``tour.md``: README's quick start and tour (one text for GitHub and the site; its links
  into ``docs/`` made relative to the site).
* ``reference/cli.md``: every command's ``-h``, from the parsers
  (:func:`supervisor.cli_reference.cli_markdown`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Where a generated part goes in its page.
CLI_MARK = "<!-- the command line, from its parsers -->"
TOUR_MARK = "<!-- README's quick start and tour -->"


def tour() -> str:
    """README from its quick start to its reference list (exclusive), for the site."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text[text.index("## Quick start") : text.index("## Reference")]
    body = re.sub(r"(?m)^#(#+) ", r"\1 ", body)  # one level up: the page has its own title
    return body.replace("](docs/", "](")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Fill the generated parts of a page."""
    if CLI_MARK in markdown:
        from supervisor.cli_reference import cli_markdown  # noqa: PLC0415 - only when needed

        markdown = markdown.replace(CLI_MARK, cli_markdown())
    if TOUR_MARK in markdown:
        markdown = markdown.replace(TOUR_MARK, tour())
    return markdown
