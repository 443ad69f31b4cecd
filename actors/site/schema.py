"""How a key of ``site.toml`` is defined once: its type, default, sane range and unit,
choices and doc (pure: no IO). The definitions: :mod:`actors.site.actor_keys`
(``[actors.NAME]``, ``[supervisor]``) and :mod:`actors.site.site_keys` (the
site's other tables, and :data:`~actors.site.site_keys.TABLES`, all of them).

The parser (:mod:`actors.site.parse`) checks every table against these
definitions (types, defaults, ranges, choices), the model's records
(:mod:`actors.site.model`) take their defaults from them, ``ctl add`` makes an
option of each ``[actors.NAME]`` key, and the site.toml reference's rows are made
from them (``tests/test_docs_site.py`` holds the page equal). Adding a key: its
definition here, its field in the table's record in :mod:`actors.site.model`
(filled by the parser), and the code that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

STRATEGIES: Final = ("one_for_one", "one_for_all", "rest_for_one")
RESTART_TYPES: Final = ("permanent", "transient", "temporary")
ESCALATIONS: Final = ("shutdown", "give_up")
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
SPAWN_MODES: Final = ("zygote", "plain")
PROTOCOLS: Final = ("http", "grpc")
#: ``[security] curve``: on when an endpoint is tcp:// ("auto"), always ("on"), never ("off").
CURVE_MODES: Final = ("auto", "on", "off")

#: A key with no default: it must be given.
REQUIRED: Final = ...
#: The types of a number key (an int is taken for a float).
NUM: Final = (int, float)


@dataclass(frozen=True)
class Key:
    """One key of a table."""

    name: str
    #: The types a value may have (an int is taken for a float).
    types: tuple[type, ...]
    #: The value when the key is left out (:data:`REQUIRED`: none; None: the site's or the
    #: class's, as ``shown`` says).
    default: Any
    doc: str
    #: The sane range of a number, and its unit (checked by ``check`` and at start).
    low: float | None = None
    high: float | None = None
    unit: str = ""
    #: The values a text may take (empty: any).
    choices: tuple[str, ...] = ()
    #: The default as the reference shows it, when it is not the value itself.
    shown: str = ""
    #: How the reference names the key, when not ``[table] name`` (a nested table).
    label: str = ""

    @property
    def ranged(self) -> bool:
        """Whether the key is a number with a sane range."""
        return self.low is not None and self.high is not None

    @property
    def bounds(self) -> tuple[float, float, str]:
        """The range and unit of a ranged key (ValueError for another)."""
        if self.low is None or self.high is None:
            raise ValueError(f"{self.name} has no range")
        return self.low, self.high, self.unit

    def default_text(self) -> str:
        """The default as the reference shows it."""
        if self.shown:
            return self.shown
        if self.default is REQUIRED:
            return "required"
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        if isinstance(self.default, str):
            return f'`"{self.default}"`'
        return f"`{self.default!r}`" if self.default is not None else "none"


def default(keys: tuple[Key, ...], name: str) -> Any:
    """The default of key *name* among *keys* (what a record's field defaults to)."""
    for key in keys:
        if key.name == name:
            return key.default
    raise KeyError(name)


def _number(value: float | None) -> str:
    """*value* as the reference writes it: ``86,400``, ``0.0001``."""
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def reference_rows(keys: tuple[Key, ...], table: str) -> str:
    """The site.toml reference's rows of *keys* (a markdown table's body)."""
    rows = []
    for key in keys:
        doc = key.doc
        if key.ranged:
            unit = f" {key.unit}" if key.unit else ""
            doc += f" (from {_number(key.low)} to {_number(key.high)}{unit})"
        if key.choices and not key.doc.startswith("`"):
            doc += f" (one of {', '.join(f'`{c}`' for c in key.choices)})"
        label = key.label or f"[{table}] {key.name}"
        rows.append(f"| `{label}` | {key.default_text()} | {doc} |")
    return "\n".join(rows)
