"""Checking a site against the actor classes it names: params, topics, declarations (shell)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from actors.core.limits import resolve_limits
from actors.core.params import (
    class_param_errors,
    resolve_param_topics,
    resolve_params,
    resolve_topics,
)
from actors.core.resilience import PolicyError
from actors.core.services import resolve_calls
from actors.loader import LoadError, load_class
from actors.site import ActorConfig, ConfigError, ConfigProblem, SiteConfig, import_paths
from actors.site.load import load_site_leniently
from actors.site.paths import allowed_paths, folder_problems, path_param_problems
from supervisor.core.design import ActorDecl, Design, Finding
from supervisor.core.exposure import framework_output_findings


def declared_actors(
    site: SiteConfig, of: Mapping[str, ActorConfig] | None = None
) -> tuple[list[ActorDecl], list[ConfigProblem]]:
    """Import the class of every actor this host runs (of those in *of*, e.g.
    ``site.everyone``); resolve its params and topics as the engine will.

    Returns the actors that resolved, and the problems (file, key, reason) of the rest.
    """
    problems: list[ConfigProblem] = []
    decls: list[ActorDecl] = []
    allowed = allowed_paths(site)
    for name, actor in (site.actors if of is None else of).items():
        where = f"actors.{name}"
        try:
            cls = load_class(actor.class_path, import_paths(site))
        except LoadError as exc:
            problems.append(ConfigProblem(str(site.path), f"{where}.class", str(exc)))
            continue
        spec = cls._enlil_spec
        params, errors = resolve_params(spec, site.actor_params(name))
        topics, topic_errors = resolve_topics(spec, actor.topics, name)
        by_params: dict[str, list[str]] = {}
        manages: dict[str, list[str]] = {}
        if not errors:
            errors += class_param_errors(cls, params)
            errors += path_param_problems(spec.params, params, site.site.run_dir, allowed)
        if not errors:
            by_params, param_errors = resolve_param_topics(cls, params)
            topic_errors += param_errors
            manages = cls.actors_from_params(params)
            errors += named_actor_problems(site, name, manages)
        problems.extend(
            ConfigProblem(str(site.path), f"{where}.{e.split(':', 1)[0]}", e.split(": ", 1)[1])
            for e in errors + topic_errors
        )
        for var, limit in actor.rate_limits.items():
            try:
                resolve_limits(spec, {var: limit})
            except PolicyError as exc:  # actors.NAME.rate_limits.VAR.KEY
                problems.append(ConfigProblem(str(site.path), f"{where}.{exc.key}", exc.reason))
        for call, table in actor.calls.items():  # each call on its own: every problem at once
            try:
                resolve_calls(spec, {call: table})
            except PolicyError as exc:  # names the call and the key: actors.NAME.calls.CALL.KEY
                problems.append(ConfigProblem(str(site.path), f"{where}.{exc.key}", exc.reason))
        if errors or topic_errors:
            continue
        try:
            found = tuple(cls.boundary_from_params(params))
        except Exception as exc:  # noqa: BLE001 - the user's method failing is a finding too
            reason = f"{spec.cls_name}.boundary_from_params failed: {exc!r}"
            problems.append(ConfigProblem(str(site.path), f"{where}.params", reason))
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
                boundaries=found,
                manages=manages,
            )
        )
    return decls, problems


def check_actors(site: SiteConfig) -> list[ConfigProblem]:
    """Import every actor class and check its params and topics; return the problems."""
    return declared_actors(site, site.everyone)[1]


def check_site(path: str | Path) -> SiteConfig:
    """Load *path*, check its config, its actor classes and its folders; raise ConfigError
    with every problem at once."""
    site, problems = load_site_leniently(path)
    problems += check_actors(site) + folder_problems(site)
    if problems:
        raise ConfigError(problems)
    return site


def check_all(path: str | Path) -> tuple[SiteConfig, list[ConfigProblem], list[Finding]]:
    """Everything ``check`` reports, at once: config, classes, folders and design.

    The design is that of the actors that resolved. ConfigError only when the
    file cannot be read as TOML.
    """
    site, problems = load_site_leniently(path)
    decls, class_problems = declared_actors(site, site.everyone)
    problems += class_problems + folder_problems(site) + _set_aside_classes(site, problems)
    # Each actor's problems together, in the order its first one came.
    first: dict[str, int] = {}
    for problem in problems:
        first.setdefault(".".join(problem.key.split(".")[:2]), len(first))
    problems.sort(key=lambda p: first[".".join(p.key.split(".")[:2])])
    findings = Design(site.site.name, decls).check() + framework_output_findings(decls)
    return site, problems, findings + autostart_findings(site, decls)


def _set_aside_classes(site: SiteConfig, problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """The class of each actor that its table's other problems kept out of *site*: still
    checked, so that ``check`` names every problem of an actor at once."""
    try:
        data = tomllib.loads(site.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    tables = data.get("actors")
    if not isinstance(tables, dict):
        return []
    named = {p.key for p in problems}
    out = []
    for name, table in tables.items():
        if name in site.actors or not isinstance(table, dict):
            continue
        class_path = table.get("class")
        key = f"actors.{name}.class"
        if not isinstance(class_path, str) or key in named:
            continue
        try:
            load_class(class_path, import_paths(site))
        except LoadError as exc:
            out.append(ConfigProblem(str(site.path), key, str(exc)))
    return out


def autostart_findings(site: SiteConfig, decls: list[ActorDecl]) -> list[Finding]:
    """A warning for each actor that another's params manage (a mode's actor) but that
    starts with the site anyway: it runs before its manager decides, and may be stopped
    at once."""
    out = []
    for decl in decls:
        for key, names in decl.manages.items():
            for name in names:
                actor = site.actors.get(name)
                if actor is not None and actor.autostart and name != decl.name:
                    message = (
                        f"managed by {decl.name} (params.{key}) but starts with the site; "
                        f"set autostart = false in [actors.{name}] to leave it to {decl.name}"
                    )
                    out.append(Finding("warning", name, message, (decl.name, name), "actor"))
    return list(dict.fromkeys(out))


def named_actor_problems(site: SiteConfig, name: str, named: dict[str, list[str]]) -> list[str]:
    """Problems of the actors that actor *name*'s params name (``Actor.actors_from_params``):
    each must be an actor of the site that its ``control`` rights let it start, stop and
    ask about."""
    rights = site.everyone[name].control
    problems = []
    for key, actors in named.items():
        for other in actors:
            if other not in site.everyone:
                problems.append(f"params.{key}: names unknown actor {other!r}")
            elif other == name:
                problems.append(f"params.{key}: names the actor itself")
            elif not all(rights.allows(op, other) for op in ("start", "stop", "status")):
                problems.append(
                    f"control: does not let it start, stop and ask about {other!r} "
                    f"(named by params.{key})"
                )
    return list(dict.fromkeys(problems))
