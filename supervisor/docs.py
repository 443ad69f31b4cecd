"""``python -m supervisor docs`` and ``ctl graph``: the site documents itself (shell).

``docs --out DIR`` writes, from the actors' declarations:

* ``dictionary.md``, ``dictionary.json``, ``dictionary.html``: every Input,
  Output, State and Param of every actor, with topics, producers, consumers,
  metric and hardware-boundary flags;
* ``graph.dot``, ``graph.mmd`` (Mermaid) and ``graph.svg`` (through Graphviz
  ``dot`` when it is installed): actors and topics;
* ``asyncapi.json``: an AsyncAPI 3.0 document of the site's broker (and of the messaging
  systems its bridges talk to);
* ``findings.txt``: the design checks (the same that ``check`` prints).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from actors.site import ConfigError, SiteConfig
from supervisor.core.design import Design, Finding, compare_live
from supervisor.core.host_edges import edges_down
from supervisor.core.records import topic_types
from supervisor.core.render import (
    asyncapi,
    dictionary_html,
    dictionary_json,
    dictionary_markdown,
    dot,
    findings_text,
    mermaid,
)
from supervisor.site import declared_actors

NO_DOT = "graphviz 'dot' is not installed: graph.svg not written (apt-get install graphviz)"


def design_of(site: SiteConfig) -> Design:
    """The site's declared design; ConfigError if an actor does not load or resolve."""
    decls, problems = declared_actors(site, site.everyone)
    if problems:
        raise ConfigError(problems)
    return Design(site.site.name, decls)


def declared_types(site: SiteConfig) -> dict[str, Any]:
    """Each concrete topic's declared type (none when the actors' classes do not load)."""
    try:
        return topic_types(design_of(site))
    except ConfigError:
        return {}


def servers(site: SiteConfig) -> dict[str, dict[str, str]]:
    """The broker's two endpoints as AsyncAPI servers."""
    out = {}
    for key, endpoint, role in (
        ("broker-publish", site.broker.pub_connect, "actors publish here (broker XSUB)"),
        ("broker-subscribe", site.broker.sub_connect, "actors subscribe here (broker XPUB)"),
    ):
        transport, _, rest = endpoint.partition("://")
        if transport == "ipc":
            out[key] = {
                "host": "localhost",
                "pathname": rest,
                "protocol": "zmq",
                "description": f"ZeroMQ over ipc://{rest}: {role}",
            }
        else:
            out[key] = {
                "host": rest,
                "protocol": "zmq",
                "description": f"ZeroMQ over {transport}: {role}",
            }
    return out


def render_svg(dot_text: str) -> str | None:
    """SVG from DOT through Graphviz, or None when ``dot`` is not installed."""
    binary = shutil.which("dot")
    if binary is None:
        return None
    proc = subprocess.run(
        [binary, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dot failed: {proc.stderr.strip()}")
    return proc.stdout


def write_docs(site: SiteConfig, out: Path) -> tuple[list[Path], list[Finding], list[str]]:
    """Write every document into *out*; return the files, the findings and notes."""
    design = design_of(site)
    findings = design.check()
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    dot_text = dot(design, findings)
    svg = render_svg(dot_text)
    if svg is None:
        notes.append(NO_DOT)
    inline_svg = svg[svg.index("<svg") :] if svg else None
    files = {
        "dictionary.md": dictionary_markdown(design),
        "dictionary.json": dictionary_json(design),
        "dictionary.html": dictionary_html(design, findings, inline_svg),
        "graph.dot": dot_text,
        "graph.mmd": mermaid(design),
        "asyncapi.json": json.dumps(asyncapi(design, servers(site)), indent=2, default=repr),
        "findings.txt": findings_text(findings) + "\n" if findings else "no findings\n",
    }
    if svg is not None:
        files["graph.svg"] = svg
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written, findings, notes


def live_graph(
    site: SiteConfig, status: dict[str, Any], links: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """The live graph from a status reply, and how it differs from the declared one; on a
    site of several hosts, *links* (each host's view of its links) tells which edges
    across hosts do not flow."""
    design = design_of(site)
    differences = compare_live(design, status)
    if site.hosts and links is not None:
        placement = {n: a.host for n, a in site.everyone.items()}
        differences += edges_down(design, placement, links)
    actors = {}
    for record in status.get("actors", []):
        if record.get("kind") == "broker":
            continue
        topics = record.get("topics") or {}
        actors[record["name"]] = {
            **({"host": record["host"]} if "host" in record else {}),
            "state": record.get("state"),
            "pid": record.get("pid"),
            "subscribed": topics.get("subscribed", []),
            "published": [t for t in topics.get("published", []) if not t.startswith("$")],
        }
    return {
        "site": design.site,
        "actors": actors,
        "differences": [
            {"kind": d.kind, "actor": d.actor, "topic": d.topic, "detail": d.detail}
            for d in differences
        ],
        **({"unreachable": status["unreachable"]} if status.get("unreachable") else {}),
    }


def format_live(graph: dict[str, Any]) -> str:
    """The live graph for people: who reads and writes what, then the differences."""
    lines = [f"site {graph['site']}: live graph"]
    for name, a in graph["actors"].items():
        where = f"on {a['host']}, " if "host" in a else ""
        lines.append(f"  {name} [{where}{a['state']}, pid {a['pid'] or '-'}]")
        if a["subscribed"]:
            lines.append(f"    reads   {', '.join(a['subscribed'])}")
        if a["published"]:
            lines.append(f"    writes  {', '.join(a['published'])}")
    for host, why in graph.get("unreachable", {}).items():
        lines.append(f"host {host} did not answer: {why}")
    diffs = graph["differences"]
    if not diffs:
        lines.append("matches the declared graph")
    else:
        lines.append(f"{len(diffs)} difference(s) from the declared graph:")
        for d in diffs:
            topic = f" {d['topic']!r}" if d["topic"] else ""
            detail = f" ({d['detail']})" if d["detail"] else ""
            lines.append(f"  {d['kind']}: {d['actor']}{topic}{detail}")
    return "\n".join(lines)
