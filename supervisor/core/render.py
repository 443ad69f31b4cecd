"""Renderings of a :class:`~supervisor.core.design.Design` (pure core: text in, text out).

Markdown, JSON and standalone HTML for the data dictionary; DOT and Mermaid
for the dataflow graph; an AsyncAPI 3.0 document for the broker (and the messaging
systems the site's bridges talk to: :mod:`supervisor.core.boundaries`).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from actors.core.topics import parse_pattern
from actors.core.type_schema import Schemas
from actors.core.types import type_name
from supervisor.core import boundaries, render_calls, render_types
from supervisor.core.design import Design, Finding
from supervisor.core.message_schema import envelope_headers, model_name, titled

COLUMNS = ("actor", "name", "kind", "type", "unit", "topic", "producers", "consumers", "doc")


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0] if text else ""


def _cell(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def _flags(row: dict[str, Any]) -> str:
    flags = (
        ("metric", row["metric"]),
        ("HAL", row["hal"]),
        ("retained", row.get("retained")),
        ("external", row.get("external")),
        ("reliable", row.get("reliable")),
    )
    return " ".join(f for f, on in flags if on)


# -- the data dictionary ---------------------------------------------------------------


def dictionary_json(design: Design) -> str:
    """The dictionary as JSON: site, actors (with docs) and one record per variable."""
    return json.dumps(
        {
            "site": design.site,
            "actors": [
                {"name": a.name, "class": a.class_path, "doc": a.doc, "hal": a.hal}
                for a in design.actors
            ],
            "variables": design.dictionary(),
            "types": render_types.types_json(design),
        },
        indent=2,
        default=repr,
    )


def dictionary_markdown(design: Design) -> str:
    """The dictionary as Markdown: one table per actor."""
    lines = [f"# Data dictionary of site `{design.site}`", ""]
    rows = design.dictionary()
    for actor in design.actors:
        hal = " (hardware boundary)" if actor.hal else ""
        lines += [f"## `{actor.name}`: `{actor.class_path}`{hal}", ""]
        if actor.doc:
            lines += [actor.doc, ""]
        lines += [
            "| name | kind | type | unit | topic | producers | consumers | flags | doc |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            if row["actor"] != actor.name:
                continue
            cells = [
                f"`{row['name']}`",
                row["kind"],
                f"`{row['type']}`",
                row["unit"],
                f"`{row['topic']}`" if row["topic"] else "",
                _cell(row, "producers"),
                _cell(row, "consumers"),
                _flags(row),
                row["doc"],
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    lines += render_types.markdown_lines(design)
    return "\n".join(lines)


def findings_text(findings: list[Finding]) -> str:
    """One line per finding."""
    return "\n".join(str(f) for f in findings)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
tr.hal td:first-child { border-left: 4px solid #d9822b; }
code { font-size: 0.85rem; }
.error { color: #b00020; } .warning { color: #8a6d00; }
#filter { margin: 1rem 0; padding: 0.3rem; width: 20rem; }
"""

_SCRIPT = """
document.getElementById("filter").addEventListener("input", function (event) {
  var needle = event.target.value.toLowerCase();
  var rows = document.querySelectorAll("#dictionary tbody tr");
  var shown = 0;
  rows.forEach(function (row) {
    var hit = row.textContent.toLowerCase().indexOf(needle) >= 0;
    row.style.display = hit ? "" : "none";
    if (hit) { shown += 1; }
  });
  document.getElementById("count").textContent = shown + " of " + rows.length;
});
"""


def dictionary_html(design: Design, findings: list[Finding], svg: str | None = None) -> str:
    """A standalone HTML page: the dictionary (filterable), the findings, the graph if given."""
    esc = html.escape
    rows = design.dictionary()
    body = [
        f"<h1>Site <code>{esc(design.site)}</code></h1>",
        "<h2>Actors</h2><ul>",
    ]
    for actor in design.actors:
        hal = " (hardware boundary)" if actor.hal else ""
        body.append(
            f"<li><code>{esc(actor.name)}</code>: <code>{esc(actor.class_path)}</code>{hal}"
            f" - {esc(_first_line(actor.doc))}</li>"
        )
    body.append("</ul>")
    if findings:
        body.append("<h2>Design findings</h2><ul>")
        body += [f'<li class="{f.severity}">{esc(str(f))}</li>' for f in findings]
        body.append("</ul>")
    if svg:
        body += ["<h2>Dataflow</h2>", svg]
    body += [
        "<h2>Data dictionary</h2>",
        '<input id="filter" type="search" placeholder="filter rows" aria-label="filter">',
        f' <span id="count">{len(rows)} of {len(rows)}</span>',
        '<table id="dictionary"><thead><tr>',
        *(f"<th>{c}</th>" for c in (*COLUMNS, "flags")),
        "</tr></thead><tbody>",
    ]
    for row in rows:
        cls = ' class="hal"' if row["hal"] else ""
        cells = [esc(_cell(row, c)) for c in COLUMNS] + [esc(_flags(row))]
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    body.append("</tbody></table>")
    body += render_types.html_lines(design)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(design.site)}: data dictionary</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + f"\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )


# -- the dataflow graph ----------------------------------------------------------------


def _topic_types(design: Design, topic: str) -> str:
    types = {type_name(e.type) for e in design.producers.get(topic, [])}
    types |= {type_name(e.type) for e in design.consumers.get(topic, [])}
    return " | ".join(sorted(types))


def _family_links(design: Design) -> list[tuple[str, str]]:
    """(produced exact topic, consuming family) pairs: messages flow from one to the other."""
    links = []
    for family in design.topics:
        pattern = parse_pattern(family)
        if pattern.exact:
            continue
        for topic in design.topics:
            if topic != family and parse_pattern(topic).exact and pattern.matches(topic):
                links.append((topic, family))
    return links


def dot(design: Design, findings: list[Finding] = ()) -> str:  # type: ignore[assignment]
    """The dataflow graph in Graphviz DOT: actors as boxes, topics as ellipses."""
    bad = {f.topic for f in findings if f.severity == "error"}

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        f"digraph {q(design.site)} {{",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for actor in design.actors:
        color = "#f6e3c6" if actor.hal else "#dbe9f6"
        lines.append(
            f'  {q("actor:" + actor.name)} [shape=box, style="rounded,filled", '
            f"fillcolor={q(color)}, label={q(actor.name + chr(10) + actor.class_path)}, "
            f"tooltip={q(_first_line(actor.doc))}];"
        )
    for topic in design.topics:
        color = ', color="#b00020", fontcolor="#b00020"' if topic in bad else ""
        label = topic + "\n" + _topic_types(design, topic)
        lines.append(f"  {q('topic:' + topic)} [shape=ellipse, label={q(label)}{color}];")
    for topic, ends in sorted(design.producers.items()):
        for end in ends:
            lines.append(f"  {q('actor:' + end.actor)} -> {q('topic:' + topic)};")
    for topic, ends in sorted(design.consumers.items()):
        for end in ends:
            lines.append(
                f"  {q('topic:' + topic)} -> {q('actor:' + end.actor)} [label={q(end.var)}];"
            )
    for topic, family in _family_links(design):
        lines.append(f"  {q('topic:' + topic)} -> {q('topic:' + family)} [style=dashed];")
    lines += render_calls.dot_lines(design, q, bad)
    lines += boundaries.dot_lines(design, q)
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid(design: Design) -> str:
    """The dataflow graph as a Mermaid flowchart (renders on GitHub and in many editors)."""
    ids = {t: f"t{i}" for i, t in enumerate(design.topics)}

    def label(text: str) -> str:
        return text.replace('"', "#quot;")

    lines = ["flowchart LR"]
    for i, actor in enumerate(design.actors):
        cls = ":::hal" if actor.hal else ""
        lines.append(f'  a{i}["{label(actor.name)}<br/><small>{actor.class_path}</small>"]{cls}')
    actor_ids = {a.name: f"a{i}" for i, a in enumerate(design.actors)}
    for topic, tid in ids.items():
        lines.append(f'  {tid}(["{label(topic)}"])')
    for topic, ends in sorted(design.producers.items()):
        for end in ends:
            lines.append(f"  {actor_ids[end.actor]} --> {ids[topic]}")
    for topic, ends in sorted(design.consumers.items()):
        for end in ends:
            lines.append(f"  {ids[topic]} --> {actor_ids[end.actor]}")
    for topic, family in _family_links(design):
        lines.append(f"  {ids[topic]} -.-> {ids[family]}")
    lines += render_calls.mermaid_lines(design, actor_ids)
    lines += boundaries.mermaid_lines(design, actor_ids)
    lines.append("  classDef hal fill:#f6e3c6,stroke:#d9822b")
    return "\n".join(lines) + "\n"


# -- AsyncAPI 3.0 ----------------------------------------------------------------------


#: The framework's own topics: (address, description, payload schema).
SYS_CHANNELS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("$sys.heartbeat.{process}", "Heartbeat of a process with its counters", {"type": "object"}),
    ("$sys.event", "Supervisor lifecycle events (spawned, ready, exited...)", {"type": "object"}),
    ("$sys.control.{actor}", "Requests from the supervisor to an actor", {"type": "object"}),
    ("$sys.reply.{actor}", "An actor's replies to those requests", {"type": "object"}),
    ("$sys.probe.{link}", "Readiness probes of a broker link", {"type": "integer"}),
    (
        "$sys.services",
        "The supervisor's directory of live servers: {services: {service: [actor, ...]}}",
        {"type": "object"},
    ),
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]", "_", text.replace("$", "sys_").replace("*", "any"))


def _address(topic: str) -> tuple[str, dict[str, Any]]:
    pattern = parse_pattern(topic)
    if pattern.exact:
        return topic, {}
    return pattern.prefix + "{rest}", {
        "rest": {"description": f"Any topic below {pattern.prefix!r}: the family {topic!r}"}
    }


def asyncapi(design: Design, servers: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The site as an AsyncAPI 3.0 document (a dict ready for JSON): record and enum types
    are named schemas under ``components/schemas``, which the messages refer to."""
    book = Schemas("#/components/schemas/", bytes_form="wire")
    json_schema = book.of
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in design.topics:
        cid = _slug(topic)
        ends = design.producers.get(topic, []) + design.consumers.get(topic, [])
        docs = sorted({d for e in ends if (d := _doc_of(design, e.actor, e.var))})
        types = {type_name(e.type) for e in ends}
        tp = ends[0].type if len(types) == 1 else object
        address, params = _address(topic)
        description = "; ".join(docs) or topic
        messages[cid] = {
            "name": cid,
            "title": topic,
            "summary": description[:200],
            "contentType": "application/msgpack",
            "headers": envelope_headers(model_name(topic)),
            "payload": titled(
                json_schema(tp),
                model_name(topic),
                f"The value on {topic}: {' | '.join(sorted(types))}",
            ),
        }
        channel: dict[str, Any] = {
            "address": address,
            "description": description,
            "messages": {cid: {"$ref": f"#/components/messages/{cid}"}},
        }
        if params:
            channel["parameters"] = params
        reliable = sorted({e.actor for e in design.producers.get(topic, []) if e.reliable})
        if reliable:
            # Acknowledged delivery (docs/reference/reliable.md): who sends it reliably,
            # where their readers acknowledge, and where their heartbeats go.
            channel["x-enlil-reliable"] = {
                "writers": reliable,
                "acks": [f"$sys.ack.{w}" for w in reliable],
                "heartbeats": f"$sys.hb.{topic}",
            }
        channels[cid] = channel
        for kind, action, table in (
            ("send", "send", design.producers),
            ("receive", "receive", design.consumers),
        ):
            for end in table.get(topic, []):
                oid = _slug(f"{end.actor}_{kind}_{topic}")
                operations[oid] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{cid}"},
                    "summary": f"{end.actor}.{end.var} ({kind})",
                    "description": _doc_of(design, end.actor, end.var) or end.label,
                    "messages": [{"$ref": f"#/channels/{cid}/messages/{cid}"}],
                }
    for address, description, schema in SYS_CHANNELS:
        cid = _slug(address.split("{")[0].rstrip("."))
        if cid in channels:
            continue
        messages[cid] = {
            "name": cid,
            "title": address,
            "summary": description,
            "contentType": "application/msgpack",
            "headers": envelope_headers(model_name(address.split("{")[0])),
            "payload": titled(schema, model_name(address.split("{")[0]), description),
        }
        name = address[address.index("{") + 1 : -1] if "{" in address else ""
        channel = {
            "address": address,
            "description": description + " (framework topic)",
            "messages": {cid: {"$ref": f"#/components/messages/{cid}"}},
        }
        if name:
            channel["parameters"] = {name: {"description": f"The {name}'s name"}}
        channels[cid] = channel
    render_calls.add_services(design, json_schema, channels, messages, operations)
    doc: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"enlil site {design.site}",
            "version": "1.0.0",
            "description": "Topics, messages and the actors that send and receive them, "
            "generated from the actors' declarations. Every message is a ZeroMQ multipart "
            "[topic, envelope] through the site's broker (XSUB/XPUB); the envelope is msgpack.",
        },
        "defaultContentType": "application/msgpack",
        "servers": servers,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
    boundaries.add_to_asyncapi(design, json_schema, _slug, doc)
    if book.defs:
        doc["components"]["schemas"] = book.defs
    return doc


def _doc_of(design: Design, actor: str, var: str) -> str:
    decl = design.by_name[actor]
    found = decl.spec.inputs.get(var) or decl.spec.outputs.get(var)
    return (found.doc or "") if found is not None else ""
