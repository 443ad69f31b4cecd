"""Finding and importing actor classes named ``module:Class``, and making an actor process's
engine from its settings (shell: imports files)."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from collections.abc import Iterable
from importlib.machinery import PathFinder
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.core.actor import Actor
from actors.core.engine import ActorEngine
from actors.core.params import ParamError
from actors.site.paths import path_param_problems

if TYPE_CHECKING:
    from actors.settings import RuntimeConfig


class LoadError(ImportError):
    """An actor class could not be loaded; the message says which and why."""


class UntrustedCode(LoadError):
    """A module was found only in a folder not trusted to hold code (nothing imported)."""


def module_origin(module_name: str, paths: Iterable[str | Path], *, installed: bool = True) -> str:
    """The file *module_name* would be imported from, found without importing or running
    anything (no package's ``__init__`` either); "" when it is nowhere.

    *paths* are searched first, then (with *installed*) this interpreter's
    ``sys.path``: the standard library and the installed packages. A module
    already imported, or built into the interpreter, is where it is.
    """
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return str(getattr(loaded, "__file__", None) or "(already imported)")
    if module_name in sys.builtin_module_names:
        return "(built into the interpreter)"
    parts = module_name.split(".")
    search = [str(p) for p in paths] + (list(sys.path) if installed else [])
    spec = PathFinder.find_spec(parts[0], search) if all(p.isidentifier() for p in parts) else None
    for depth in range(1, len(parts)):
        where = spec.submodule_search_locations if spec is not None else None
        spec = PathFinder.find_spec(".".join(parts[: depth + 1]), list(where)) if where else None
    if spec is None:
        return ""
    if spec.origin and spec.origin != "namespace":
        return spec.origin
    return next(iter(spec.submodule_search_locations or []), "")


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


def make_engine(cfg: RuntimeConfig, log: Any) -> ActorEngine:
    """Load the actor's class and make its engine (and so the actor): LoadError, ParamError
    (a path param pointing where it may not), PolicyError, or what its ``__init__`` raises."""
    cls = load_class(cfg.class_path, cfg.import_paths)
    # A param given at run time is checked here too, in the actor's own process.
    spec, where = cls._enlil_spec.params, cfg.allowed_paths
    if problems := path_param_problems(spec, cfg.params, cfg.run_dir, where):
        raise ParamError(f"actor {cfg.name!r}: " + "; ".join(problems))
    return ActorEngine(
        cls, cfg.engine_config(), wall_ns=time.time_ns, monotonic=time.monotonic, log=log
    )
