#include "server/operator_page.h"

namespace paramserver {
namespace {

// Kept in one literal so the page is one response; see the header for what
// it shows. Element ids and classes used by tests: #tree li.scope and
// li.variable (data-name), #details, #histogram rect.bar (data-count),
// #methods, #store, #flags, #login.
constexpr absl::string_view kPage = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ps_server</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f5f6f8; }
header { background: #22324a; color: #fff; padding: 10px 18px; display: flex; gap: 24px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header span { opacity: .85; }
main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(360px, 1.2fr); gap: 14px; padding: 14px; }
section { background: #fff; border: 1px solid #d8dce3; border-radius: 6px; padding: 10px 14px; overflow: auto; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 15px; margin: 4px 0 8px; }
ul.tree { list-style: none; margin: 0; padding-left: 16px; }
#tree > ul.tree { padding-left: 0; }
.row { display: flex; gap: 10px; padding: 2px 4px; border-radius: 4px; cursor: pointer; white-space: nowrap; }
.row:hover { background: #eef2f8; }
.row.selected { background: #dce8fb; }
.row .name { flex: 1; overflow: hidden; text-overflow: ellipsis; }
.row .fig { color: #5a6473; font-variant-numeric: tabular-nums; }
.twisty { width: 12px; display: inline-block; color: #5a6473; }
li.variable > .row .name::before { content: "\25CF  "; color: #3b73c4; font-size: 9px; vertical-align: middle; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eceef2; }
th { color: #5a6473; font-weight: 600; }
td.num, th.num { text-align: right; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0 0 10px; }
dt { color: #5a6473; }
dd { margin: 0; font-variant-numeric: tabular-nums; word-break: break-all; }
svg rect.bar { fill: #f57c00; }
svg text { font-size: 11px; fill: #5a6473; }
.muted { color: #7a8391; }
.error { color: #b3261e; }
#login { display: none; gap: 8px; align-items: center; }
#login input { width: 320px; }
</style>
</head>
<body>
<header><h1>ps_server</h1><span id="server"></span><span id="uptime"></span><span id="state"></span></header>
<main>
<section class="wide" id="loginbox" hidden>
  <form id="login"><label for="token">This server needs a reader token:</label>
  <input id="token" type="password" autocomplete="off"><button>Use for this tab</button></form>
  <div id="loginerror" class="error"></div>
</section>
<section><h2>Scopes</h2><div id="tree"><span class="muted">Loading...</span></div></section>
<section><h2>Variable</h2><div id="details"><span class="muted">Select a variable in the tree.</span></div></section>
<section class="wide"><h2>Requests</h2><div id="methods"><span class="muted">Loading...</span></div></section>
<section><h2>Store</h2><div id="store"></div></section>
<section><h2>Flags</h2><div id="flags"></div></section>
</main>
<script>
"use strict";
const TOKEN_KEY = "ps_server_token";
let stopped = false;

function takeTokenFromAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, params.get("token"));
    params.delete("token");
    history.replaceState(null, "", location.pathname + location.search +
                         (params.toString() ? "#" + params.toString() : ""));
  }
}

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(path, {headers, cache: "no-store"});
  const text = await response.text();
  if (response.status === 401) { showLogin(text); throw new Error(text); }
  if (!response.ok) {
    const error = new Error(text.trim());
    error.status = response.status;
    throw error;
  }
  return JSON.parse(text);
}

function showLogin(message) {
  document.getElementById("loginbox").hidden = false;
  document.getElementById("login").style.display = "flex";
  document.getElementById("loginerror").textContent =
      sessionStorage.getItem(TOKEN_KEY) ? message.trim() : "";
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
}

function ago(seconds) {
  if (!seconds) return "never";
  const s = Math.max(0, Date.now() / 1000 - seconds);
  if (s < 1) return "just now";
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
  const m = Math.floor(seconds % 3600 / 60), s = Math.floor(seconds % 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + s + "s";
}

function ms(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  return seconds < 0.001 ? (seconds * 1e6).toFixed(0) + " \u00b5s"
                         : (seconds * 1e3).toFixed(seconds < 0.01 ? 2 : 1) + " ms";
}

function leaf(name) { return name.slice(name.lastIndexOf("/") + 1); }

// ---- The scope tree ----
let selectedRow = null;

async function loadScope(name, into) {
  const scope = await api("/api/scope?name=" + encodeURIComponent(name));
  const list = el("ul", {class: "tree"});
  for (const child of scope.children) {
    if (child.kind === "scope") {
      const item = el("li", {class: "scope", "data-name": child.name});
      const twisty = el("span", {class: "twisty"}, "\u25B8");
      const row = el("div", {class: "row", title: child.name}, twisty,
                     el("span", {class: "name"}, leaf(child.name) + "/"),
                     el("span", {class: "fig"}, child.variables + " var"),
                     el("span", {class: "fig"}, bytes(child.bytes)),
                     el("span", {class: "fig"}, ago(child.last_update)));
      row.onclick = () => toggle(item, twisty);
      item.append(row);
      list.append(item);
    } else {
      const item = el("li", {class: "variable", "data-name": child.name});
      const row = el("div", {class: "row", title: child.name},
                     el("span", {class: "twisty"}),
                     el("span", {class: "name"}, leaf(child.name)),
                     el("span", {class: "fig"}, "[" + child.shape.join(", ") + "] " + child.dtype),
                     el("span", {class: "fig"}, bytes(child.bytes)),
                     el("span", {class: "fig"}, ago(child.last_update)));
      row.onclick = () => select(child.name, row);
      item.append(row);
      list.append(item);
    }
  }
  if (scope.children_left_out) {
    list.append(el("li", {class: "muted"}, scope.children_left_out + " more not shown"));
  }
  if (!scope.children.length) list.append(el("li", {class: "muted"}, "No variables."));
  into.append(list);
  return list;
}

async function toggle(item, twisty) {
  const open = item.querySelector(":scope > ul");
  if (open) { open.remove(); twisty.textContent = "\u25B8"; return; }
  twisty.textContent = "\u25BE";
  await loadScope(item.dataset.name, item);
}

async function select(name, row) {
  if (selectedRow) selectedRow.classList.remove("selected");
  selectedRow = row;
  if (row) row.classList.add("selected");
  const details = document.getElementById("details");
  try {
    showVariable(await api("/api/variable?name=" + encodeURIComponent(name)));
  } catch (error) {
    details.replaceChildren(el("span", {class: "error"}, error.message));
  }
}

function showVariable(v) {
  const details = document.getElementById("details");
  const facts = el("dl", {},
      el("dt", {}, "name"), el("dd", {id: "detail-name"}, v.name),
      el("dt", {}, "shape"), el("dd", {}, "[" + v.shape.join(", ") + "]"),
      el("dt", {}, "dtype"), el("dd", {}, v.dtype),
      el("dt", {}, "bytes"), el("dd", {}, bytes(v.bytes)),
      el("dt", {}, "version"), el("dd", {id: "detail-version"}, v.version),
      el("dt", {}, "trainable"), el("dd", {}, v.trainable ? "yes" : "no"),
      el("dt", {}, "last update"), el("dd", {}, ago(v.last_update)),
      el("dt", {}, "optimizer slots"),
      el("dd", {}, v.slots.length ? v.slots.map(s => leaf(s.name) + " (v" + s.version + ")").join(", ") : "none"));
  const h = v.histogram;
  const summary = el("p", {class: "muted"},
      h.elements + " elements" + (h.stride > 1 ? ", every " + h.stride + "th read" : "") +
      "; min " + fmt(h.min) + ", max " + fmt(h.max) + ", mean " + fmt(h.mean) +
      ", std " + fmt(h.stddev) + (h.nonfinite ? "; " + h.nonfinite + " NaN or infinite" : ""));
  details.replaceChildren(facts, histogramSvg(h), summary);
}

function fmt(x) { return x === null ? "-" : Number(x).toPrecision(4); }

function histogramSvg(h) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 460, height = 170, left = 8, bottom = 20;
  const svg = document.createElementNS(ns, "svg");
  svg.id = "histogram";
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  const top = Math.max(1, ...h.buckets.map(b => b.count));
  const barWidth = (width - 2 * left) / Math.max(1, h.buckets.length);
  h.buckets.forEach((b, i) => {
    const rect = document.createElementNS(ns, "rect");
    const barHeight = (height - bottom - 6) * b.count / top;
    rect.setAttribute("class", "bar");
    rect.setAttribute("data-count", b.count);
    rect.setAttribute("x", left + i * barWidth);
    rect.setAttribute("y", height - bottom - barHeight);
    rect.setAttribute("width", Math.max(1, barWidth - 1));
    rect.setAttribute("height", barHeight);
    const tip = document.createElementNS(ns, "title");
    tip.textContent = "[" + fmt(b.left) + ", " + fmt(b.right) + "): " + b.count;
    rect.append(tip);
    svg.append(rect);
  });
  for (const [x, anchor, value] of [[left, "start", h.min], [width - left, "end", h.max]]) {
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x);
    label.setAttribute("y", height - 5);
    label.setAttribute("text-anchor", anchor);
    label.textContent = fmt(value);
    svg.append(label);
  }
  return svg;
}

async function openPath(name) {
  // Expands each ancestor scope of `name`, then selects it.
  const parts = name.split("/");
  let container = document.getElementById("tree");
  for (let i = 1; i < parts.length; ++i) {
    const scope = parts.slice(0, i).join("/");
    const item = container.querySelector(':scope > ul > li.scope[data-name="' + CSS.escape(scope) + '"]');
    if (!item) break;
    if (!item.querySelector(":scope > ul")) {
      await toggle(item, item.querySelector(".twisty"));
    }
    container = item;
  }
  const item = container.querySelector(':scope > ul > li.variable[data-name="' + CSS.escape(name) + '"]');
  await select(name, item ? item.querySelector(".row") : null);
}

// ---- Figures ----
function showStats(stats) {
  document.getElementById("server").textContent = stats.server;
  document.getElementById("uptime").textContent = "up " + duration(stats.uptime_seconds);
  document.getElementById("state").textContent = stats.state;
  // Rates are the server's own, over its last ~10 s (rpc.rate_seconds).
  const perSecond = (m, key, format) => m.per_second ? format(m.per_second[key]) : "-";
  const rows = stats.rpc.methods.map(m => el("tr", {"data-method": m.method},
      el("td", {}, m.method), el("td", {class: "num"}, m.started),
      el("td", {class: "num"}, perSecond(m, "calls", x => x.toFixed(1))),
      el("td", {class: "num"}, perSecond(m, "errors", x => x.toFixed(1))),
      el("td", {class: "num"}, ms(m.latency_seconds.p50)),
      el("td", {class: "num"}, ms(m.latency_seconds.p90)),
      el("td", {class: "num"}, ms(m.latency_seconds.p99)),
      el("td", {class: "num"}, perSecond(m, "received_bytes", x => bytes(x) + "/s")),
      el("td", {class: "num"}, perSecond(m, "sent_bytes", x => bytes(x) + "/s"))));
  const head = el("tr", {}, ...["method", "calls", "calls/s", "errors/s", "p50", "p90", "p99", "received", "sent"]
      .map((t, i) => el("th", {class: i ? "num" : ""}, t)));
  const window = stats.rpc.rate_seconds ? "rates over the last " + stats.rpc.rate_seconds.toFixed(0) + " s; " : "";
  document.getElementById("methods").replaceChildren(
      el("table", {}, head, ...rows),
      el("p", {class: "muted"}, window + "latency since start; " + stats.rpc.in_flight + " calls in flight, " +
         stats.sessions_open + " sessions open"));
  if (!stats.store) {
    document.getElementById("store").replaceChildren(el("span", {class: "muted"}, "Not serving yet."));
    return;
  }
  const s = stats.store;
  const facts = [["variables (with slots)", s.variables], ["bytes held", bytes(s.bytes) + " of " + bytes(s.max_total_bytes)],
                 ["resident memory", bytes(stats.process.resident_bytes)],
                 ["optimizer steps", Object.entries(s.optimizer_steps).filter(([, n]) => n).map(([k, n]) => k + " " + n).join(", ") || "none"],
                 ["stale pushes refused", s.stale_pushes_rejected],
                 ["dynamic tables", stats.tables.map(t => t.name + ": " + t.rows + " rows, " + t.admitted + " admitted, " +
                                                         (t.evicted_idle + t.evicted_capacity) + " evicted").join("; ") || "none"]];
  if (stats.write_ahead_log) {
    const w = stats.write_ahead_log;
    facts.push(["write-ahead log", w.records + " records, " + bytes(w.bytes) + ", fsync p50 " + ms(w.fsync_seconds_p50) + ", p99 " + ms(w.fsync_seconds_p99)]);
    const c = stats.checkpoints;
    facts.push(["checkpoints", c.written + " written, " + c.failed + " failed" +
                (c.written ? "; newest " + ago(c.last_timestamp_seconds) + ", " + bytes(c.last_value_bytes) + " in " + c.last_duration_seconds.toFixed(2) + " s" : "")]);
  }
  document.getElementById("store").replaceChildren(el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
  document.getElementById("flags").replaceChildren(el("table", {},
      ...Object.entries(stats.flags).map(([k, v]) => el("tr", {}, el("td", {}, "--" + k), el("td", {}, v)))));
}

async function poll() {
  while (!stopped) {
    try {
      showStats(await api("/api/stats"));
    } catch (error) {
      const reason = error.status === 403 ? "Server-wide figures need a token that reads every name." : error.message;
      document.getElementById("methods").replaceChildren(el("span", {class: "muted"}, reason));
      if (error.status === 403) return;
    }
    await new Promise(resolve => setTimeout(resolve, 2000));
  }
}

async function start() {
  takeTokenFromAddress();
  const tree = document.getElementById("tree");
  try {
    tree.replaceChildren();
    await loadScope("", tree);
    const wanted = new URLSearchParams(location.hash.slice(1)).get("variable");
    if (wanted) await openPath(wanted);
  } catch (error) {
    if (error.status === 503) {
      // Starting (the data directory is being restored) or draining.
      tree.replaceChildren(el("span", {class: "muted"}, error.message + "; trying again."));
      setTimeout(start, 1000);
      return;
    }
    tree.replaceChildren(el("span", {class: "error"}, error.message));
    return;
  }
  poll();
}

document.getElementById("login").onsubmit = event => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value);
  location.reload();
};
start();
</script>
</body>
</html>
)html";

}  // namespace

absl::string_view OperatorPageHtml() { return kPage; }

}  // namespace paramserver
