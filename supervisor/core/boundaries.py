"""The site's boundaries: the messaging systems its bridges talk to, in the documents (pure core).

A bridge actor describes the system on its other side
(:class:`~actors.core.boundary.Boundary`, from ``Actor.boundary_from_params``).
Here that becomes rows of the data dictionary, nodes and edges of the
dataflow graph, and the AsyncAPI document's other servers: one server per
system, a channel per mapped topic (its address on that side, the enlil topic
it maps to as ``x-enlil-topic``, the payload schema of that topic's declared
type in the system's encoding) and the bridge's send and receive operations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from actors.core.boundary import Boundary, Route
from actors.core.types import type_name
from supervisor.core.message_schema import model_name, titled

if TYPE_CHECKING:
    from supervisor.core.design import ActorDecl, Design


def boundaries(design: Design) -> Iterator[tuple[ActorDecl, Boundary]]:
    """Every boundary of the site, with the actor that talks to it, in site order."""
    for actor in design.actors:
        for boundary in actor.boundaries:
            yield actor, boundary


def url(boundary: Boundary) -> str:
    """``mqtt://host:port``: how the documents name the system."""
    return f"{boundary.protocol}://{boundary.address}"


def route_type(design: Design, actor: str, route: Route) -> Any:
    """The declared type of the enlil side of *route*: what the site's other actors publish
    on its topic (an outbound route) or read from it (inbound); ``object`` when they
    disagree or there are none."""
    ends = design.consumers_of(route.topic) if route.inbound else design.producers_of(route.topic)
    types = {e.type for e in ends if e.actor != actor}
    return types.pop() if len(types) == 1 else object


def dictionary_rows(design: Design, actor: ActorDecl) -> list[dict[str, Any]]:
    """One data dictionary row per route of *actor*: the address on the other side, the
    enlil topic, and which way messages go."""
    rows = []
    for boundary in actor.boundaries:
        where = url(boundary)
        for route in boundary.routes:
            rows.append(
                {
                    "actor": actor.name,
                    "class": actor.class_path,
                    "name": route.address,
                    "kind": f"{boundary.protocol} {'in' if route.inbound else 'out'}",
                    "type": type_name(route_type(design, actor.name, route)),
                    "unit": "",
                    "doc": f"{boundary.description}: {where} "
                    + ("into the site" if route.inbound else "out of the site"),
                    "topic": route.topic,
                    "producers": [where] if route.inbound else [actor.name],
                    "consumers": [actor.name] if route.inbound else [where],
                    "metric": False,
                    "retained": False,
                    "external": True,
                    "hal": True,
                    "value": None,
                }
            )
    return rows


# -- the graph ----------------------------------------------------------------------


def dot_lines(design: Design, q: Callable[[str], str]) -> list[str]:
    """DOT: each system a grey cylinder, an edge per route labelled with its address."""
    lines = []
    for actor, boundary in boundaries(design):
        node = q(f"boundary:{actor.name}:{boundary.name}")
        lines.append(
            f'  {node} [shape=cylinder, style=filled, fillcolor="#e8e8e8", '
            f"label={q(url(boundary))}, tooltip={q(boundary.description)}];"
        )
        me = q("actor:" + actor.name)
        for route in boundary.routes:
            ends = (node, me) if route.inbound else (me, node)
            lines.append(f"  {ends[0]} -> {ends[1]} [label={q(route.address)}, style=bold];")
    return lines


def mermaid_lines(design: Design, actor_ids: dict[str, str]) -> list[str]:
    """Mermaid: each system a cylinder, an edge per route labelled with its address."""
    lines = []
    for i, (actor, boundary) in enumerate(boundaries(design)):
        node, me = f"x{i}", actor_ids[actor.name]
        lines.append(f'  {node}[("{url(boundary)}")]:::boundary')
        for route in boundary.routes:
            text = route.address.replace('"', "#quot;")
            ends = (node, me) if route.inbound else (me, node)
            lines.append(f'  {ends[0]} == "{text}" ==> {ends[1]}')
    if lines:
        lines.append("  classDef boundary fill:#e8e8e8,stroke:#666")
    return lines


# -- AsyncAPI ------------------------------------------------------------------------


def add_to_asyncapi(
    design: Design,
    schema_of: Callable[[Any], dict[str, Any]],
    slug: Callable[[str], str],
    doc: dict[str, Any],
) -> None:
    """Add each system as a server with its channels, messages and the bridge's operations;
    the site's own channels are then said to be on the site's broker only."""
    found = list(boundaries(design))
    if not found:
        return
    servers, channels = doc["servers"], doc["channels"]
    messages, operations = doc["components"]["messages"], doc["operations"]
    if servers:
        own = [{"$ref": f"#/servers/{name}"} for name in servers]
        for existing in channels.values():
            existing.setdefault("servers", own)
    for actor, boundary in found:
        sid = slug(f"{actor.name}-{boundary.name}")
        server: dict[str, Any] = {
            "host": boundary.address,
            "protocol": boundary.protocol,
            "description": f"{boundary.description} (bridge: actor {actor.name})",
        }
        if boundary.protocol_version:
            server["protocolVersion"] = boundary.protocol_version
        if boundary.server_bindings:
            server["bindings"] = dict(boundary.server_bindings)
        servers[sid] = server
        for route in boundary.routes:
            cid = slug(f"{sid}_{route.address}")
            tp = route_type(design, actor.name, route)
            way = "into the site as" if route.inbound else "out of the site from"
            description = (
                f"{boundary.protocol.upper()} topic {route.address} on {url(boundary)}: "
                f"{way} the enlil topic {route.topic} (actor {actor.name})"
            )
            messages[cid] = {
                "name": cid,
                "title": route.address,
                "summary": description[:200],
                "contentType": boundary.content_type,
                "payload": titled(
                    schema_of(tp),
                    model_name(f"{sid} {route.address}"),
                    f"The value ({type_name(tp)})",
                ),
            }
            channel: dict[str, Any] = {
                "address": route.address,
                "description": description,
                "servers": [{"$ref": f"#/servers/{sid}"}],
                "messages": {cid: {"$ref": f"#/components/messages/{cid}"}},
                "x-enlil-topic": route.topic,
                "x-enlil-actor": actor.name,
            }
            if route.parameters:
                channel["parameters"] = {
                    name: {"description": text} for name, text in route.parameters
                }
            channels[cid] = channel
            action = "receive" if route.inbound else "send"
            operation: dict[str, Any] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{cid}"},
                "summary": f"{actor.name} {action}s {route.address} ({route.topic})",
                "description": description,
                "messages": [{"$ref": f"#/channels/{cid}/messages/{cid}"}],
            }
            if boundary.operation_bindings:
                operation["bindings"] = dict(boundary.operation_bindings)
            operations[slug(f"{sid}_{action}_{route.address}")] = operation
