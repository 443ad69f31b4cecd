"""The site's declarations as a design: dictionary, dataflow graph, checks (pure core, no IO).

Built from each actor's declared Inputs, Outputs, State and Params (with the
site's topic remaps and params applied), the :class:`Design` answers who
produces and who consumes each topic, lists every variable for the data
dictionary, finds design mistakes (:meth:`Design.check`), and compares the
declared graph with what a running site reports (:func:`compare_live`).
Renderers for Markdown, HTML, DOT, Mermaid and AsyncAPI live in
:mod:`supervisor.core.render`.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.core.boundary import Boundary
from actors.core.declarations import MISSING, NAME_FIELD, ActorSpec, Input, Output
from actors.core.records import foxglove_name
from actors.core.topics import parse_pattern
from actors.core.types import type_name
from supervisor.core import boundaries


@dataclass(frozen=True)
class ActorDecl:
    """One actor of the site as declared: its class's spec, resolved topics and params."""

    name: str
    class_path: str
    doc: str
    hal: bool
    spec: ActorSpec
    #: Every topic (or ``prefix.*`` family) of each Input and Output, resolved.
    topics: Mapping[str, list[str]]
    params: Mapping[str, Any] = field(default_factory=dict)
    #: The messaging systems outside the site it talks to (a bridge's other side).
    boundaries: tuple[Boundary, ...] = ()
    #: The actors its params name, which it starts and stops (a mode manager's), by key.
    manages: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class End:
    """One end of a topic: the actor and its Input or Output, with the declared type."""

    actor: str
    var: str
    type: Any
    shared: bool = False
    required: bool = False
    external: bool = False
    metric: bool = False
    reliable: bool = False

    @property
    def label(self) -> str:
        return f"{self.actor}.{self.var}"


@dataclass(frozen=True)
class Finding:
    """A design problem: ``error`` or ``warning``, what is wrong, the topic (or service)
    and actors."""

    severity: str
    topic: str
    message: str
    actors: tuple[str, ...] = ()
    #: What ``topic`` names: a ``topic`` or a ``service``.
    what: str = "topic"

    def __str__(self) -> str:
        return f"{self.severity}: {self.what} {self.topic!r}: {self.message}"


@dataclass(frozen=True)
class ServiceEnd:
    """One end of a service: the actor serving it (a handler) or calling it (a Call)."""

    actor: str
    var: str
    service: str
    request: Any
    reply: Any
    doc: str
    group: bool = False

    @property
    def label(self) -> str:
        return f"{self.actor}.{self.var}"


def overlaps(a: str, b: str) -> bool:
    """Whether a message could be on both topic texts (exact topics or ``prefix.*``)."""
    pa, pb = parse_pattern(a), parse_pattern(b)
    if pa.exact and pb.exact:
        return a == b
    if pa.exact:
        return pb.matches(a)
    if pb.exact:
        return pa.matches(b)
    return pa.prefix.startswith(pb.prefix) or pb.prefix.startswith(pa.prefix)


def compatible(produced: Any, consumed: Any) -> bool:
    """Whether values of the declared type *produced* may pass the consumer's type check.

    A producer declaring ``object`` may send anything: it is not held against a
    consumer (the consumer's own check counts what does not fit).
    """
    if consumed is object or produced is object or produced == consumed:
        return True
    if consumed is float and produced is int:
        return True
    p_origin, c_origin = typing.get_origin(produced), typing.get_origin(consumed)
    if c_origin is None and p_origin is not None:
        return consumed is p_origin  # list[int] feeds list, dict[str, T] feeds dict
    if c_origin is not None and p_origin is not None and c_origin is p_origin:
        p_args, c_args = typing.get_args(produced), typing.get_args(consumed)
        return all(compatible(p, c) for p, c in zip(p_args, c_args, strict=True))
    return False


class Design:
    """The declared dataflow of a site."""

    def __init__(self, site: str, actors: list[ActorDecl]) -> None:
        self.site = site
        self.actors = actors
        self.by_name = {a.name: a for a in actors}
        #: topic text -> the Outputs declared on it, and the Inputs.
        self.producers: dict[str, list[End]] = {}
        self.consumers: dict[str, list[End]] = {}
        for actor in actors:
            for name, var in actor.spec.outputs.items():
                for topic in actor.topics.get(name, [var.topic]):
                    end = End(
                        actor.name,
                        name,
                        var.type,
                        shared=var.shared,
                        metric=bool(var.metric),
                        reliable=var.reliable is not None and var.reliable is not False,
                    )
                    self.producers.setdefault(topic, []).append(end)
            for name, ivar in actor.spec.inputs.items():
                for topic in actor.topics.get(name, [ivar.topic]):
                    end = End(
                        actor.name,
                        name,
                        ivar.type,
                        required=ivar.default is MISSING,
                        external=ivar.external,
                        reliable=bool(ivar.reliable),
                    )
                    self.consumers.setdefault(topic, []).append(end)
        #: service name -> the handlers serving it, and the Calls calling it.
        self.servers: dict[str, list[ServiceEnd]] = {}
        self.callers: dict[str, list[ServiceEnd]] = {}
        for actor in actors:
            for table, decls in (
                (self.servers, actor.spec.services),
                (self.callers, actor.spec.calls),
            ):
                for name, decl in decls.items():
                    service = decl.service.replace(NAME_FIELD, actor.name)
                    table.setdefault(service, []).append(
                        ServiceEnd(
                            actor.name,
                            name,
                            service,
                            decl.request,
                            decl.reply,
                            decl.doc or "",
                            group=getattr(decl, "group", False),
                        )
                    )

    @property
    def services(self) -> list[str]:
        """Every service served or called, sorted."""
        return sorted(self.servers.keys() | self.callers.keys())

    @property
    def topics(self) -> list[str]:
        """Every declared topic text, sorted."""
        return sorted(self.producers.keys() | self.consumers.keys())

    def producers_of(self, topic: str) -> list[End]:
        """Outputs whose topics overlap *topic* (a family on either side counts)."""
        return [e for t, ends in self.producers.items() if overlaps(t, topic) for e in ends]

    def consumers_of(self, topic: str) -> list[End]:
        """Inputs whose topics overlap *topic*."""
        return [e for t, ends in self.consumers.items() if overlaps(t, topic) for e in ends]

    # -- the data dictionary -------------------------------------------------------

    def dictionary(self) -> list[dict[str, Any]]:
        """One row per declared variable of every actor, in site and declaration order."""
        rows = []
        for actor in self.actors:
            for var in actor.spec.variables():
                topics = actor.topics.get(var.name, [])
                if isinstance(var, Input | Output) and not topics:
                    topics = [var.topic]
                producers = sorted({e.label for t in topics for e in self.producers_of(t)})
                consumers = sorted({e.label for t in topics for e in self.consumers_of(t)})
                value = actor.params.get(var.name, var.default) if var.kind == "param" else None
                rows.append(
                    {
                        "actor": actor.name,
                        "class": actor.class_path,
                        "name": var.name,
                        "kind": var.kind,
                        "type": type_name(var.type),
                        "unit": var.unit or "",
                        "doc": var.doc or "",
                        "topic": ", ".join(topics),
                        "producers": producers if isinstance(var, Input | Output) else [],
                        "consumers": consumers if isinstance(var, Input | Output) else [],
                        "metric": bool(getattr(var, "metric", False)),
                        "retained": bool(getattr(var, "retained", False)),
                        "external": bool(getattr(var, "external", False)),
                        "reliable": getattr(var, "reliable", None) not in (None, False),
                        "hal": actor.hal and isinstance(var, Input | Output),
                        "value": None if value is MISSING else value,
                    }
                )
            for kind, decls in (("service", actor.spec.services), ("call", actor.spec.calls)):
                for name, decl in decls.items():
                    service = decl.service.replace(NAME_FIELD, actor.name)
                    rows.append(
                        {
                            "actor": actor.name,
                            "class": actor.class_path,
                            "name": name,
                            "kind": kind,
                            "type": f"{type_name(decl.request)} -> {type_name(decl.reply)}",
                            "unit": "",
                            "doc": decl.doc or "",
                            "topic": service,
                            "producers": sorted(e.label for e in self.servers.get(service, [])),
                            "consumers": sorted(e.label for e in self.callers.get(service, [])),
                            "metric": False,
                            "retained": False,
                            "external": False,
                            "hal": False,
                            "value": None,
                        }
                    )
            rows += boundaries.dictionary_rows(self, actor)
        return rows

    # -- design checks ---------------------------------------------------------------

    def _unreliable_writers(self, topic: str, producers: list[End]) -> list[Finding]:
        """A topic read reliably but sent at most once by some producer."""
        plain = [e.label for e in producers if not e.reliable]
        readers = [e for e in self.consumers_of(topic) if e.reliable]
        if not plain or not readers:
            return []
        message = (
            f"read reliably (by {', '.join(e.label for e in readers)}) but sent at most "
            f"once (by {', '.join(plain)}): what is lost is not sent again; declare the "
            "Output reliable=True"
        )
        return [Finding("warning", topic, message, tuple(sorted({e.actor for e in readers})))]

    def check(self) -> list[Finding]:
        """Design problems found on the graph, errors first; ``$`` topics are the framework's."""
        findings: list[Finding] = []
        for topic, all_consumers in sorted(self.consumers.items()):
            if topic.startswith("$") or self.producers_of(topic):
                continue
            # Inputs declared external=True are fed from outside the site (tools, operators).
            consumers = [e for e in all_consumers if not e.external]
            if not consumers:
                continue
            required = [e for e in consumers if e.required]
            if required:
                findings.append(
                    Finding(
                        "error",
                        topic,
                        "consumed but never produced: "
                        + ", ".join(e.label for e in required)
                        + " has no default, so its actor never steps",
                        tuple(sorted({e.actor for e in required})),
                    )
                )
            else:
                findings.append(
                    Finding(
                        "warning",
                        topic,
                        "consumed but never produced in this site (by "
                        + ", ".join(e.label for e in consumers)
                        + "); only tools or other sites can feed it",
                        tuple(sorted({e.actor for e in consumers})),
                    )
                )
        for topic, producers in sorted(self.producers.items()):
            if topic.startswith("$"):
                continue
            # Metric Outputs are consumed by the telemetry, and Outputs of Foxglove's types
            # by its panels (the bridge and recordings), whoever else reads them.
            if not self.consumers_of(topic) and not all(
                e.metric or foxglove_name(e.type) for e in producers
            ):
                findings.append(
                    Finding(
                        "warning",
                        topic,
                        "produced but never consumed (by "
                        + ", ".join(e.label for e in producers)
                        + ")",
                        tuple(sorted({e.actor for e in producers})),
                    )
                )
            findings += self._unreliable_writers(topic, producers)
            unshared = [e for e in producers if not e.shared]
            if len({e.actor for e in producers}) > 1 and unshared:
                findings.append(
                    Finding(
                        "warning",
                        topic,
                        "has several producers: "
                        + ", ".join(e.label for e in producers)
                        + " (declare Output(..., shared=True) on each if that is meant)",
                        tuple(sorted({e.actor for e in producers})),
                    )
                )
            for producer in producers:
                for consumer in self.consumers_of(topic):
                    if not compatible(producer.type, consumer.type):
                        findings.append(
                            Finding(
                                "error",
                                topic,
                                f"{producer.label} produces {type_name(producer.type)} but "
                                f"{consumer.label} consumes {type_name(consumer.type)}",
                                (producer.actor, consumer.actor),
                            )
                        )
        findings += self._check_services()
        findings.sort(key=lambda f: (f.severity != "error", f.topic))
        return findings

    def _check_services(self) -> list[Finding]:
        """Calls no actor serves, services several actors serve, types that do not meet."""
        findings: list[Finding] = []
        for service in self.services:
            servers = self.servers.get(service, [])
            callers = self.callers.get(service, [])
            actors = tuple(sorted({e.actor for e in servers + callers}))
            if callers and not servers:
                labels = ", ".join(e.label for e in callers)
                message = f"called by {labels} but served by no actor of the site"
                findings.append(Finding("error", service, message, actors, "service"))
            if len({e.actor for e in servers}) > 1 and not all(e.group for e in servers):
                labels = ", ".join(e.label for e in servers)
                message = (
                    f"served by several actors: {labels} (declare "
                    "service(..., group=True) on each if they share the load)"
                )
                findings.append(Finding("error", service, message, actors, "service"))
            for server in servers:
                for caller in callers:
                    if not compatible(caller.request, server.request):
                        message = (
                            f"{caller.label} sends {type_name(caller.request)} but "
                            f"{server.label} takes {type_name(server.request)}"
                        )
                        findings.append(Finding("error", service, message, actors, "service"))
                    if not compatible(server.reply, caller.reply):
                        message = (
                            f"{server.label} replies {type_name(server.reply)} but "
                            f"{caller.label} expects {type_name(caller.reply)}"
                        )
                        findings.append(Finding("error", service, message, actors, "service"))
        return findings


# -- the live graph ------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A way the running site differs from its declared graph."""

    #: actor_down, not_subscribed, undeclared_subscription, undeclared_publish, edge_down
    #: (an edge across hosts that does not flow: :mod:`supervisor.core.host_edges`)
    kind: str
    actor: str
    topic: str = ""
    detail: str = ""

    def __str__(self) -> str:
        topic = f" {self.topic!r}" if self.topic else ""
        return f"{self.kind}: {self.actor}{topic}{': ' + self.detail if self.detail else ''}"


def compare_live(design: Design, status: Mapping[str, Any]) -> list[Difference]:
    """Differences between the declared graph and a status reply (``ctl status``).

    Each running actor reports the topics it subscribed to and those it has
    published on (``topics`` in its heartbeat).
    """
    records = {a["name"]: a for a in status.get("actors", []) if a.get("kind") != "broker"}
    out: list[Difference] = []
    for actor in design.actors:
        record = records.get(actor.name)
        if record is None or record.get("state") != "running":
            state = record.get("state") if record else "absent"
            out.append(Difference("actor_down", actor.name, detail=f"state {state}"))
            continue
        live = record.get("topics") or {}
        subscribed = set(live.get("subscribed", []))
        published = set(live.get("published", []))
        declared_in = {t for n in actor.spec.inputs for t in actor.topics.get(n, [])}
        declared_out = {t for n in actor.spec.outputs for t in actor.topics.get(n, [])}
        for topic in sorted(declared_in - subscribed):
            out.append(Difference("not_subscribed", actor.name, topic, "declared, not live"))
        for topic in sorted(subscribed - declared_in):
            if topic.startswith("$"):
                continue  # the framework's: requests, replies, the directory of servers
            out.append(Difference("undeclared_subscription", actor.name, topic))
        for topic in sorted(published):
            if not topic.startswith("$") and not any(overlaps(t, topic) for t in declared_out):
                out.append(Difference("undeclared_publish", actor.name, topic))
    return out
