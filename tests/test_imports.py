"""The import contract: the packages depend on each other one way only.

``actors`` imports nothing of ``broker``, ``hal`` or ``supervisor`` (its test kit,
``actors.testing``, sits on top of everything and is exempt); ``broker`` and
``hal`` import only ``actors``; ``supervisor`` imports ``actors`` and ``broker``.
The site layer (``actors.site``) and the pure cores (``*/core``) import no shell
module; plugins see the supervisor only through its control client and event stream.
Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "broker", "hal", "supervisor")

#: package -> the other packages it may import.
ALLOWED: dict[str, frozenset[str]] = {
    "actors": frozenset(),
    "broker": frozenset({"actors"}),
    "hal": frozenset({"actors"}),
    "supervisor": frozenset({"actors", "broker"}),
}
#: Module prefixes exempt from the package rule, with the reason.
EXEMPT = {"actors.testing": "the test kit runs whole meshes: it sits on top of everything"}
#: Module prefixes that may import only the listed prefixes of this project (pure layers).
PURE = {
    # The site layer parses topics and fault rules with their pure cores.
    "actors.site": (
        "actors.site",
        "actors.core.topics",
        "actors.core.faults",
        "actors.core.access",
        "actors.core.actor_config",
    ),
    "actors.core": ("actors.core",),
    "supervisor.core": ("supervisor.core", "actors.core", "actors.site.model"),
    "hal.core": ("hal.core", "actors.core"),
}
#: Module prefixes that see the rest of the site only through the listed modules, and why.
NARROW = {
    "supervisor.web": (
        (
            "supervisor.web",
            "supervisor.client",
            "supervisor.core",
            "supervisor.site",
            "supervisor.docs",
            "actors",
        ),
        "the web view sees the site as a tool does: control client, broker link, run folder, "
        "the declarations",
    ),
    "supervisor.plugins": (
        ("supervisor.plugins", "supervisor.client", "supervisor.core", "actors"),
        "a plugin sees the site as a tool does: through its control client and event stream",
    ),
}


def module_name(path: Path) -> str:
    """The dotted module name of a file of the project."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str) -> list[tuple[int, str]]:
    """Every absolute module a source imports (line, dotted name), lazy imports included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def violations(module: str, source: str) -> list[str]:
    """What *module* (whose text is *source*) imports against the contract."""
    if any(module == e or module.startswith(e + ".") for e in EXEMPT):
        return []
    package = module.split(".", maxsplit=1)[0]
    problems = []
    for line, name in imported(source):
        target = name.split(".")[0]
        if target not in PACKAGES:
            continue
        if target != package and target not in ALLOWED[package]:
            problems.append(f"{module}:{line} imports {name} ({package} may not import {target})")
        elif _pure_violation(module, name):
            problems.append(f"{module}:{line} imports {name} (a pure layer imports no shell)")
        elif reason := _narrow_violation(module, name):
            problems.append(f"{module}:{line} imports {name} ({reason})")
    return problems


def _narrow_violation(module: str, name: str) -> str:
    for prefix, (allowed, reason) in NARROW.items():
        inside = module == prefix or module.startswith(prefix + ".")
        if inside and not any(name == a or name.startswith(a + ".") for a in allowed):
            return reason
    return ""


def _pure_violation(module: str, name: str) -> bool:
    for prefix, allowed in PURE.items():
        if module == prefix or module.startswith(prefix + "."):
            return not any(name == a or name.startswith(a + ".") for a in allowed)
    return False


def test_every_module_imports_along_the_contract() -> None:
    """No module of the four packages imports against the one-way rule."""
    problems = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            problems += violations(module_name(path), path.read_text(encoding="utf-8"))
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("actors.runtime", "from supervisor.site import load_site"),
        ("actors.runtime", "def f():\n    import broker.proxy\n"),
        ("broker.proxy", "from supervisor.children import Child"),
        ("hal.serial", "import broker"),
        ("actors.site.load", "from actors.runtime import RuntimeConfig"),
        ("supervisor.core.policy", "from supervisor.runner import Supervisor"),
        ("actors.core.engine", "from actors.logs import setup_logging"),
        ("supervisor.plugins.prometheus", "from supervisor.runner import Supervisor"),
    ],
)
def test_an_import_against_the_contract_is_found(module: str, source: str) -> None:
    """The checker itself: each kind of forbidden import is reported with its module and line."""
    problems = violations(module, source)
    assert len(problems) == 1
    assert problems[0].startswith(module + ":")


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("supervisor.runner", "from broker.proxy import BrokerSettings"),
        ("broker.proxy", "from actors.site import SiteConfig"),
        ("actors.testing.mesh", "from supervisor.client import ControlClient"),
        ("actors.site.parse", "from actors.core.topics import check_topic"),
        ("actors.runtime", "import zmq"),
        ("supervisor.plugins.otel", "from actors.telemetry import SiteMetrics"),
    ],
)
def test_an_import_along_the_contract_passes(module: str, source: str) -> None:
    """Imports the contract allows are not reported."""
    assert violations(module, source) == []
