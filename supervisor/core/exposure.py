"""What ``check`` warns about a site's exposure (pure core, no IO).

A site can be valid and still open: endpoints that anyone on the network can
reach without a key, a web view whose token travels in plain HTTP beyond this
machine, every tool key made an admin, access rules that hand an actor or a
tool the framework's own topics. :func:`exposure_warnings` names each with its
key and what to do; :func:`framework_output_findings` names an actor that
declares an Output on a framework topic (the broker never grants it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from actors.core.access import ACTOR_FRAMEWORK_OUTPUTS, BUILTIN_PREFIX
from actors.core.calls import SERVICE_PREFIX
from actors.site.model import SiteConfig
from supervisor.core.design import ActorDecl, Finding
from supervisor.core.webaccess import is_loopback

#: Topics whose grant to an actor or a tool is worth a warning: the framework's, and the
#: supervisor's own service.
_FRAMEWORK: Final = ("$sys.", SERVICE_PREFIX + "supervisor")


def _host(endpoint: str) -> str:
    """The host of a ``tcp://HOST:PORT`` endpoint ("" for ipc://)."""
    if not endpoint.startswith("tcp://"):
        return ""
    host, _, _ = endpoint.removeprefix("tcp://").rpartition(":")
    return host.strip("[]")


def exposure_warnings(site: SiteConfig) -> list[tuple[str, str]]:
    """``(key, warning)`` for each way *site* is open beyond what its owner may mean."""
    out: list[tuple[str, str]] = []
    endpoints = (
        ("broker.pub", site.broker.pub),
        ("broker.sub", site.broker.sub),
        ("supervisor.control", site.supervisor.control),
    )
    if not site.secured:
        for key, endpoint in endpoints:
            host = _host(endpoint)
            if host and not is_loopback(host):
                out.append(
                    (
                        key,
                        f"{endpoint} is reachable from the network without a key (curve is "
                        "off): anyone who reaches it may read, publish and control; set "
                        "[security] curve = true",
                    )
                )
    listen = site.web.listen
    if listen:
        host = listen.rpartition(":")[0].strip("[]")
        if not is_loopback(host):
            out.append(
                (
                    "web.listen",
                    f"{listen} serves the web view beyond this machine over plain HTTP: its "
                    "token can be read on the way; keep it on loopback or put it behind a "
                    "TLS proxy",
                )
            )
    if site.secured and site.security.default_role == "admin":
        out.append(
            (
                "security.default_role",
                '"admin" lets every tool key of the folder add, remove, swap and shut down; '
                'give admin by name in [security.roles] and keep the default "read"',
            )
        )
    for name, rights in sorted(site.security.access.items()):
        granted = [p for p in rights.publish if p.startswith(_FRAMEWORK) or p in ("*", "$*")]
        for pattern in granted:
            out.append(
                (
                    f"security.access.{name}.publish",
                    f"{pattern!r} grants {name} the framework's topics: it could forge events, "
                    "heartbeats, faults or control; the supervisor's own topics stay denied",
                )
            )
    return out


def framework_output_findings(decls: Iterable[ActorDecl]) -> list[Finding]:
    """An error for each Output declared on a framework topic (``$...``) that an actor may
    not publish (all, but the built-in log and status actors' own): the broker of a
    checked site never grants it."""
    out = []
    for decl in decls:
        builtin = decl.class_path.startswith(BUILTIN_PREFIX)
        for output in decl.spec.outputs.values():
            for topic in decl.topics.get(output.name, [output.topic]):
                if not topic.startswith("$") or (builtin and topic in ACTOR_FRAMEWORK_OUTPUTS):
                    continue
                message = (
                    f"{decl.name}.{output.name} publishes a framework topic: actors may not "
                    "(the broker refuses it); choose a topic of the site's own"
                )
                out.append(Finding("error", topic, message, (decl.name,)))
    return out
