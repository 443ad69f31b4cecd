"""Reading site.toml and checking it against the actor classes it names (shell)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from actors.core.engine import resolve_param_topics, resolve_params, resolve_topics
from actors.loader import LoadError, load_class
from actors.runtime import RuntimeConfig
from broker.proxy import BrokerSettings
from supervisor.core.config import ConfigError, ConfigProblem, SiteConfig, parse_site
from supervisor.core.design import ActorDecl


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


def declared_actors(site: SiteConfig) -> tuple[list[ActorDecl], list[ConfigProblem]]:
    """Import every actor class; resolve its params and topics as the engine will.

    Returns the actors that resolved, and the problems (file, key, reason) of the rest.
    """
    problems: list[ConfigProblem] = []
    decls: list[ActorDecl] = []
    for name, actor in site.actors.items():
        where = f"actors.{name}"
        try:
            cls = load_class(actor.class_path, import_paths(site))
        except LoadError as exc:
            problems.append(ConfigProblem(str(site.path), f"{where}.class", str(exc)))
            continue
        spec = cls._enlil_spec
        params, errors = resolve_params(spec, runtime_config(site, name).params)
        topics, topic_errors = resolve_topics(spec, actor.topics, name)
        by_params: dict[str, list[str]] = {}
        if not errors:
            by_params, param_errors = resolve_param_topics(cls, params)
            topic_errors += param_errors
        problems.extend(
            ConfigProblem(str(site.path), f"{where}.{e.split(':', 1)[0]}", e.split(": ", 1)[1])
            for e in errors + topic_errors
        )
        if errors or topic_errors:
            continue
        decls.append(
            ActorDecl(
                name=name,
                class_path=actor.class_path,
                doc=spec.doc,
                hal=bool(getattr(cls, "hal", False)),
                spec=spec,
                topics={n: by_params.get(n, [t]) for n, t in topics.items()},
                params=params,
            )
        )
    return decls, problems


def retained_topics(decls: list[ActorDecl]) -> list[str]:
    """Topics (or families) of every retained Output of the site."""
    return sorted(
        {
            topic
            for d in decls
            for name, var in d.spec.outputs.items()
            if var.retained
            for topic in d.topics.get(name, [])
        }
    )


def check_actors(site: SiteConfig) -> list[ConfigProblem]:
    """Import every actor class and check its params and topics; return the problems."""
    return declared_actors(site)[1]


def check_site(path: str | Path) -> SiteConfig:
    """Load *path* and check its actor classes; raise ConfigError with every problem."""
    site = load_site(path)
    problems = check_actors(site)
    if problems:
        raise ConfigError(problems)
    return site


#: The built-in status actor, whose `watch` param defaults to the actors marked `status`.
STATUS_CLASS = "actors.builtin:Status"


def runtime_config(site: SiteConfig, name: str) -> RuntimeConfig:
    """The runtime settings of actor *name* of *site* (KeyError if there is none)."""
    actor = site.actors[name]
    params = dict(actor.params)
    if actor.class_path == STATUS_CLASS and "watch" not in params:
        # The status actor publishes the actors marked `status = true` (all if none is).
        params["watch"] = [n for n, a in site.actors.items() if a.status]
    return RuntimeConfig(
        name=name,
        class_path=actor.class_path,
        pub_endpoint=site.broker.pub_connect,
        sub_endpoint=site.broker.sub_connect,
        import_paths=tuple(import_paths(site)),
        params=params,
        topics=actor.topics,
        period=actor.period,
        heartbeat_interval=site.supervisor.heartbeat_interval,
        connect_timeout=site.supervisor.ready_timeout,
        log_level=actor.log_level or site.telemetry.log_level,
        otel_log_level=actor.otel_log_level or site.telemetry.otel_log_level,
        log_dir=site.site.run_dir / "logs",
        run_dir=site.site.run_dir,
        hwm=site.broker.hwm,
        site=site.site.name,
        otlp_endpoint=site.telemetry.otlp_endpoint,
        sampling=site.telemetry.sampling,
        resource=site.telemetry.resource,
        metrics_interval=site.telemetry.metrics_interval,
        protocol=site.telemetry.protocol,
        snapshot_dir=site.snapshots.dir,
        snapshot_keep=site.snapshots.keep,
        recorder=actor.recorder if actor.recorder is not None else site.snapshots.inputs,
    )


def broker_settings(site: SiteConfig, log_level: str | None = None) -> BrokerSettings:
    """The broker process settings of *site*."""
    return BrokerSettings(
        pub=site.broker.pub,
        sub=site.broker.sub,
        hwm=site.broker.hwm,
        heartbeat_interval=site.supervisor.heartbeat_interval,
        log_level=log_level or site.telemetry.log_level,
        log_dir=site.site.run_dir / "logs",
    )
