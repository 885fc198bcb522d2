/* Collection health panel: connection-down seconds per stream feed and day (collection.json, table collector_gaps).
 *
 * Loaded after app.js; it draws its own panel (#panel-collection) once app.js has rendered the export
 * (body[data-rendered], set also when there is no export: then it shows the empty state), from the same
 * window.FIN_MLOPS_DATA. Every string from the data is inserted as text
 * (textContent), never as HTML.
 */
(function () {
  "use strict";

  var GLYPH = { ok: "✓", warn: "!", alert: "✖" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function num(v, digits) {
    return typeof v === "number" && isFinite(v) ? v.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
  }
  function pct(v) {
    if (typeof v !== "number" || !isFinite(v)) return "–";
    var p = v * 100;
    return (p !== 0 && p < 0.01 ? p.toPrecision(2) : p.toFixed(2)) + "%";
  }
  function duration(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "–";
    if (seconds < 120) return num(seconds, 1) + " s";
    if (seconds < 7200) return num(seconds / 60, 1) + " min";
    return num(seconds / 3600, 1) + " h";
  }

  function render() {
    var panel = document.getElementById("panel-collection");
    if (!panel) return;
    var body = panel.querySelector(".panel-body");
    var D = window.FIN_MLOPS_DATA;
    var doc = D && D.collection;
    var sec = doc && doc.sections && doc.sections.gaps;
    body.replaceChildren();
    if (!sec || sec.status !== "ok" || !sec.data || !sec.data.length) {
      // no export at all (no data.js), no collection.json in it, or nothing recorded: the core panels' empty state
      var why = !D || !D.manifest ? window.FIN_MLOPS_NO_EXPORT
        : sec ? { status: sec.status, message: sec.message || "no collector gaps recorded" }
        : { status: "missing", message: "not in this export" };
      panel.dataset.state = "empty";
      body.appendChild(window.FIN_MLOPS_EMPTY_STATE(why));
      return;
    }
    var table = el("table", "data");
    var head = el("tr");
    ["", "feed", "day (UTC)", "down", "down share", "disconnects", "longest gap", "runs", "trades landed"].forEach(
      function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var tbody = table.appendChild(el("tbody"));
    sec.data.forEach(function (r) {
      var tr = el("tr", "status-" + (GLYPH[r.status] ? r.status : "ok"));
      tr.appendChild(el("td", "glyph", GLYPH[r.status] || ""));
      tr.appendChild(el("td", null, r.feed));
      tr.appendChild(el("td", null, r.day));
      tr.appendChild(el("td", "num", duration(r.downtime_seconds)));
      tr.appendChild(el("td", "num", pct(r.down_share)));
      tr.appendChild(el("td", "num", num(r.disconnects, 0)));
      tr.appendChild(el("td", "num", duration(r.longest_gap_seconds)));
      tr.appendChild(el("td", "num", num(r.runs, 0)));
      tr.appendChild(el("td", "num", num(r.trades_landed, 0)));
      tbody.appendChild(tr);
    });
    var wrap = el("div", "scroll");
    wrap.appendChild(table);
    body.appendChild(wrap);
    panel.dataset.state = "data";
  }

  function start() {
    if (document.body.getAttribute("data-rendered") === "true") render();
    new MutationObserver(function () {
      if (document.body.getAttribute("data-rendered") === "true") render();
    }).observe(document.body, { attributes: true, attributeFilter: ["data-rendered"] });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
