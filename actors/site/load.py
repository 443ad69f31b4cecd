"""Reading a site.toml into a :class:`~actors.site.model.SiteConfig` (shell: file IO)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from actors.site.model import ConfigError, ConfigProblem, SiteConfig
from actors.site.parse import parse_site


def load_site(
    path: str | Path, extra_actors: dict[str, dict[str, Any]] | None = None
) -> SiteConfig:
    """Read and validate *path*; raise ConfigError naming the file, key and reason.

    *extra_actors* are ``[actors.NAME]`` tables added to the file's (``ctl add``).
    """
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
    return parse_site(data, path)


def file_etag(path: str | Path) -> str:
    """The version of a site.toml: changes with its contents."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def import_paths(site: SiteConfig) -> list[Path]:
    """Where actor modules are looked for: site.toml's folder, then ``site.python_path``."""
    return [site.folder, *site.site.python_path]
