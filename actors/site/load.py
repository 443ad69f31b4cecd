"""Reading a site.toml into a :class:`~actors.site.model.SiteConfig` (shell: file IO)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from actors.site.model import ConfigError, ConfigProblem, SiteConfig
from actors.site.parse import parse_site, parse_site_leniently


def load_site(
    path: str | Path, extra_actors: dict[str, dict[str, Any]] | None = None
) -> SiteConfig:
    """Read and validate *path*; raise ConfigError naming the file, key and reason.

    *extra_actors* are ``[actors.NAME]`` tables added to the file's (``ctl add``).
    """
    path, data = _read(path, extra_actors)
    return parse_site(data, path)


def load_site_leniently(path: str | Path) -> tuple[SiteConfig, list[ConfigProblem]]:
    """The site in *path* as far as it is sound, and every problem of its config (ConfigError
    only when the file cannot be read as TOML)."""
    path, data = _read(path, None)
    return parse_site_leniently(data, path)


def _read(
    path: str | Path, extra_actors: dict[str, dict[str, Any]] | None
) -> tuple[Path, dict[str, Any]]:
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"not valid TOML: {exc}")]) from None
    if extra_actors:
        actors = data.get("actors")
        data["actors"] = {**(actors if isinstance(actors, dict) else {}), **extra_actors}
    return path, data


def file_etag(path: str | Path) -> str:
    """The version of a site.toml: changes with its contents."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def import_paths(site: SiteConfig) -> list[Path]:
    """Where actor modules are looked for: site.toml's folder, then ``site.python_path``."""
    return [site.folder, *site.site.python_path]
