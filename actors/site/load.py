"""Reading a site.toml into a :class:`~actors.site.model.SiteConfig` (shell: file IO)."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from actors.site.hosts import HOST_ENV
from actors.site.model import ConfigError, ConfigProblem, SiteConfig
from actors.site.parse import parse_site, parse_site_leniently

#: The last site this process parsed, with what it was parsed from (the file, its bytes,
#: the added tables, the host): read again unchanged, the same record is returned. A process forked
#: after the parse (the zygote's children) so takes its config from the memory it shares
#: with the zygote, where parsing it again would cost each actor about 1.8 MiB of private
#: pages (measured with a fork of the demo site).
_last: tuple[Path, bytes, str, str, SiteConfig] | None = None


def last_parse() -> SiteConfig | None:
    """The site this process parsed last (what :func:`load_site` returns again unchanged)."""
    return _last[4] if _last is not None else None


def load_site(
    path: str | Path, extra_actors: dict[str, dict[str, Any]] | None = None
) -> SiteConfig:
    """Read and validate *path*; raise ConfigError naming the file, key and reason.

    *extra_actors* are ``[actors.NAME]`` tables added to the file's (``ctl add``). On a
    site of several hosts, the view is of the host ``ENLIL_HOST`` names (``--host``
    sets it for the process and its children), else of the main host.
    """
    global _last  # noqa: PLW0603 - this process's one remembered parse
    path = Path(path).resolve()
    raw = _read_bytes(path)
    added = json.dumps(extra_actors, sort_keys=True) if extra_actors else ""
    host = os.environ.get(HOST_ENV, "")
    last = _last
    if last is not None and last[:4] == (path, raw, added, host):
        return last[4]
    site = parse_site(_data(path, raw, extra_actors), path, host)
    _last = (path, raw, added, host, site)
    return site


def load_views(path: str | Path) -> dict[str, SiteConfig]:
    """The site as each of its hosts sees it (host -> its view; one view, under "", on a
    site of one host); ConfigError as :func:`load_site`."""
    path, data = _read(path, None)
    first = parse_site(data, path)
    if not first.hosts:
        return {"": first}
    return {host: parse_site(data, path, host) for host in first.hosts}


def load_site_leniently(path: str | Path) -> tuple[SiteConfig, list[ConfigProblem]]:
    """The site in *path* (as :func:`load_site` sees it) as far as it is sound, and every
    problem of its config (ConfigError only when the file cannot be read as TOML)."""
    path, data = _read(path, None)
    return parse_site_leniently(data, path, os.environ.get(HOST_ENV, ""))


def _read(
    path: str | Path, extra_actors: dict[str, dict[str, Any]] | None
) -> tuple[Path, dict[str, Any]]:
    path = Path(path).resolve()
    return path, _data(path, _read_bytes(path), extra_actors)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "", "file not found")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {exc}")]) from None


def _data(path: Path, raw: bytes, extra_actors: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The TOML *raw* (of *path*) as data, with *extra_actors* added to its actors."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"not valid TOML: {exc}")]) from None
    if extra_actors:
        actors = data.get("actors")
        data["actors"] = {**(actors if isinstance(actors, dict) else {}), **extra_actors}
    return data


def file_etag(path: str | Path) -> str:
    """The version of a site.toml: changes with its contents."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def import_paths(site: SiteConfig) -> list[Path]:
    """Where actor modules are looked for: site.toml's folder, then ``site.python_path``."""
    return [site.folder, *site.site.python_path]
