"""The report's stylesheet and script, the same in a report file and on the dashboard.

:data:`SCRIPT` reads the page's JSON (``#kw-data``), draws the figures with plotly, builds
tooltips with ``textContent`` only, sorts the leaderboard, and on a live page polls for new
versions of the parts and redraws only those that changed.
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
:root {
  --bg: #f4f6f8; --card: #ffffff; --ink: #1f2933; --muted: #616e7c; --faint: #9aa5b1;
  --line: #e4e7eb; --accent: #3c2f9e;
  --finished: #1f7a4d; --stopped: #b7561a; --failed: #c81e1e; --crashed: #8a1c1c;
  --running: #1d5fbf; --pending: #7b8794; --preempted: #6b46c1;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
    Arial, sans-serif;
}
.mono, pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas,
  "Liberation Mono", monospace; }
main { max-width: 1280px; margin: 0 auto; padding: 28px 28px 40px; }
header.top h1 { margin: 2px 0 4px; font-size: 28px; font-weight: 650; letter-spacing: -0.01em; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.08em; font-size: 11px;
  color: var(--accent); font-weight: 600; }
.sub { color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 14px;
  margin: 20px 0 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px; box-shadow: 0 1px 2px rgba(31, 41, 51, 0.04); min-width: 0; }
.card .label { color: var(--muted); font-size: 12px; font-weight: 600;
  text-transform: uppercase; letter-spacing: 0.04em; }
.card .big { font-size: 26px; font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.card.best .big { color: var(--accent); }
.muted { color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
.chips { display: flex; flex-wrap: wrap; gap: 6px 10px; margin-top: 4px; }
.chip { display: inline-flex; align-items: center; gap: 4px; font-size: 13px; }
nav.toc { display: flex; gap: 18px; margin: 14px 0 4px; font-size: 13px; flex-wrap: wrap; }
nav.toc a { color: var(--muted); text-decoration: none; border-bottom: 1px dotted var(--faint); }
nav.toc a:hover { color: var(--ink); }
section.panel { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px 12px; margin-top: 18px; box-shadow: 0 1px 2px rgba(31, 41, 51, 0.04);
  min-width: 0; }
section.panel h2 { font-size: 16px; margin: 0 0 2px; font-weight: 650; }
.hint { color: var(--muted); font-size: 12.5px; margin: 0 0 6px; }
.note { color: var(--muted); font-size: 12.5px; margin: 8px 0 2px; }
.notice { border-left: 4px solid var(--failed); background: #fff4e5; padding: 8px 12px;
  margin: 14px 0 0; border-radius: 6px; font-size: 13.5px; }
.grid2 { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 18px; }
.grid2 > section.panel { margin-top: 18px; }
.plot { width: 100%; }
.state { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; line-height: 18px; color: #fff; background: var(--pending); }
.state-finished { background: var(--finished); }
.state-stopped { background: var(--stopped); }
.state-failed { background: var(--failed); }
.state-crashed { background: var(--crashed); }
.state-preempted { background: var(--preempted); }
.state-running { background: var(--running); }
.state-pending { background: var(--pending); }
.table-wrap { overflow: auto; max-height: 640px; border: 1px solid var(--line);
  border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 6px 10px; text-align: left; white-space: nowrap; }
th { font-weight: 600; color: var(--muted); font-size: 12px; background: #f8f9fb;
  border-bottom: 1px solid var(--line); }
table.leaderboard th { position: sticky; top: 0; z-index: 1; cursor: pointer;
  user-select: none; }
table.leaderboard th:hover { color: var(--ink); }
th.sorted-asc::after { content: " \\25B2"; font-size: 9px; }
th.sorted-desc::after { content: " \\25BC"; font-size: 9px; }
td { border-bottom: 1px solid #f0f2f4; }
tbody tr:hover td { background: #f5f4ff; }
tr.best td { background: #f1efff; }
tr.best td.metric { font-weight: 700; color: var(--accent); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.why { white-space: normal; min-width: 220px; max-width: 340px; color: var(--muted); }
.run-name { font-weight: 600; }
.run-id { color: var(--faint); font-size: 11.5px; }
table.importance td.feat { font-weight: 500; white-space: normal; overflow-wrap: anywhere; }
table.importance td.imp, table.importance td.corr { position: relative; width: 28%; }
table.importance td span { position: relative; }
.ibar { position: absolute; left: 0; top: 5px; bottom: 5px; background: #dcd8fb;
  border-radius: 3px; }
td.imp .ibar { left: 8px; max-width: calc(100% - 16px); }
.cbar { position: absolute; top: 5px; bottom: 5px; border-radius: 3px; }
.cbar.pos { left: 50%; }
.cbar.neg { right: 50%; }
.cbar.good { background: #c9ecd7; }
.cbar.bad { background: #f8d4d4; }
td.corr::before { content: ""; position: absolute; left: 50%; top: 3px; bottom: 3px;
  border-left: 1px solid #cbd2d9; }
.grid-config { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); gap: 18px;
  align-items: start; }
dl.engine { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 8px 0; }
dl.engine dt { color: var(--muted); font-weight: 600; font-size: 12.5px; }
dl.engine dd { margin: 0; overflow-wrap: anywhere; }
pre.config { background: #f8f9fb; border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 14px; font-size: 12.5px; line-height: 1.45; overflow: auto; max-height: 420px;
  margin: 8px 0; }
#kw-tip { position: fixed; z-index: 10; pointer-events: none; background: #fff;
  border: 1px solid #cbd2d9; border-radius: 8px; padding: 8px 10px; font-size: 12px;
  box-shadow: 0 4px 14px rgba(31, 41, 51, 0.15); max-width: 340px; display: none; }
#kw-tip .t { font-weight: 700; font-size: 13px; }
#kw-tip table { font-size: 12px; margin-top: 4px; }
#kw-tip td { padding: 1px 8px 1px 0; border: 0; }
footer { color: var(--faint); font-size: 12px; margin-top: 22px; text-align: center; }
.topbar { display: flex; justify-content: space-between; align-items: center; gap: 12px;
  font-size: 13px; margin-bottom: 10px; }
.topbar a { color: var(--accent); text-decoration: none; }
.live { color: var(--muted); }
.live::before { content: ""; display: inline-block; width: 8px; height: 8px; margin-right: 6px;
  border-radius: 50%; background: var(--finished); vertical-align: 0; }
.live.wait::before { background: var(--pending); }
.live.bad { color: var(--failed); }
.live.bad::before { background: var(--failed); }
table.sweeps td { vertical-align: middle; }
table.sweeps a { color: var(--ink); }
@media (max-width: 980px) {
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .grid2, .grid-config { grid-template-columns: minmax(0, 1fr); }
}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var root = document.documentElement;
  var D = JSON.parse(document.getElementById("kw-data").textContent);
  // plotGlPixelRatio 1: at plotly's default of 2 the parcoords line picking reads the wrong
  // pixels, and hovering a line shows nothing.
  var config = {displaylogo: false, responsive: true, plotGlPixelRatio: 1,
                modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]};
  var plots = {};  // element id -> element, once plotly has drawn into it
  var curveOf = {};
  function indexCurves() {
    curveOf = {};
    (D.curveRuns || []).forEach(function (i, k) { curveOf[i] = k; });
  }
  indexCurves();

  var tip = document.getElementById("kw-tip");
  function cell(tr, text, bold) {
    var td = document.createElement("td");
    td.textContent = text;
    if (bold) { td.style.fontWeight = "600"; }
    tr.appendChild(td);
  }
  function showRun(i, x, y) {
    var run = D.runs[i];
    if (!run) { return; }
    tip.textContent = "";
    var title = document.createElement("div");
    title.className = "t";
    title.textContent = run.name;
    tip.appendChild(title);
    var table = document.createElement("table");
    var rows = [["state", run.state]];
    if (D.metric) { rows.push([D.metric, run.metric]); }
    rows = rows.concat(run.params);
    rows.forEach(function (kv, k) {
      var tr = document.createElement("tr");
      cell(tr, kv[0], false);
      cell(tr, kv[1], k === 1 && D.metric);
      table.appendChild(tr);
    });
    tip.appendChild(table);
    tip.style.display = "block";
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(x + 14, window.innerWidth - w - 8) + "px";
    tip.style.top = Math.min(y + 14, window.innerHeight - h - 8) + "px";
  }
  function hideRun() { tip.style.display = "none"; }

  var highlighted = null;
  function highlight(k) {
    var curves = plots.curves;
    if (!curves || k === highlighted) { return; }
    var update = [];
    if (highlighted !== null) { update.push(highlighted); }
    if (k !== null) { update.push(k); }
    if (!update.length) { return; }
    var widths = update.map(function (t) { return t === k ? 4 : 1.6; });
    highlighted = k;
    Plotly.restyle(curves, {"line.width": widths}, update);
  }

  function listen(id, el) {
    if (id === "parcoords") {
      el.on("plotly_hover", function (e) {
        var i = D.parcoordsRuns[e.curveNumber];
        if (i === undefined) { return; }
        showRun(i, e.clientX, e.clientY);
        highlight(curveOf[i] === undefined ? null : curveOf[i]);
      });
      el.on("plotly_unhover", function () { hideRun(); highlight(null); });
    } else if (id === "curves") {
      el.on("plotly_hover", function (e) {
        var p = e.points && e.points[0];
        if (p && p.curveNumber < D.curveRuns.length) { highlight(p.curveNumber); }
      });
      el.on("plotly_unhover", function () { highlight(null); });
    }
  }
  // Draws a figure into its element (Plotly.react: a redraw changes only what differs),
  // or clears it when there is no figure.
  function draw(id, figure) {
    var el = document.getElementById(id);
    if (!el) { return Promise.resolve(null); }
    if (!figure) {
      if (plots[id]) { Plotly.purge(el); delete plots[id]; }
      return Promise.resolve(null);
    }
    if (id === "curves") { highlighted = null; }
    return Plotly.react(el, figure.data, figure.layout, config).then(function () {
      if (!plots[id]) { plots[id] = el; listen(id, el); }
      return el;
    });
  }

  // The leaderboard: hover a row to find its run; click a column to sort (kept on updates).
  var sorted = null;  // {label, desc}
  function sortBoard() {
    var board = document.getElementById("leaderboard");
    if (!board || !sorted) { return; }
    var heads = board.querySelectorAll("thead th");
    var col = -1;
    heads.forEach(function (h, k) {
      h.classList.remove("sorted-asc", "sorted-desc");
      if (h.textContent === sorted.label) { col = k; }
    });
    if (col < 0) { return; }
    var th = heads[col];
    th.classList.add(sorted.desc ? "sorted-desc" : "sorted-asc");
    var numeric = th.dataset.sort === "num";
    var body = board.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(tr) {
      var td = tr.cells[col];
      if (!numeric) { return td.textContent; }
      var v = td.dataset.v;
      return v === undefined || v === "" ? null : parseFloat(v);
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null || y === null) { return x === y ? 0 : x === null ? 1 : -1; }
      var c = numeric ? x - y : String(x).localeCompare(String(y));
      return sorted.desc ? -c : c;
    });
    rows.forEach(function (tr) { body.appendChild(tr); });
  }
  document.addEventListener("mouseover", function (e) {
    var tr = e.target.closest && e.target.closest("#leaderboard tbody tr");
    if (tr && tr.dataset.trace !== undefined) { highlight(Number(tr.dataset.trace)); }
  });
  document.addEventListener("mouseout", function (e) {
    var board = document.getElementById("leaderboard");
    if (board && board.contains(e.target) && !board.contains(e.relatedTarget)) {
      highlight(null);
    }
  });
  document.addEventListener("click", function (e) {
    var th = e.target.closest && e.target.closest("#leaderboard thead th");
    if (!th) { return; }
    sorted = {label: th.textContent, desc: th.classList.contains("sorted-asc")};
    sortBoard();
  });

  Promise.all([draw("parcoords", D.figures.parcoords), draw("curves", D.figures.curves)])
    .then(function () {
      root.setAttribute("data-rendered", "true");
    }, function (err) {
      root.setAttribute("data-render-error", String(err && err.message || err));
    });

  // Live pages: poll the JSON of the page's parts; redraw only the parts whose digest changed.
  var live = D.live;
  if (!live) { return; }
  var status = document.getElementById("kw-live");
  function say(text, bad) {
    if (!status) { return; }
    status.textContent = text;
    status.className = bad ? "live bad" : "live";
  }
  function apply(P) {
    var digests = live.digests;
    Object.keys(P.html).forEach(function (name) {
      var part = P.html[name];
      if (digests["html:" + name] === part[0]) { return; }
      digests["html:" + name] = part[0];
      document.querySelectorAll('[data-part="' + name + '"]').forEach(function (el) {
        el.innerHTML = part[1];
      });
      if (name === "leaderboard") { sortBoard(); }
    });
    if (P.title) { document.title = P.title; }
    D.metric = P.data.metric;
    D.runs = P.data.runs;
    D.parcoordsRuns = P.data.parcoordsRuns;
    D.curveRuns = P.data.curveRuns;
    indexCurves();
    var redraws = Object.keys(P.data.figures).map(function (id) {
      var figure = P.data.figures[id];
      if (digests["figure:" + id] === figure[0]) { return null; }
      digests["figure:" + id] = figure[0];
      return draw(id, figure[1]);
    });
    return Promise.all(redraws);
  }
  var version = live.version, updates = 0;
  function poll() {
    fetch(live.url, {headers: {"If-None-Match": version}, cache: "no-store"})
      .then(function (r) {
        if (r.status === 304) { return null; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        version = r.headers.get("ETag") || version;
        return r.json();
      })
      .then(function (P) { return P && apply(P).then(function () { updates += 1; }); })
      .then(function () {
        root.setAttribute("data-updates", String(updates));
        say("live · checked " + new Date().toLocaleTimeString(), false);
      }, function (err) {
        say("not reachable, retrying (" + (err && err.message || err) + ")", true);
      })
      .then(function () { setTimeout(poll, live.interval); });
  }
  setTimeout(poll, live.interval);
})();
"""
