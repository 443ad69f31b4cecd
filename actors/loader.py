"""Finding and importing actor classes named ``module:Class`` (shell: imports files)."""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path

from actors.core.actor import Actor


class LoadError(ImportError):
    """An actor class could not be loaded; the message says which and why."""


def add_import_paths(paths: Iterable[Path]) -> None:
    """Put *paths* first on ``sys.path`` (site.toml's folder wins over installed modules)."""
    for path in reversed([str(p) for p in paths]):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def load_class(class_path: str, paths: Iterable[Path] = ()) -> type[Actor]:
    """Import ``module:Class`` with *paths* first on sys.path; it must subclass Actor."""
    module_name, _, attr = class_path.partition(":")
    if not module_name or not attr:
        raise LoadError(f"class {class_path!r} is not of the form 'module:Class'")
    add_import_paths(paths)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            where = ", ".join(str(p) for p in paths) or "sys.path"
            raise LoadError(
                f"class {class_path!r}: no module named {exc.name!r} "
                f"(looked in {where} and the installed packages)"
            ) from None
        raise LoadError(f"class {class_path!r}: importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:
        # Anything the user's module raises at import time (DeclarationError included).
        last = traceback.extract_tb(exc.__traceback__)[-1]
        raise LoadError(
            f"class {class_path!r}: importing {module_name!r} failed at "
            f"{last.filename}:{last.lineno}: {type(exc).__name__}: {exc}"
        ) from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise LoadError(f"class {class_path!r}: module {module_name!r} has no attribute {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, Actor)) or cls is Actor:
        raise LoadError(f"class {class_path!r}: {attr!r} is not a subclass of actors.Actor")
    return cls
