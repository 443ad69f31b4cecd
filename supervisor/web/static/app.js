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
  return [a.name, a.state, a.pid ?? "-", a.restarts,
    a.uptime === null ? "-" : `${Math.round(a.uptime)} s`, fmt(a.in_rate), fmt(a.out_rate),
    a.gaps, a.duplicates, a.late, a.rejected, a.faults, a.last_exit || ""];
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
  $("#site-name").textContent = msg.site || "enlil";
  const sup = msg.supervisor;
  $("#supervisor").textContent = msg.down ? "site not answering" :
    sup ? `supervisor pid ${sup.pid}, ${sup.state}, up ${Math.round(sup.uptime)} s` : "";
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

function layers(nodes, edges) {
  // Breadth first from the sources (no edge in); a cycle with no source starts at its
  // node with the fewest edges in. Each node is placed once: cycles cannot stretch it.
  const out = new Map(nodes.map((n) => [n.id, []]));
  const indegree = new Map(nodes.map((n) => [n.id, 0]));
  for (const e of edges) {
    if (!out.has(e.from) || !out.has(e.to)) continue;
    out.get(e.from).push(e.to);
    indegree.set(e.to, indegree.get(e.to) + 1);
  }
  const depth = new Map();
  const visit = (starts) => {
    let level = starts;
    let d = 0;
    for (const id of level) depth.set(id, d);
    while (level.length) {
      const next = [];
      for (const id of level) {
        for (const to of out.get(id)) {
          if (!depth.has(to)) { depth.set(to, depth.get(id) + 1); next.push(to); }
        }
      }
      level = next;
      d += 1;
    }
  };
  visit(nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id));
  for (;;) {
    const left = nodes.filter((n) => !depth.has(n.id));
    if (!left.length) break;
    left.sort((a, b) => indegree.get(a.id) - indegree.get(b.id));
    visit([left[0].id]);
  }
  return depth;
}

let graphShape = "";
let edgeLabels = new Map();
let edgeLines = new Map();
let nodeGroups = new Map();

function edgeLabel(e) {
  let label = `${fmt(e.rate)}/s`;
  if (e.gaps) label += ` gaps ${e.gaps}`;
  if (e.faults) label += ` faults ${e.faults}`;
  return label;
}

function nodeClass(n) {
  const state = n.state || "";
  const down = DOWN_STATES.has(state) || n.recent_exit ? " down" :
    state === "starting" ? " starting" : "";
  return `node ${n.kind}${down}`;
}

function renderGraph(graph) {
  const nodes = graph.nodes || [];
  const edges = graph.edges || [];
  const shape = nodes.map((n) => n.id).join("|") + "#" + edges.map((e) => `${e.from}>${e.to}`).join("|");
  if (shape === graphShape) {  // the same graph: only its numbers and colours change
    for (const e of edges) {
      const key = `${e.from}>${e.to}`;
      const text = edgeLabels.get(key);
      if (text && text.textContent !== edgeLabel(e)) text.textContent = edgeLabel(e);
      const line = edgeLines.get(key);
      if (line) setAttr(line, "class", e.faults ? "faulted" : "");
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
  const root = $("#graph");
  const depth = layers(nodes, edges);
  const columns = new Map();
  const place = new Map();
  for (const n of nodes) {
    const d = depth.get(n.id);
    const row = columns.get(d) || 0;
    columns.set(d, row + 1);
    place.set(n.id, { x: 10 + d * 190, y: 10 + row * 42 });
  }
  const height = 20 + 42 * Math.max(1, ...columns.values());
  const width = 20 + 190 * (Math.max(0, ...columns.keys()) + 1);
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.style.height = `${height}px`;
  root.style.width = `${width}px`;
  const parts = [];
  for (const e of edges) {
    const a = place.get(e.from), b = place.get(e.to);
    if (!a || !b) continue;
    const cls = e.faults ? "faulted" : "";
    const line = svg("line", { x1: a.x + 150, y1: a.y + 14, x2: b.x, y2: b.y + 14, class: cls });
    edgeLines.set(`${e.from}>${e.to}`, line);
    parts.push(line);
    const text = svg("text", { x: (a.x + 150 + b.x) / 2 - 20, y: (a.y + b.y) / 2 + 10,
      class: "edge-label", "data-edge": `${e.from}>${e.to}` }, edgeLabel(e));
    edgeLabels.set(`${e.from}>${e.to}`, text);
    parts.push(text);
  }
  for (const n of nodes) {
    const p = place.get(n.id);
    const g = svg("g", { class: nodeClass(n), "data-id": n.id, "data-state": n.state || "",
      transform: `translate(${p.x},${p.y})` });
    g.append(svg("rect", { width: 150, height: 28 }));
    g.append(svg("text", { x: 6, y: 18 }, (n.label || n.id).slice(0, 24)));
    if (n.kind === "topic") g.addEventListener("click", () => startTap(n.label));
    nodeGroups.set(n.id, g);
    parts.push(g);
  }
  root.replaceChildren(...parts);
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
$("#log-level-button").addEventListener("click", () =>
  act("loglevel", shownActor, { level: $("#log-level").value }));
$("#swap-button").addEventListener("click", () =>
  act("swap", shownActor, { class: $("#swap-class").value.trim() }));
$("#tap-topic").addEventListener("keydown", (e) => { if (e.key === "Enter") startTap(); });
connect();
loadSnapshots();
setInterval(loadSnapshots, 5000);
