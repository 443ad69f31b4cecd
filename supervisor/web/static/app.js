// The live view of an enlil site: one WebSocket (/ws) pushes the site table and graph every
// second, the events feed, and the messages of tapped topics. Reading needs a token, and
// actions the action token: given once in the URL's fragment (#token=...), kept for this
// tab only, and sent with every request (Authorization, or ?token= where a browser cannot
// set a header: the WebSocket and a download link).
"use strict";

const $ = (sel) => document.querySelector(sel);
const DOWN_STATES = new Set(["exited", "backoff", "failed", "gave_up", "stopped"]);
const EVENTS_SHOWN = 500;
const TAP_SHOWN = 50;
let token = sessionStorage.getItem("enlil-token") || "";
let role = "";  // what the server says the token gives: "admin" or "read"
let started = false;
let events = [];
let tapped = "";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    token = decodeURIComponent(match[1]);
    sessionStorage.setItem("enlil-token", token);
    history.replaceState(null, "", location.pathname + location.search);
    role = "";
    if (socket) socket.close();  // its close handler connects again, with this token
    else if (started) connect();
  }
  showAccess();
}

function canAct() { return role === "admin"; }

function showAccess() {
  const access = $("#access");
  access.textContent = !token ? "no token: open the URL with #token=..."
    : role === "admin" ? "actions enabled" : role === "read" ? "read-only" : "token refused";
  access.className = "badge" + (canAct() ? " write" : "");
  for (const b of document.querySelectorAll("button.needs-token")) b.disabled = !canAct();
  for (const b of document.querySelectorAll("#actors button")) b.disabled = !canAct();
}

function authorized(extra = {}) {
  return { ...extra, Authorization: `Bearer ${token}` };
}

async function getJSON(url) {
  const response = await fetch(url, { headers: authorized() });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

// -- the site table ------------------------------------------------------------------------

function fmt(n) {
  return n === null || n === undefined ? "-" : (Math.round(n * 10) / 10).toString();
}

// The time each update of the site table and graph took (ms, the newest 100): how a test
// or a benchmark sees whether the page keeps up.
window.enlilRenders = [];

function renderSite(msg) {
  const began = performance.now();
  drawSite(msg);
  window.enlilRenders.push(performance.now() - began);
  if (window.enlilRenders.length > 100) window.enlilRenders.shift();
}

// Rows are made once per actor and then only changed where a value changed: with 200
// actors, rebuilding the table every second would be most of the page's work.
const rowsByName = new Map();

function cellsOf(a) {
  // Another host's actor (a site of several hosts) says where it runs.
  return [a.host ? `${a.name} @ ${a.host}` : a.name, a.state, a.pid ?? "-", a.restarts,
    a.uptime === null ? "-" : `${Math.round(a.uptime)} s`, fmt(a.in_rate), fmt(a.out_rate),
    fmt(a.gaps), fmt(a.duplicates), fmt(a.late), fmt(a.rejected), fmt(a.faults),
    a.last_exit || ""];
}

function newRow(a) {
  const cells = cellsOf(a).map((_, i) =>
    el("td", { class: i === 0 ? "name" : i === 1 ? "state" : i < 12 ? "num" : "" }));
  const tr = el("tr", { "data-name": a.name }, ...cells);
  const actions = el("td", { class: "actions" });
  if (a.kind === "actor") {
    for (const op of ["restart", "stop", "start"]) {
      const b = el("button", { type: "button", "data-op": op }, op);
      b.disabled = !canAct();
      b.addEventListener("click", (e) => { e.stopPropagation(); act(op, a.name); });
      actions.append(b);
    }
    tr.addEventListener("click", () => showActor(a.name));
  }
  tr.append(actions);
  return { tr, cells, buttons: [...actions.children] };
}

function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function drawSite(msg) {
  $("#site-name").textContent = (msg.site || "enlil") + (msg.host ? ` on ${msg.host}` : "");
  const sup = msg.supervisor;
  // A site of several hosts: the times here are this host's clock; the others' links.
  const others = Object.entries(msg.hosts || {}).map(([name, h]) =>
    `${name} ${h.link}` + (h.skew_s != null ? ` (clock ${(h.skew_s * 1000).toFixed(1)} ms)` : ""));
  const hosts = msg.host ? `; times by ${msg.host}'s clock; hosts: ${others.join(", ")}` : "";
  $("#supervisor").textContent = msg.down ? "site not answering" :
    sup ? `supervisor pid ${sup.pid}, ${sup.state}, up ${Math.round(sup.uptime)} s${hosts}` : "";
  const body = $("#actors tbody");
  const seen = new Set();
  let previous = null;
  for (const a of msg.actors || []) {
    seen.add(a.name);
    let row = rowsByName.get(a.name);
    if (!row) {
      row = newRow(a);
      rowsByName.set(a.name, row);
    }
    const values = cellsOf(a);
    values.forEach((v, i) => {
      const text = String(v);
      if (row.cells[i].textContent !== text) row.cells[i].textContent = text;
    });
    setAttr(row.tr, "class", `state-${a.state}` + (a.recent_exit ? " recent-exit" : ""));
    setAttr(row.tr, "data-state", a.state);
    setAttr(row.tr, "data-recent-exit", a.recent_exit ? "yes" : "no");
    for (const b of row.buttons) b.disabled = !canAct();
    const expected = previous ? previous.nextSibling : body.firstChild;
    if (expected !== row.tr) body.insertBefore(row.tr, expected);  // new, or moved
    previous = row.tr;
  }
  for (const [name, row] of rowsByName) {
    if (!seen.has(name)) { row.tr.remove(); rowsByName.delete(name); }
  }
  renderGraph(msg.graph || { nodes: [], edges: [] });
}

async function act(op, name, extra = {}) {
  const out = $("#action-result");
  const response = await fetch("/api/action", {
    method: "POST",
    headers: authorized({ "Content-Type": "application/json" }),
    body: JSON.stringify({ op, name, ...extra }),
  });
  const reply = await response.json();
  out.textContent = reply.ok ? `${op} ${name}: done` : `${op} ${name}: ${reply.error}`;
  out.dataset.status = String(response.status);
}

// -- the live graph ------------------------------------------------------------------------
//
// Laid out by dagre (vendored: static/dagre-3.1.4.min.js), left to right: every edge label
// is a box of its own in the layout, so no two labels overlap and no label covers a node.
// The layout runs again only when the graph's shape changes (nodes, edges, or a label
// gaining its gaps or faults); otherwise only the numbers and colours change.

const FONT = 11;          // px, the nodes' text (app.css)
const CHAR = 6.6;         // px per character at that size, a little over the real width
const LABEL_CHAR = 6.0;   // px per character of an edge label (10 px)
let graphShape = "";
let edgeLabels = new Map();
let edgeLines = new Map();
let nodeGroups = new Map();
let foldHardware = true;  // fold each HAL actor's status topics into one node (a checkbox)

function short(n) {
  // At most 5 characters: 999.9, 12.3k, 150k, 1.5M.
  if (n >= 1e6) return `${(Math.round(n / 1e5) / 10)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(Math.round(n / 1e2) / 10)}k`;
  return fmt(n);
}

function capped(n) { return n > 999 ? "999+" : String(n); }

// A reliable topic's reader this many messages behind its writers is falling behind.
const BEHIND = 100;

function edgeLabel(e) {
  let label = `${short(e.rate || 0)}/s`;
  if (e.gaps) label += ` gaps ${capped(e.gaps)}`;
  if (e.faults) label += ` faults ${capped(e.faults)}`;
  if (e.behind) label += ` behind ${capped(e.behind)}`;
  return label;
}

function labelChars(edges) {
  // The room every label gets in the layout: the widest rate ("999.9/s"), and the widest
  // gaps and faults parts once any edge shows them. So a label never outgrows its box, and
  // the layout changes when the first gap or fault of the site shows, not at each edge's.
  const gaps = edges.some((e) => e.gaps), faults = edges.some((e) => e.faults);
  const behind = edges.some((e) => e.behind);
  return 7 + (gaps ? 10 : 0) + (faults ? 12 : 0) + (behind ? 12 : 0);
}

function nodeClass(n) {
  const state = n.state || "";
  const down = DOWN_STATES.has(state) || n.recent_exit ? " down" :
    state === "starting" ? " starting" : "";
  return `node ${n.kind}${down}`;
}

function folded(graph) {
  // The graph as drawn: with folding on, the status topics of a HAL actor (the server marks
  // them with their family, "room.*") become one node, and their edges one edge each way.
  const nodes = graph.nodes || [];
  const edges = graph.edges || [];
  if (!foldHardware) return { nodes, edges };
  const into = new Map();
  const out = [];
  for (const n of nodes) {
    if (!n.fold) { out.push(n); continue; }
    const id = `f:${n.fold}`;
    into.set(n.id, id);
    if (!out.some((m) => m.id === id)) {
      out.push({ id, kind: "topic", label: n.fold, folded: [] });
    }
    out.find((m) => m.id === id).folded.push(n.label);
  }
  const merged = new Map();
  for (const e of edges) {
    const from = into.get(e.from) || e.from, to = into.get(e.to) || e.to;
    const key = `${from}>${to}`;
    const m = merged.get(key);
    if (!m) { merged.set(key, { ...e, from, to }); continue; }
    for (const k of ["rate", "count", "gaps", "faults"]) m[k] = (m[k] || 0) + (e[k] || 0);
  }
  for (const n of out) if (n.folded) n.label = `${n.label} (${n.folded.length} topics)`;
  return { nodes: out, edges: [...merged.values()] };
}

function shapeOf(nodes, edges) {
  return nodes.map((n) => n.id).join("|") + "#" +
    edges.map((e) => `${e.from}>${e.to}:${e.kind}`).join("|") + "#" + labelChars(edges);
}

let lastGraph = { nodes: [], edges: [] };

function renderGraph(graph) {
  lastGraph = graph;
  const { nodes, edges } = folded(graph);
  const shape = shapeOf(nodes, edges);
  if (shape === graphShape) {  // the same graph: only its numbers and colours change
    for (const e of edges) {
      const key = `${e.from}>${e.to}`;
      const text = edgeLabels.get(key);
      if (text && text.textContent !== edgeLabel(e)) text.textContent = edgeLabel(e);
      const line = edgeLines.get(key);
      if (line) styleEdge(line, e);
    }
    for (const n of nodes) {
      const g = nodeGroups.get(n.id);
      if (g) { setAttr(g, "class", nodeClass(n)); setAttr(g, "data-state", n.state || ""); }
    }
    return;
  }
  graphShape = shape;
  edgeLabels = new Map();
  edgeLines = new Map();
  nodeGroups = new Map();
  const layout = new dagre.graphlib.Graph({ multigraph: false });
  layout.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 46, edgesep: 10, marginx: 8,
    marginy: 8, acyclicer: "greedy", ranker: "network-simplex" });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) {
    const text = n.label || n.id;
    layout.setNode(n.id, { width: Math.ceil(text.length * CHAR) + 16, height: 26 });
  }
  const labelWidth = Math.ceil((labelChars(edges) + 2) * LABEL_CHAR);
  for (const e of edges) {
    if (!layout.hasNode(e.from) || !layout.hasNode(e.to)) continue;
    layout.setEdge(e.from, e.to, { width: labelWidth, height: 14, labelpos: "c" });
  }
  dagre.layout(layout);
  const size = layout.graph();
  const root = $("#graph");
  const width = Math.ceil(size.width || 20), height = Math.ceil(size.height || 20);
  // As wide as the section, and no wider than the layout: a wider graph is scaled down
  // to fit (its proportions kept), never cut off.
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.setAttribute("preserveAspectRatio", "xMinYMin meet");
  root.style.width = "100%";
  root.style.maxWidth = `${width}px`;
  root.style.height = "auto";
  const parts = [svg("defs", {})];
  parts[0].append(arrowhead("arrow", "#8c96a8"), arrowhead("arrow-call", "#7a3fa0"),
    arrowhead("arrow-faulted", "#b3261e"));
  for (const e of edges) {
    const laid = layout.edge(e.from, e.to);
    if (!laid) continue;
    const key = `${e.from}>${e.to}`;
    const d = laid.points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    const line = svg("path", { d, "data-edge": key, "data-kind": e.kind || "topic" });
    styleEdge(line, e);
    edgeLines.set(key, line);
    parts.push(line);
    const text = svg("text", { x: laid.x.toFixed(1), y: (laid.y + 3.5).toFixed(1),
      class: `edge-label ${e.kind || "topic"}`, "text-anchor": "middle", "data-edge": key,
      "data-kind": e.kind || "topic" }, edgeLabel(e));
    edgeLabels.set(key, text);
    parts.push(text);
  }
  for (const n of nodes) {
    const laid = layout.node(n.id);
    const g = svg("g", { class: nodeClass(n), "data-id": n.id, "data-state": n.state || "",
      transform: `translate(${(laid.x - laid.width / 2).toFixed(1)},${(laid.y - laid.height / 2).toFixed(1)})` });
    g.append(svg("rect", { width: laid.width, height: laid.height }));
    g.append(svg("text", { x: 8, y: laid.height / 2 + FONT / 2 - 1.5, class: "node-label" },
      n.label || n.id));
    if (n.folded) g.append(svg("title", {}, n.folded.join("\n")));
    if (n.kind === "topic") {
      const topic = n.folded ? n.id.slice(2) : n.label;
      g.addEventListener("click", () => startTap(topic));
    }
    nodeGroups.set(n.id, g);
    parts.push(g);
  }
  root.replaceChildren(...parts);
}

function styleEdge(line, e) {
  const kind = e.kind || "topic";
  const lagging = (e.behind || 0) >= BEHIND ? " behind" : "";
  setAttr(line, "class", `edge ${kind}${e.faults ? " faulted" : ""}${lagging}`);
  const marker = e.faults ? "arrow-faulted" : kind === "call" ? "arrow-call" : "arrow";
  setAttr(line, "marker-end", `url(#${marker})`);
}

function arrowhead(id, colour) {
  const marker = svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }));
  return marker;
}

// -- the events feed -----------------------------------------------------------------------

function addEvents(rows) {
  events = rows.concat(events).slice(0, EVENTS_SHOWN);
  renderEvents();
}

function renderEvents() {
  const text = $("#event-filter").value.toLowerCase();
  const category = $("#event-category").value;
  const shown = events.filter((e) => (!category || e.category === category) &&
    (!text || `${e.actor} ${e.text} ${e.level} ${JSON.stringify(e.detail)}`.toLowerCase().includes(text)));
  $("#events").replaceChildren(...shown.map((e) => el("li",
    { class: `level-${e.level} category-${e.category}`, "data-category": e.category },
    `${new Date(e.time * 1000).toLocaleTimeString()} ${e.category} ${e.actor}: ${e.text} ` +
    (Object.keys(e.detail).length ? JSON.stringify(e.detail) : ""))));
  $("#event-count").textContent = `${shown.length} of ${events.length}`;
}

// -- the topic inspector -------------------------------------------------------------------

let socket = null;

function startTap(topic) {
  topic = (topic || $("#tap-topic").value).trim();
  if (!topic || !socket) return;
  if (tapped) socket.send(JSON.stringify({ op: "untap", topic: tapped }));
  tapped = topic;
  $("#tap-topic").value = topic;
  $("#tap-messages").replaceChildren();
  $("#tap-rate").textContent = `tapping ${topic}...`;
  socket.send(JSON.stringify({ op: "tap", topic }));
}

function takeTap(msg) {
  if (msg.topic !== tapped) return;
  $("#tap-rate").textContent = `${msg.topic}: ${fmt(msg.rate)}/s, ${msg.count} seen`;
  const list = $("#tap-messages");
  for (const m of msg.messages) {
    list.prepend(el("li", {}, `${m.sender} #${m.seq}: ${JSON.stringify(m.payload)}`));
  }
  while (list.children.length > TAP_SHOWN) list.lastChild.remove();
}

// -- snapshots and an actor's page -----------------------------------------------------------

async function loadSnapshots() {
  if (!token) return;
  const list = await getJSON("/api/snapshots");
  $("#snapshots tbody").replaceChildren(...list.map((s) => {
    const base = `/api/snapshots/${encodeURIComponent(s.actor)}/${encodeURIComponent(s.file)}`;
    const view = el("button", { type: "button" }, "view");
    view.addEventListener("click", () => showSnapshot(base));
    const href = `${base}?download=1&token=${encodeURIComponent(token)}`;
    const link = el("a", { href, download: s.file, class: "download" }, "download");
    return el("tr", { "data-file": s.file }, el("td", {}, s.time), el("td", {}, s.actor),
      el("td", {}, s.reason), el("td", { class: "num" }, s.size), el("td", {}, view, " ", link));
  }));
}

async function showSnapshot(url) {
  const s = await getJSON(url);
  const box = $("#snapshot-view");
  box.hidden = false;
  const exc = s.exception ? s.exception.traceback || `${s.exception.type}: ${s.exception.message}` : "no exception";
  box.replaceChildren(
    el("h3", {}, `${s.actor} (${s.reason})`),
    el("p", {}, "replay: ", el("code", { class: "replay" }, s.replay)),
    el("h4", {}, "exception"), el("pre", {}, exc),
    el("h4", {}, `events (${s.events ? s.events.length : 0} of ${s.events_total})`),
    el("pre", {}, (s.events || []).map((e) => JSON.stringify(e)).join("\n")),
    el("h4", {}, "state"), el("pre", {}, JSON.stringify(s.state, null, 2)));
}

let shownActor = "";

async function showActor(name) {
  shownActor = name;
  const page = await getJSON(`/api/actors/${encodeURIComponent(name)}`);
  $("#actor-section").hidden = false;
  $("#actor-name").textContent = `${page.name} (${page.class})`;
  $("#declarations tbody").replaceChildren(...page.declarations.map((d) => el("tr", {},
    el("td", {}, d.name), el("td", {}, d.kind), el("td", {}, d.type), el("td", {}, d.unit),
    el("td", {}, d.topic), el("td", {}, d.value === null || d.value === undefined ? "" : JSON.stringify(d.value)),
    el("td", {}, d.doc))));
  $("#actor-log").textContent = page.log.map((r) =>
    `${r.timestamp || ""} ${r.level || ""} ${r.event || ""}`).join("\n");
}

// -- the connection ------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  if (!token) return;  // nothing to read without one; takeToken connects once it has one
  socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  socket.addEventListener("open", () => {
    $("#connection").textContent = "live";
    $("#connection").className = "badge up";
    if (tapped) socket.send(JSON.stringify({ op: "tap", topic: tapped }));
  });
  socket.addEventListener("close", () => {
    socket = null;
    $("#connection").textContent = "reconnecting";
    $("#connection").className = "badge down";
    setTimeout(connect, 1000);
  });
  socket.addEventListener("message", (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "hello") { role = msg.role; showAccess(); }
    else if (msg.type === "site") renderSite(msg);
    else if (msg.type === "events") addEvents(msg.events.slice().reverse());
    else if (msg.type === "tap") takeTap(msg);
  });
}

takeToken();
started = true;
window.addEventListener("hashchange", takeToken);
$("#event-filter").addEventListener("input", renderEvents);
$("#event-category").addEventListener("change", renderEvents);
$("#tap-button").addEventListener("click", () => startTap());
$("#fold-hardware").addEventListener("change", (e) => {
  foldHardware = e.target.checked;
  graphShape = "";  // a new layout
  renderGraph(lastGraph);
});
$("#log-level-button").addEventListener("click", () =>
  act("loglevel", shownActor, { level: $("#log-level").value }));
$("#swap-button").addEventListener("click", () =>
  act("swap", shownActor, { class: $("#swap-class").value.trim() }));
$("#tap-topic").addEventListener("keydown", (e) => { if (e.key === "Enter") startTap(); });
connect();
loadSnapshots();
setInterval(loadSnapshots, 5000);
