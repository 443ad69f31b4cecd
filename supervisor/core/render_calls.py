"""Services and calls in the graph and the AsyncAPI document (pure core, no IO).

In the graph a service is a hexagon; a call is a bold edge from the caller to
the service and the service's edge goes to each server, so calls never look
like the pub/sub flow. In AsyncAPI 3.0 each service is a request channel
(``$svc.<service>``) with a reply channel (``$rsp.{caller}``): each caller has
a ``send`` operation and each server a ``receive`` operation, both with the
``reply`` object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from actors.core.calls import REPLY_PREFIX, SERVICE_PREFIX
from actors.core.types import type_name
from supervisor.core.design import Design
from supervisor.core.message_schema import envelope_headers, model_name, titled


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]", "_", text)


def dot_lines(design: Design, q: Callable[[str], str], bad: set[str]) -> list[str]:
    """DOT nodes and edges of the services: hexagons, bold blue call edges."""
    lines = []
    for service in design.services:
        ends = design.servers.get(service, []) + design.callers.get(service, [])
        types = f"{type_name(ends[0].request)} -> {type_name(ends[0].reply)}"
        color = "#b00020" if service in bad else "#1f5fa8"
        lines.append(
            f"  {q('service:' + service)} [shape=hexagon, color={q(color)}, "
            f"fontcolor={q(color)}, label={q(service + chr(10) + types)}];"
        )
        for end in design.callers.get(service, []):
            lines.append(
                f"  {q('actor:' + end.actor)} -> {q('service:' + service)} "
                f'[style=bold, color="#1f5fa8", label={q("calls " + end.var)}];'
            )
        for end in design.servers.get(service, []):
            lines.append(
                f"  {q('service:' + service)} -> {q('actor:' + end.actor)} "
                f'[style=bold, color="#1f5fa8", dir=both, arrowtail=dot, '
                f"label={q('serves')}];"
            )
    return lines


def mermaid_lines(design: Design, actor_ids: dict[str, str]) -> list[str]:
    """Mermaid nodes and edges of the services: hexagons and thick edges."""
    lines = []
    for i, service in enumerate(design.services):
        sid = f"s{i}"
        lines.append(f'  {sid}{{{{"{service.replace(chr(34), "#quot;")}"}}}}:::service')
        for end in design.callers.get(service, []):
            lines.append(f"  {actor_ids[end.actor]} == calls ==> {sid}")
        for end in design.servers.get(service, []):
            lines.append(f"  {sid} == serves ==> {actor_ids[end.actor]}")
    if design.services:
        lines.append("  classDef service stroke:#1f5fa8,color:#1f5fa8")
    return lines


def _call_headers(name: str, fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The envelope's fields and the call's own (its correlation id...) as one named
    headers schema: on the wire the call's fields and its body are the envelope's payload,
    a msgpack array in the order of ``x-enlil-call``."""
    headers = envelope_headers(name, "sending actor (a reply goes to $rsp.<sender>)")
    return {
        **headers,
        "description": headers["description"]
        + " For a call, the payload is itself an array: the call's fields below, in the "
        "order of x-enlil-call, then the body.",
        "properties": {**headers["properties"], **fields},
        "required": [*headers["required"], *required],
        "x-enlil-call": [*fields, "body"],
    }


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "CallError",
        "description": "A call's error: its kind says whether to retry",
        "properties": {
            "kind": {"type": "string"},
            "message": {"type": "string"},
            "type": {"type": "string"},
            "where": {"type": "string"},
            "retry_after": {"type": "number"},
        },
        "required": ["kind", "message"],
    }


def add_services(
    design: Design,
    schema: Callable[[Any], dict[str, Any]],
    channels: dict[str, Any],
    messages: dict[str, Any],
    operations: dict[str, Any],
) -> None:
    """Put each service's request and reply channels, messages and operations in the
    AsyncAPI document's tables (*schema* turns a declared type into JSON Schema)."""
    for service in design.services:
        servers = design.servers.get(service, [])
        callers = design.callers.get(service, [])
        ends = servers + callers
        docs = "; ".join(sorted({e.doc for e in ends if e.doc})) or service
        request_tp, reply_tp = ends[0].request, ends[0].reply
        rid, pid = "svc_" + _slug(service), "rsp_" + _slug(service)
        name = model_name(service)
        messages[rid] = {
            "name": rid,
            "title": f"{service} request",
            "summary": docs[:200],
            "contentType": "application/msgpack",
            "headers": _call_headers(
                f"{name}Request",
                {
                    "id": {"type": "integer", "description": "correlation id of the attempt"},
                    "deadline_ns": {
                        "type": "integer",
                        "description": "absolute deadline, ns since the epoch",
                    },
                    "key": {"type": ["integer", "string"], "description": "idempotency key"},
                    "to": {"type": ["string", "null"], "description": "the server meant, or any"},
                },
                ["id", "deadline_ns", "key"],
            ),
            "payload": titled(
                schema(request_tp),
                f"{name}Request",
                f"A request of the service {service}: {type_name(request_tp)}",
            ),
        }
        messages[pid] = {
            "name": pid,
            "title": f"{service} reply",
            "summary": f"The reply to {service}: {type_name(reply_tp)}, or an error",
            "contentType": "application/msgpack",
            "headers": _call_headers(
                f"{name}Reply",
                {
                    "id": {"type": "integer", "description": "the request's correlation id"},
                    "ok": {"type": "boolean", "description": "true: a reply; false: an error"},
                },
                ["id", "ok"],
            ),
            "payload": {
                "title": f"{name}Reply",
                "description": f"The reply to {service} (ok) or its error (not ok)",
                "oneOf": [
                    titled(schema(reply_tp), f"{name}ReplyValue", type_name(reply_tp)),
                    _error_schema(),
                ],
            },
        }
        channels[rid] = {
            "address": SERVICE_PREFIX + service,
            "description": f"Requests of the service {service}: {docs}",
            "messages": {rid: {"$ref": f"#/components/messages/{rid}"}},
        }
        channels[pid] = {
            "address": REPLY_PREFIX + "{caller}",
            "description": f"Replies of the service {service}, to the calling actor",
            "parameters": {"caller": {"description": "The calling actor's name"}},
            "messages": {pid: {"$ref": f"#/components/messages/{pid}"}},
        }
        reply = {
            "channel": {"$ref": f"#/channels/{pid}"},
            "messages": [{"$ref": f"#/channels/{pid}/messages/{pid}"}],
        }
        for action, group in (("send", callers), ("receive", servers)):
            for end in group:
                oid = _slug(f"{end.actor}_{'call' if action == 'send' else 'serve'}_{service}")
                operations[oid] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{rid}"},
                    "summary": f"{end.label} ({'calls' if action == 'send' else 'serves'})",
                    "description": end.doc or end.label,
                    "messages": [{"$ref": f"#/channels/{rid}/messages/{rid}"}],
                    "reply": reply,
                }
