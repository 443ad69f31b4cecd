"""The record and enum types of a site in the data dictionary: one table of fields per type
(pure core, no IO)."""

from __future__ import annotations

import html
from typing import Any

from actors.core.types import (
    REQUIRED,
    is_record,
    record_doc,
    record_fields,
    record_types,
    type_name,
)
from supervisor.core.design import Design


def site_types(design: Design) -> list[type]:
    """Every record and enum type the site's declarations use (Inputs, Outputs, State,
    Params, services and calls), each once, in the order met."""
    out: list[type] = []
    for actor in design.actors:
        spec = actor.spec
        declared: list[Any] = [var.type for var in spec.variables()]
        for exchange in (*spec.services.values(), *spec.calls.values()):
            declared += [exchange.request, exchange.reply]
        for tp in declared:
            out += [t for t in record_types(tp) if t not in out]
    return out


def type_rows(tp: type) -> list[dict[str, Any]]:
    """The fields of record *tp* (an enum: its values) as dictionary rows."""
    if not is_record(tp):
        return [
            {"name": m.name, "type": repr(m.value), "unit": "", "default": "", "doc": ""}
            for m in tp  # type: ignore[attr-defined]
        ]
    return [
        {
            "name": f.name,
            "type": type_name(f.type),
            "unit": f.unit or "",
            "default": "" if f.default is REQUIRED else repr(f.default),
            "doc": f.doc,
        }
        for f in record_fields(tp)
    ]


def _doc(tp: type) -> str:
    return record_doc(tp) if is_record(tp) else (tp.__doc__ or "").strip()


def markdown_lines(design: Design) -> list[str]:
    """The dictionary's "Types" section in Markdown (none when the site uses no record)."""
    types = site_types(design)
    if not types:
        return []
    lines = ["## Types", ""]
    for tp in types:
        kind = "record" if is_record(tp) else "enum"
        lines += [f"### {tp.__name__}", "", f"{kind} `{tp.__module__}.{tp.__qualname__}`"]
        if _doc(tp):
            lines += ["", _doc(tp)]
        lines += ["", "| field | type | unit | default | doc |", "|---|---|---|---|---|"]
        for row in type_rows(tp):
            cells = [
                row["name"],
                f"`{row['type']}`",
                row["unit"],
                f"`{row['default']}`" if row["default"] else "",
                row["doc"],
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return lines


def html_lines(design: Design) -> list[str]:
    """The same section for the HTML page."""
    esc = html.escape
    types = site_types(design)
    if not types:
        return []
    body = ["<h2>Types</h2>"]
    for tp in types:
        body += [
            f'<h3 id="type-{esc(tp.__name__)}">{esc(tp.__name__)}</h3>',
            f"<p>{esc(_doc(tp))}</p>",
        ]
        body.append(
            "<table><thead><tr><th>field</th><th>type</th><th>unit</th><th>default</th>"
            "<th>doc</th></tr></thead><tbody>"
        )
        for row in type_rows(tp):
            cells = (row["name"], row["type"], row["unit"], row["default"], row["doc"])
            body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        body.append("</tbody></table>")
    return body


def types_json(design: Design) -> list[dict[str, Any]]:
    """The types as JSON records: name, class, kind, doc and fields."""
    return [
        {
            "name": tp.__name__,
            "class": f"{tp.__module__}.{tp.__qualname__}",
            "kind": "record" if is_record(tp) else "enum",
            "doc": _doc(tp),
            "fields": type_rows(tp),
        }
        for tp in site_types(design)
    ]
