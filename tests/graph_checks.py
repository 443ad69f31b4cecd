"""Checks of the live graph as drawn in the browser (the web view's ``#graph`` SVG)."""

from __future__ import annotations

import time
from typing import Any

from browser import Browser

#: Every text of the graph (node and edge labels) as a box in page pixels, and every node's
#: box: pairs of texts that overlap, and texts that reach into a node not their own.
OVERLAPS = """(() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return { x0: r.left, y0: r.top, x1: r.right, y1: r.bottom }; };
  const meet = (a, b) =>
    a.x0 < b.x1 - 0.5 && b.x0 < a.x1 - 0.5 && a.y0 < b.y1 - 0.5 && b.y0 < a.y1 - 0.5;
  const texts = [...document.querySelectorAll("#graph text")].map((t) => ({
    name: t.textContent, own: t.closest("g[data-id]"), b: box(t) }));
  const nodes = [...document.querySelectorAll("#graph g[data-id]")].map((g) => ({
    id: g.dataset.id, g, b: box(g.querySelector("rect")) }));
  const bad = [];
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      if (meet(texts[i].b, texts[j].b)) bad.push(`${texts[i].name} / ${texts[j].name}`);
    }
    for (const n of nodes) {
      if (n.g !== texts[i].own && meet(texts[i].b, n.b)) bad.push(`${texts[i].name} on ${n.id}`);
    }
    const own = texts[i].own && nodes.find((n) => n.g === texts[i].own);
    if (own && (texts[i].b.x1 > own.b.x1 + 0.5 || texts[i].b.x0 < own.b.x0 - 0.5)) {
      bad.push(`${texts[i].name} outside its node`);
    }
  }
  return { texts: texts.length, nodes: nodes.length, bad };
})()"""

#: The call (or serve) edges drawn: each with its arrowhead and its label's text.
CALLS = """[...document.querySelectorAll('#graph path[data-kind="KIND"]')].map((p) => ({
  edge: p.dataset.edge, marker: p.getAttribute("marker-end"),
  label: (document.querySelector(`#graph text[data-edge="${p.dataset.edge}"]`) || {}).textContent
}))"""


def overlaps(page: Browser) -> dict[str, Any]:
    """What :data:`OVERLAPS` finds on the page now."""
    found: dict[str, Any] = page.do("eval", js=OVERLAPS)
    return found


def wait_call_rates(page: Browser, edges: set[str], timeout: float = 30.0) -> list[dict[str, Any]]:
    """Wait until each call edge in *edges* (``a:caller>s:service``) is drawn with an
    arrowhead and a rate above 0; return the call edges drawn."""
    return _wait_rates(page, "call", edges, timeout)


def wait_serve_rates(page: Browser, edges: set[str], timeout: float = 30.0) -> list[dict[str, Any]]:
    """The same for the edges from a service to the actors serving it."""
    return _wait_rates(page, "serve", edges, timeout)


def _wait_rates(page: Browser, kind: str, edges: set[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        drawn = page.do("eval", js=CALLS.replace("KIND", kind))
        flowing = {
            c["edge"]
            for c in drawn
            if c["marker"] and c["label"] and float(c["label"].split("/s")[0]) > 0
        }
        if edges <= flowing:
            return list(drawn)
        assert time.monotonic() < deadline, f"{kind} edges with a rate: {flowing}, wanted {edges}"
        time.sleep(0.1)  # a hang guard's poll interval, not a synchronisation
