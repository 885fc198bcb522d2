/* financial-ai-mlops monitoring dashboard.
 *
 * Static and offline: the data comes from `data.js` (window.FIN_MLOPS_DATA), written next to this file by
 * `fin-mlops dashboard`, because browsers refuse fetch() on file:// pages. `?data=<path>` loads another
 * data.js (e.g. when the page is served from the repository's dashboard/ folder).
 *
 * Safety: every string that comes from the data is inserted with textContent / createTextNode (never as
 * HTML), so a symbol such as `<img src=x onerror=alert(1)>` is displayed literally.
 */
(function () {
  "use strict";

  var SUPPORTED_MAJOR = "1";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  // viridis stops (perceptually uniform, colour-blind safe) for sequential heat.
  var VIRIDIS = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];
  // Drift status scales: calm pale blue (ok), amber (warn), red (alert); each darkens with PSI inside its band.
  var DRIFT_OK = ["#f3f7fa", "#c6dbea"], DRIFT_WARN = ["#fde3b0", "#f0a13a"], DRIFT_ALERT = ["#e4572e", "#a50f15"];
  // PuOr diverging stops (colour-blind safe) for correlations in [-1, 1].
  var PUOR = ["#542788", "#998ec3", "#d8daeb", "#f7f7f7", "#fee0b6", "#f1a340", "#b35806"];
  var GT_SHORT = { price_spike: "spike", volume_burst: "burst", wash_trade: "wash", stale_price: "stale" };
  var STATUS_GLYPH = { ok: "✓", warn: "!", alert: "✖", error: "✖", missing: "–", empty: "–" };

  // -- DOM helpers (text only, never HTML) ------------------------------------------------------------
  function append(node, children) {
    for (var i = 0; i < children.length; i++) {
      var c = children[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) { append(node, c); continue; }
      node.appendChild(typeof c === "object" && c.nodeType ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return node;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") node.setAttribute("class", v);
      else if (k === "text") node.textContent = String(v);
      else if (k === "on") Object.keys(v).forEach(function (ev) { node.addEventListener(ev, v[ev]); });
      else if (k === "style") Object.keys(v).forEach(function (p) { node.style.setProperty(p, v[p]); });
      else if (k.slice(0, 2) === "on") throw new Error("inline handlers are not allowed: " + k);
      else node.setAttribute(k, v === true ? "" : String(v));
    });
    return node;
  }
  function h(tag, attrs) {
    return append(setAttrs(document.createElement(tag), attrs), Array.prototype.slice.call(arguments, 2));
  }
  function s(tag, attrs) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), Array.prototype.slice.call(arguments, 2));
  }

  // -- formatting ------------------------------------------------------------------------------------------
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v, digits) {
    if (!isNum(v)) return "–";
    var d = digits === undefined ? 3 : digits;
    if (Math.abs(v) >= 1e5 && d <= 3) return v.toLocaleString("en-US", { maximumFractionDigits: 0 });
    return v.toFixed(d);
  }
  function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString("en-US") : "–"; }
  function fmtPct(v, digits) {
    if (!isNum(v)) return "–";
    var d = digits === undefined ? 2 : digits, p = v * 100;
    // a tiny non-zero share (one bad row in 60k) must not read as 0.00%
    if (p !== 0 && Math.abs(p) < Math.pow(10, -d)) return p.toPrecision(2) + "%";
    return p.toFixed(d) + "%";
  }
  function fmtTime(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }
  function ago(iso, ref) {
    if (!iso) return "never";
    var then = new Date(iso).getTime(), now = new Date(ref || Date.now()).getTime();
    if (isNaN(then) || isNaN(now)) return String(iso);
    var sec = Math.max(0, (now - then) / 1000);
    if (sec < 90) return Math.round(sec) + " s ago";
    if (sec < 5400) return Math.round(sec / 60) + " min ago";
    if (sec < 172800) return Math.round(sec / 3600) + " h ago";
    return Math.round(sec / 86400) + " d ago";
  }
  function short(v) { var t = String(v); return t.length > 22 ? t.slice(0, 21) + "…" : t; }
  function text(v) { return v === null || v === undefined || v === "" ? "–" : String(v); }
  function slug(v) { return String(v || "").toLowerCase().replace(/[^a-z]+/g, "-").replace(/^-|-$/g, ""); }

  // -- colour scales --------------------------------------------------------------------------------------
  function hexToRgb(hx) { var n = parseInt(hx.slice(1), 16); return [(n >> 16) & 255, (n >> 8) & 255, n & 255]; }
  function lerpStops(stops, t) {
    t = Math.max(0, Math.min(1, t));
    var pos = t * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(pos)), f = pos - i;
    var a = hexToRgb(stops[i]), b = hexToRgb(stops[i + 1]);
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
  }
  function inkOn(rgb) {
    var m = /rgb\((\d+),(\d+),(\d+)\)/.exec(rgb);
    if (!m) return "#000";
    var lum = 0.2126 * m[1] + 0.7152 * m[2] + 0.0722 * m[3];
    return lum < 140 ? "#ffffff" : "#111111";
  }

  // -- shared widgets -------------------------------------------------------------------------------------
  function badge(kind, label) {
    var k = slug(kind) || "info";
    var glyph = STATUS_GLYPH[k];
    return h("span", { class: "badge " + k }, glyph ? glyph + " " : "", text(label === undefined ? kind : label));
  }
  function recBadge(rec) {
    var k = slug(rec);
    if (k.indexOf("insufficient") === 0) k = "insufficient";
    return h("span", { class: "badge " + k }, text(rec));
  }
  function emptyState(section, what) {
    var status = section ? section.status : "missing";
    var msg = section && section.message ? section.message : "Nothing recorded yet.";
    return h("div", { class: "empty", "data-empty": status },
      h("strong", null, what || "No data yet"), h("span", { class: "msg" }, msg), " ", badge(status));
  }
  function table(columns, rows, opts) {
    opts = opts || {};
    var thead = h("thead", null, h("tr", null, columns.map(function (c) {
      return h("th", { class: c.num ? "num" : null, scope: "col" }, c.label);
    })));
    var tbody = h("tbody", null, rows.map(function (r, idx) {
      var tr = h("tr", { class: opts.rowClass ? opts.rowClass(r) : null }, columns.map(function (c) {
        var v = c.value(r, idx);
        var cell = h("td", { class: c.num ? "num" : c.wrap ? "wrap" : null });
        append(cell, [v && v.nodeType ? v : text(v)]);
        return cell;
      }));
      if (opts.onRow) { tr.classList.add("clickable"); tr.addEventListener("click", function () { opts.onRow(r); }); }
      return tr;
    }));
    return h("div", { class: "scroll" + (opts.scrollY ? " scroll-y" : "") }, h("table", { class: "data" }, thead, tbody));
  }
  function sec(doc, name) {
    if (!doc || !doc.sections || !doc.sections[name]) return { status: "missing", message: "not in this export", data: null };
    return doc.sections[name];
  }
  function ok(section) { return section && section.status === "ok"; }

  // -- SVG charts -------------------------------------------------------------------------------------
  function hbars(items, opts) {
    // items: [{label, value, color?, note?}]
    opts = opts || {};
    var rowH = 22, labelW = opts.labelWidth || 170, width = Math.max(420, opts.width || 640), valueW = 110;
    var height = items.length * rowH + 8;
    var max = Math.max.apply(null, items.map(function (i) { return Math.abs(i.value) || 0; }).concat([1e-12]));
    var svg = s("svg", { class: "chart-svg", viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-label": opts.aria || "bar chart" });
    items.forEach(function (it, i) {
      var y = 4 + i * rowH;
      var w = Math.max(1, (width - labelW - valueW) * (Math.abs(it.value) || 0) / max);
      var g = s("g", null);
      g.appendChild(s("text", { x: labelW - 6, y: y + 14, "text-anchor": "end", text: it.label }));
      g.appendChild(s("rect", { x: labelW, y: y + 3, width: w, height: rowH - 8, rx: 2, fill: it.color || PALETTE[0] },
        s("title", { text: it.label + ": " + (it.note || fmt(it.value)) })));
      g.appendChild(s("text", { x: labelW + w + 5, y: y + 14, class: "muted", text: it.note || fmt(it.value) }));
      svg.appendChild(g);
    });
    return svg;
  }

  function lineChart(series, opts) {
    // series: [{name, color, points: [{x: Date|number, y}], band?: [{x, lo, hi}] (a shaded interval)}]
    opts = opts || {};
    var W = Math.max(420, opts.width || 900), H = opts.height || 300, m = { l: 56, r: 16, t: 12, b: 28 };
    var xs = [], ys = [];
    series.forEach(function (se) {
      se.points.forEach(function (p) { xs.push(+p.x); ys.push(p.y); });
      (se.band || []).forEach(function (b) { xs.push(+b.x); ys.push(b.lo, b.hi); });
    });
    if (isNum(opts.baseline)) ys.push(opts.baseline);
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (x0 === x1) { x1 = x0 + 1; }
    if (y0 === y1) { y0 -= 0.01; y1 += 0.01; }
    var pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
    function X(v) { return m.l + (W - m.l - m.r) * (+v - x0) / (x1 - x0); }
    function Y(v) { return H - m.b - (H - m.t - m.b) * (v - y0) / (y1 - y0); }
    var svg = s("svg", { class: "chart-svg", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.aria || "line chart" });
    var grid = s("g", { class: "grid" }), axis = s("g", { class: "axis" });
    for (var i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4;
      grid.appendChild(s("line", { x1: m.l, x2: W - m.r, y1: Y(yv), y2: Y(yv) }));
      axis.appendChild(s("text", { x: m.l - 6, y: Y(yv) + 4, "text-anchor": "end", class: "muted", text: fmt(yv, 3) }));
    }
    // as many x labels as fit side by side (about 6.6 px a character at 11 px, plus a gap): none overlaps
    var xLabel = function (v) { return opts.timeAxis ? new Date(v).toISOString().slice(5, 16).replace("T", " ") : fmt(v, 0); };
    var widest = Math.max(xLabel(x0).length, xLabel(x1).length) * 6.6 + 24;
    var nX = Math.max(1, Math.min(4, Math.floor((W - m.l - m.r) / widest)));
    for (var j = 0; j <= nX; j++) {
      var xv = x0 + (x1 - x0) * j / nX;
      axis.appendChild(s("text", { x: X(xv), y: H - 8, "text-anchor": j === 0 ? "start" : j === nX ? "end" : "middle",
        class: "muted", text: xLabel(xv) }));
    }
    if (isNum(opts.baseline)) {
      grid.appendChild(s("line", { x1: m.l, x2: W - m.r, y1: Y(opts.baseline), y2: Y(opts.baseline),
        stroke: "#6b7785", "stroke-dasharray": "4 4" }));
    }
    svg.appendChild(grid); svg.appendChild(axis);
    svg.appendChild(s("rect", { class: "plot-area", x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b,
      fill: "none", stroke: "none" }));
    series.forEach(function (se) {
      // one polygon per run of consecutive windows that have an interval (a gap where a window has none)
      var runs = [], run = [];
      (se.band || []).forEach(function (b) {
        if (isNum(b.lo) && isNum(b.hi)) run.push(b); else if (run.length) { runs.push(run); run = []; }
      });
      if (run.length) runs.push(run);
      runs.forEach(function (r) {
        var pts = r.map(function (b) { return X(b.x).toFixed(1) + "," + Y(b.hi).toFixed(1); })
          .concat(r.slice().reverse().map(function (b) { return X(b.x).toFixed(1) + "," + Y(b.lo).toFixed(1); }));
        svg.appendChild(s("polygon", { points: pts.join(" "), fill: se.color, "fill-opacity": 0.18, stroke: "none",
          class: "band" }, s("title", { text: se.bandName || se.name + " interval" })));
      });
    });
    series.forEach(function (se) {
      var d = se.points.map(function (p, k) { return (k ? "L" : "M") + X(p.x).toFixed(1) + "," + Y(p.y).toFixed(1); }).join("");
      svg.appendChild(s("path", { d: d, fill: "none", stroke: se.color, "stroke-width": se.width || 1.8,
        "stroke-dasharray": se.dash || null, "stroke-opacity": se.opacity || null, class: "line",
        "data-series": se.id || null }, s("title", { text: se.name })));
    });
    return svg;
  }

  function heatmap(rowsLabels, colLabels, cell, opts) {
    // cell(r, c) -> {fill, label, title} | null
    opts = opts || {};
    var cw = opts.cellW || 64, ch = opts.cellH || 26;
    var longest = Math.max.apply(null, colLabels.map(function (c) { return short(c).length; }).concat([4]));
    var top = Math.min(150, 22 + longest * 4.6);
    var lw = Math.min(opts.labelWidth || 190, 16 + Math.max.apply(null, rowsLabels.map(function (r) { return short(r).length; }).concat([4])) * 6.6);
    var W = lw + colLabels.length * cw + longest * 5 + 8, H = top + rowsLabels.length * ch + 6;
    var svg = s("svg", { class: "chart-svg", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.aria || "heatmap",
      style: { "max-width": W * 1.25 + "px" } });
    colLabels.forEach(function (c, j) {
      var x = lw + j * cw + cw / 2;
      svg.appendChild(s("text", { x: x - 4, y: top - 8, transform: "rotate(-35 " + (x - 4) + " " + (top - 8) + ")", text: short(c) },
        s("title", { text: c })));
    });
    rowsLabels.forEach(function (r, i) {
      var y = top + i * ch;
      svg.appendChild(s("text", { x: lw - 6, y: y + ch / 2 + 4, "text-anchor": "end", text: short(r) }, s("title", { text: r })));
      colLabels.forEach(function (c, j) {
        var v = cell(i, j);
        var x = lw + j * cw;
        var fill = v ? v.fill : "#f1f3f5";
        var g = s("g", null,
          s("rect", { x: x + 1, y: y + 1, width: cw - 2, height: ch - 2, rx: 3, fill: fill, stroke: "#ffffff",
            "data-status": v && v.status ? v.status : null },
            s("title", { text: v ? v.title : r + " · " + c + ": no value" })));
        g.appendChild(s("text", { x: x + cw / 2, y: y + ch / 2 + 4, "text-anchor": "middle",
          fill: v ? inkOn(fill) : "#8a949e", style: { "font-size": "10.5px" }, text: v ? v.label : "–" }));
        svg.appendChild(g);
      });
    });
    return svg;
  }

  // -- panels ------------------------------------------------------------------------------------------------
  function renderStatus(body, D) {
    var wf = sec(D.manifest, "workflows");
    if (!ok(wf) || !wf.data.length) { body.appendChild(emptyState(wf, "No workflow has run yet")); return false; }
    var gen = D.manifest.generated_at;
    body.appendChild(h("div", { class: "cards" }, wf.data.map(function (w) {
      return h("article", { class: "card " + slug(w.status), "data-workflow": w.workflow },
        h("h3", null, h("span", null, w.workflow), badge(w.status)),
        h("div", { class: "when", title: text(w.last_run) }, "last run: ", fmtTime(w.last_run), " (", ago(w.last_run, gen), ")"),
        h("p", { class: "detail" }, text(w.detail)));
    })));
    return true;
  }

  function renderPipeline(body, D) {
    var doc = D.pipeline_health;
    var layers = sec(doc, "layers"), q = sec(doc, "quarantine"), fresh = sec(doc, "freshness");
    var cq = sec(doc, "collector_quarantine"), coll = sec(doc, "collectors");
    var any = false;
    var left = h("div", null, h("h3", { class: "sub" }, "Rows per layer"));
    if (ok(layers)) {
      any = true;
      left.appendChild(hbars(layers.data.map(function (l, i) {
        return { label: l.key, value: l.rows || 0, color: l.exists ? PALETTE[i % 2 === 0 ? 0 : 4] : "#c8ced4",
          note: l.exists ? fmtInt(l.rows) + (l.rows === 1 ? " row" : " rows") + " · v" + l.version : "not created" };
      }), { aria: "rows per layer", labelWidth: 190, width: left.clientWidth || body.clientWidth / 2 }));
    } else left.appendChild(emptyState(layers));
    var right = h("div", null, h("h3", { class: "sub" }, "Quarantine by rule"));
    if (ok(q) || (q.data && q.status === "empty")) {
      any = any || ok(q);
      var share = q.data.share;
      var level = !isNum(share) ? "missing" : share >= q.data.thresholds.alert_share ? "alert" :
        share >= q.data.thresholds.warn_share ? "warn" : "ok";
      right.appendChild(h("p", null, badge(level, fmtInt(q.data.total) + " quarantined · " + fmtPct(share) + " of rows"),
        " warn at ", fmtPct(q.data.thresholds.warn_share, 0), ", alert at ", fmtPct(q.data.thresholds.alert_share, 0)));
      if (q.data.by_rule.length) {
        right.appendChild(table([
          { label: "rule", value: function (r) { return h("code", null, r.rule); } },
          { label: "rows", num: true, value: function (r) { return fmtInt(r.rows); } }
        ], q.data.by_rule));
      }
    } else right.appendChild(emptyState(q));
    if (q.data && q.data.latest && q.data.latest.length) {
      right.appendChild(h("h3", { class: "sub" }, "Latest quarantined rows"));
      right.appendChild(table([
        { label: "source", value: function (r) { return r.source; } },
        { label: "symbol", value: function (r) { return h("span", { class: "symbol-name" }, text(r.symbol)); } },
        { label: "price", num: true, value: function (r) { return fmt(r.price, 4); } },
        { label: "event time", value: function (r) { return fmtTime(r.ts); } },
        { label: "rules", wrap: true, value: function (r) { return r.rules.join(", "); } }
      ], q.data.latest, { scrollY: true }));
    }
    right.appendChild(h("h3", { class: "sub" }, "Collector quarantine (malformed messages)"));
    if (ok(cq)) {
      right.appendChild(table([
        { label: "source", value: function (r) { return r.source; } },
        { label: "reason", value: function (r) { return r.reason; } },
        { label: "rows", num: true, value: function (r) { return fmtInt(r.rows); } }
      ], cq.data));
    } else right.appendChild(emptyState(cq, cq.status === "empty" ? "Nothing quarantined by the collectors" : undefined));
    body.appendChild(h("div", { class: "row" }, left, right));

    body.appendChild(h("h3", { class: "sub" }, "Freshness per source"));
    if (ok(fresh)) {
      any = true;
      body.appendChild(table([
        { label: "source", value: function (r) { return r.source; } },
        { label: "status", value: function (r) { return badge(r.status); } },
        { label: "rows", num: true, value: function (r) { return fmtInt(r.rows); } },
        { label: "first event", value: function (r) { return fmtTime(r.first_event); } },
        { label: "latest event", value: function (r) { return fmtTime(r.latest_event); } },
        { label: "latest ingest", value: function (r) { return fmtTime(r.latest_ingest); } },
        { label: "ingest age", num: true, value: function (r) { return isNum(r.ingest_age_hours) ? fmt(r.ingest_age_hours, 2) + " h" : "–"; } }
      ], fresh.data));
    } else body.appendChild(emptyState(fresh));
    var runs = sec(doc, "runs");
    body.appendChild(h("h3", { class: "sub" }, "Pipeline runs"));
    if (ok(runs)) {
      any = true;
      body.appendChild(table([
        { label: "started", value: function (r) { return fmtTime(r.started_at); } },
        { label: "mode", value: function (r) { return r.mode; } },
        { label: "files", num: true, value: function (r) { return fmtInt(r.files_ingested); } },
        { label: "bronze +", num: true, value: function (r) { return fmtInt(r.bronze_rows); } },
        { label: "silver +", num: true, value: function (r) { return fmtInt(r.silver_inserted); } },
        { label: "quarantine +", num: true, value: function (r) { return fmtInt(r.quarantine_inserted); } },
        { label: "gold rows", num: true, value: function (r) { return fmtInt(r.gold_rows_written); } },
        { label: "seconds (b/s/g)", num: true, value: function (r) {
          return [r.seconds_bronze, r.seconds_silver, r.seconds_gold].map(function (x) { return fmt(x, 1); }).join(" / "); } }
      ], runs.data, { scrollY: true }));
    } else body.appendChild(emptyState(runs));
    body.appendChild(h("h3", { class: "sub" }, "Collector counters"));
    if (ok(coll)) {
      body.appendChild(table([
        { label: "window", value: function (r) { return r.window; } },
        { label: "source", value: function (r) { return r.source; } },
        { label: "landed trades", num: true, value: function (r) { return fmtInt(r.trades); } },
        { label: "bars", num: true, value: function (r) { return fmtInt(r.bars); } },
        { label: "quarantined", num: true, value: function (r) { return fmtInt(r.quarantined); } },
        { label: "reconnects", num: true, value: function (r) { return fmtInt(r.reconnects); } },
        { label: "rate-limited", num: true, value: function (r) { return fmtInt(r.rate_limited); } },
        { label: "recorded", value: function (r) { return fmtTime(r.recorded_at) + (r.reused ? " (reused)" : ""); } }
      ], coll.data));
    } else body.appendChild(emptyState(coll));
    return any;
  }

  function genericTable(rows, preferred, maxCols) {
    var keys = [];
    preferred.forEach(function (k) { if (rows.some(function (r) { return r[k] !== undefined; })) keys.push(k); });
    rows.forEach(function (r) {
      Object.keys(r).forEach(function (k) {
        var v = r[k];
        if (keys.indexOf(k) < 0 && keys.length < maxCols && (v === null || typeof v !== "object")) keys.push(k);
      });
    });
    return table(keys.map(function (k) {
      return { label: k, num: rows.every(function (r) { return r[k] === null || r[k] === undefined || isNum(r[k]); }),
        wrap: true, value: function (r) {
          var v = r[k];
          if (isNum(v)) return Number.isInteger(v) ? fmtInt(v) : fmt(v, 4);
          if (v !== null && typeof v === "object") return JSON.stringify(v);
          if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return fmtTime(v);
          return v;
        } };
    }), rows, { scrollY: true });
  }

  var marketChart = null;
  // Candlestick marker labels: lightweight-charts draws them in its layout font (12 px); labels on one side of
  // the bars closer than their half-widths plus MARKER_GAP merge into one count marker ("M ×5").
  var MARKER_FONT = "12px system-ui, DejaVu Sans, Arial, sans-serif", MARKER_GAP = 6, measureCtx = null;
  function textWidth(t) {
    measureCtx = measureCtx || document.createElement("canvas").getContext("2d");
    measureCtx.font = MARKER_FONT;
    return measureCtx.measureText(t).width;
  }
  function renderMarket(body, D) {
    var bars = sec(D.market, "bars"), top = sec(D.market, "top_anomalies");
    if (!ok(bars) || !bars.data.symbols.length) { body.appendChild(emptyState(bars, "No bars yet")); return false; }
    var symbols = bars.data.symbols;
    var select = h("select", { id: "symbol-select", "aria-label": "symbol" });
    symbols.forEach(function (sym, i) {
      select.appendChild(h("option", { value: String(i) }, sym.symbol + " (" + sym.asset_class + ")"));
    });
    var info = h("span", { class: "legend", id: "market-info" });
    var legend = h("div", { class: "legend" },
      h("span", null, h("span", { class: "sw up" }), "up bar"), h("span", null, h("span", { class: "sw down" }), "down bar"),
      h("span", null, h("span", { class: "sw vol" }), "volume"),
      h("span", null, h("span", { class: "sw flag" }), "▼ model flag (v" + text(D.market.prediction_model_version) + ")"),
      h("span", null, h("span", { class: "sw truth" }), "● ground truth"),
      h("span", null, "■ M ×n / GT ×n: markers too close to label apart at this zoom (zoom in, or hover for details)"));
    var chartBox = h("div", { class: "chart", id: "candles", role: "img", "aria-label": "candlestick chart" });
    body.appendChild(h("div", { class: "toolbar" }, h("label", { for: "symbol-select" }, "Symbol"), select, info));
    body.appendChild(chartBox);
    body.appendChild(legend);
    var current = h("p", { class: "legend", id: "market-symbol" });
    body.appendChild(current);

    function show(i, focusT) {
      var sym = symbols[i];
      current.replaceChildren("Showing ", h("span", { class: "symbol-name", "data-symbol": sym.symbol }, sym.symbol),
        " · ", fmtInt(sym.bars.t.length), " bars", sym.truncated ? " (latest of " + fmtInt(sym.bars_total) + ")" : "",
        " · from ", text(sym.origin));
      info.replaceChildren(fmtInt(sym.model_flags.length) + " model flags · " + fmtInt(sym.ground_truth.length) + " ground-truth bars");
      drawCandles(chartBox, sym, focusT);
    }
    select.addEventListener("change", function () { show(+select.value); });
    show(0);

    body.appendChild(h("h3", { class: "sub" }, "Top anomalies (by champion score)"));
    if (ok(top) && top.data.length) {
      body.appendChild(table([
        { label: "symbol", value: function (r) { return h("span", { class: "symbol-name" }, r.symbol); } },
        { label: "bar (UTC)", value: function (r) { return fmtTime(r.bar_start); } },
        { label: "score", num: true, value: function (r) { return fmt(r.score, 4); } },
        { label: "flagged", value: function (r) { return r.flagged === null ? "–" : r.flagged ? badge("alert", "flagged") : badge("info", "below threshold"); } },
        { label: "ground truth", value: function (r) { return r.ground_truth === null ? "unknown" : r.ground_truth ? badge("ok", "true anomaly") : badge("missing", "not labelled"); } },
        { label: "types", value: function (r) { return r.anomaly_types.join(", "); } }
      ], top.data, {
        scrollY: true,
        onRow: function (r) {
          var idx = symbols.findIndex(function (x) { return x.symbol === r.symbol; });
          if (idx >= 0) { select.value = String(idx); show(idx, r.t); chartBox.scrollIntoView({ block: "nearest" }); }
        }
      }));
    } else body.appendChild(emptyState(top, "No scored predictions yet"));
    return true;
  }

  function drawCandles(box, sym, focusT) {
    var LC = window.LightweightCharts;
    box.replaceChildren();
    if (marketChart) { marketChart.remove(); marketChart = null; }
    if (!LC || !LC.createChart) {
      box.appendChild(emptyState({ status: "error", message: "vendor/lightweight-charts is missing next to index.html" },
        "Chart library not found"));
      return;
    }
    var chart = LC.createChart(box, {
      autoSize: true,
      layout: { background: { type: "solid", color: "#ffffff" }, textColor: "#1d232b", attributionLogo: true,
        fontFamily: "system-ui, DejaVu Sans, Arial, sans-serif" },
      grid: { vertLines: { color: "#f0f2f4" }, horzLines: { color: "#f0f2f4" } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#cfd6dd" },
      rightPriceScale: { borderColor: "#cfd6dd" },
      localization: { timeFormatter: function (t) { return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC"; } }
    });
    marketChart = chart;
    var candles = chart.addSeries(LC.CandlestickSeries, {
      upColor: "#0072B2", downColor: "#D55E00", borderUpColor: "#0072B2", borderDownColor: "#D55E00",
      wickUpColor: "#0072B2", wickDownColor: "#D55E00",
      priceFormat: { type: "price", precision: sym.bars.c[0] < 10 ? 4 : 2, minMove: sym.bars.c[0] < 10 ? 0.0001 : 0.01 }
    });
    var b = sym.bars, data = [], vol = [];
    for (var i = 0; i < b.t.length; i++) {
      if (!isNum(b.o[i]) || !isNum(b.h[i]) || !isNum(b.l[i]) || !isNum(b.c[i])) continue;
      data.push({ time: b.t[i], open: b.o[i], high: b.h[i], low: b.l[i], close: b.c[i] });
      if (b.v.length) vol.push({ time: b.t[i], value: isNum(b.v[i]) ? b.v[i] : 0,
        color: b.c[i] >= b.o[i] ? "rgba(0,114,178,0.35)" : "rgba(213,94,0,0.35)" });
    }
    candles.setData(data);
    if (vol.length) {
      var volume = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "",
        lastValueVisible: false, priceLineVisible: false });
      volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
      candles.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: 0.25 } });
      volume.setData(vol);
    }
    var times = {};
    data.forEach(function (d, k) { times[d.time] = k + 1; });  // bar index + 1 (0 = not a bar)
    var markers = [];
    sym.model_flags.forEach(function (f) {
      if (times[f.t]) markers.push({ time: f.t, index: times[f.t] - 1, position: "aboveBar", kind: "flag",
        text: "M" + (isNum(f.score) ? " " + (f.score >= 0.01 ? f.score.toFixed(2) : f.score.toPrecision(2)) : ""),
        detail: "▼ model flag · " + fmtTime(new Date(f.t * 1000).toISOString()) + (isNum(f.score) ? " · score " + fmt(f.score, 3) : "") });
    });
    sym.ground_truth.forEach(function (g) {
      if (times[g.t]) markers.push({ time: g.t, index: times[g.t] - 1, position: "belowBar", kind: "truth",
        text: "GT " + g.types.map(function (x) { return GT_SHORT[x] || String(x); }).join("+"),
        detail: "● ground truth · " + fmtTime(new Date(g.t * 1000).toISOString()) + " · " + g.types.join(", ") +
          (isNum(g.trades) ? " (" + g.trades + " trade" + (g.trades === 1 ? "" : "s") + ")" : "") });
    });
    markers.sort(function (a, c) { return a.time - c.time; });
    var layer = markers.length && LC.createSeriesMarkers ? LC.createSeriesMarkers(candles, []) : null;
    var shown = [];
    var tip = h("div", { class: "marker-tip", role: "tooltip", hidden: true });
    box.appendChild(tip);
    function layoutMarkers() {
      if (!layer) return;
      var ts = chart.timeScale(), range = ts.getVisibleLogicalRange(), width = ts.width();
      if (!range || !width) return;
      var pxPerBar = width / Math.max(1e-9, range.to - range.from);
      shown = [];
      ["aboveBar", "belowBar"].forEach(function (side) {
        var groups = markers.filter(function (m) { return m.position === side; }).map(function (m) { return [m]; });
        // merge neighbours until no two labels on this side overlap (a count replaces a cluster's labels)
        for (var changed = true; changed;) {
          changed = false;
          var items = groups.map(markerItem);
          for (var k = 1; k < items.length; k++) {
            if (items[k].x - items[k - 1].x < (items[k].w + items[k - 1].w) / 2 + MARKER_GAP) {
              groups.splice(k - 1, 2, groups[k - 1].concat(groups[k]));
              changed = true;
              break;
            }
          }
        }
        groups.map(markerItem).forEach(function (it) { shown.push(it); });
      });
      function markerItem(group) {
        var mid = group[Math.floor((group.length - 1) / 2)], first = group[0];
        var label = group.length === 1 ? first.text : (first.kind === "flag" ? "M ×" : "GT ×") + group.length;
        var x = mid.index * pxPerBar;  // where the chart draws it: at the middle member's bar
        return { time: mid.time, x: x, w: Math.max(textWidth(label), 10), text: label, position: first.position, members: group };
      }
      shown.sort(function (a, c) { return a.time - c.time; });
      // A label above one bar can still meet a label below a neighbouring bar whose low is near that high: the
      // ground-truth label then gives way (its marker stays, hover still lists it). Label boxes are estimated
      // from the bar's high/low on the price scale: the chart puts a label about 8-36 px beyond the bar.
      shown.forEach(function (it) {
        var bar = data[it.members[Math.floor((it.members.length - 1) / 2)].index];
        var y = candles.priceToCoordinate(it.position === "aboveBar" ? bar.high : bar.low);
        it.y0 = y === null ? null : it.position === "aboveBar" ? y - 36 : y + 8;
        it.label = true;
      });
      var above = shown.filter(function (it) { return it.position === "aboveBar" && it.y0 !== null; });
      shown.forEach(function (it) {
        if (it.position !== "belowBar" || it.y0 === null) return;
        it.label = !above.some(function (a) {
          return Math.abs(a.x - it.x) < (a.w + it.w) / 2 + MARKER_GAP && Math.abs(a.y0 - it.y0) < 28 + 2;
        });
      });
      layer.setMarkers(shown.map(function (it) {
        var flag = it.members[0].kind === "flag", many = it.members.length > 1;
        return { time: it.time, position: it.position, text: it.label ? it.text : "", color: flag ? "#CC79A7" : "#E69F00",
          shape: many ? "square" : flag ? "arrowDown" : "circle" };
      }));
      box.setAttribute("data-marker-groups", String(shown.length));
    }
    function showTip(param) {
      if (!param || !param.point || param.time === undefined) { tip.hidden = true; return; }
      var ts = chart.timeScale(), near = [];
      shown.forEach(function (it) {
        var x = ts.timeToCoordinate(it.time);
        if (x !== null && Math.abs(x - param.point.x) <= Math.max(8, it.w / 2)) near = near.concat(it.members);
      });
      if (!near.length) { tip.hidden = true; return; }
      near.sort(function (a, c) { return a.time - c.time; });
      var lines = near.slice(0, 10).map(function (m) { return h("div", { class: "tip-line " + m.kind }, m.detail); });
      if (near.length > 10) lines.push(h("div", { class: "tip-line" }, "+ " + (near.length - 10) + " more (zoom in)"));
      tip.replaceChildren.apply(tip, lines);
      tip.hidden = false;
      var left = Math.min(Math.max(0, param.point.x + 14), Math.max(0, box.clientWidth - tip.offsetWidth - 4));
      tip.style.left = left + "px";
      tip.style.top = Math.max(0, Math.min(param.point.y + 14, box.clientHeight - tip.offsetHeight - 4)) + "px";
    }
    var pending = null;
    function schedule() {
      if (pending !== null) return;
      pending = window.requestAnimationFrame(function () { pending = null; layoutMarkers(); });
    }
    if (layer) {
      chart.timeScale().subscribeVisibleLogicalRangeChange(schedule);
      chart.timeScale().subscribeSizeChange(schedule);
      chart.subscribeCrosshairMove(showTip);
    }
    if (focusT && data.length) {
      var idx = data.findIndex(function (d) { return d.time >= focusT; });
      if (idx >= 0) chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, idx - 60), to: idx + 30 });
    } else chart.timeScale().fitContent();
    box.setAttribute("data-bars", String(data.length));
    box.setAttribute("data-markers", String(markers.length));
    window.FIN_MLOPS_DEBUG = window.FIN_MLOPS_DEBUG || {};
    window.FIN_MLOPS_DEBUG.market = {
      chart: chart, font: MARKER_FONT, relayout: layoutMarkers,
      shown: function () {
        var ts = chart.timeScale();
        return shown.map(function (it) {
          return { time: it.time, x: ts.timeToCoordinate(it.time), text: it.label ? it.text : "", position: it.position,
            count: it.members.length, y0: it.y0 };
        });
      }
    };
  }

  function renderLeaderboard(body, D) {
    var runs = sec(D.leaderboard, "runs");
    if (!ok(runs) || !runs.data.length) { body.appendChild(emptyState(runs, "No tournament yet")); return false; }
    var primary = D.leaderboard.primary_metric;
    var select = h("select", { "aria-label": "tournament run" });
    runs.data.forEach(function (r, i) {
      select.appendChild(h("option", { value: String(i) }, (i === 0 ? "latest · " : "") + text(r.run_id) + " · " + fmtTime(r.created_at)));
    });
    var holder = h("div", null);
    function show(i) {
      var run = runs.data[i];
      var metrics = ["pr_auc", "roc_auc", "f1", "precision_at_k", "recall_at_fpr", "inference_rows_per_s"];
      var labels = { pr_auc: "PR-AUC", roc_auc: "ROC-AUC", f1: "F1", precision_at_k: "P@k", recall_at_fpr: "R@FPR", inference_rows_per_s: "rows/s" };
      var cols = [
        { label: "#", num: true, value: function (m) { return m.rank === null ? "–" : fmtInt(m.rank); } },
        { label: "model", value: function (m) { return h("span", null, m.model, m.is_winner ? " " : "", m.is_winner ? badge("ok", "winner") : null); } },
        { label: "status", value: function (m) { return badge(m.status === "ok" ? "ok" : "alert", m.status); } }
      ];
      metrics.forEach(function (k) {
        cols.push({ label: labels[k] + (k === primary ? " ★" : ""), num: true, value: function (m) {
          return k === "inference_rows_per_s" ? fmtInt(m.metrics[k]) : fmt(m.metrics[k], 3); } });
      });
      cols.push({ label: "error", wrap: true, value: function (m) { return m.error; } });
      holder.replaceChildren(
        h("p", { class: "legend" }, "Run ", h("code", null, text(run.run_id)), " · ", fmtTime(run.created_at),
          " · winner ", h("strong", null, text(run.winner)), " by ", primary),
        table(cols, run.models, { rowClass: function (m) { return m.is_winner ? "winner" : m.status !== "ok" ? "failed" : null; } }));
    }
    select.addEventListener("change", function () { show(+select.value); });
    body.appendChild(h("div", { class: "toolbar" }, h("label", null, "Run"), select));
    body.appendChild(holder);
    show(0);
    return true;
  }

  // training_runs: the latest attempt's outcome, or why it did not train and what to do about it (no dead ends)
  function renderTraining(body, tr, fb) {
    body.appendChild(h("h3", { class: "sub" }, "Training"));
    // analyst verdicts are labels whether or not training has run yet
    var feedback = fb && fb.data ? h("p", { class: "legend feedback" }, "Analyst feedback: ",
      fmtInt(fb.data.confirmed), " confirmed · ", fmtInt(fb.data.dismissed), " dismissed") : null;
    if (!ok(tr) || !tr.data.length) {
      body.appendChild(emptyState(tr, "No training attempt yet"));
      if (feedback) body.appendChild(feedback);
      return false;
    }
    var last = tr.data[0], trained = last.status !== "not_trained";
    var sources = function (d) {
      var ls = d.label_sources || {};
      return Object.keys(ls).sort().map(function (k) { return k + " " + fmtInt(ls[k]); }).join(" · ") || "–";
    };
    body.appendChild(h("p", { class: "training-latest", "data-status": text(last.status) },
      badge(trained ? "ok" : "warn", trained ? "trained" : "not trained"), " ", fmtTime(last.at), " · ",
      trained ? ["winner ", h("strong", null, text(last.winner)), " · held-out PR-AUC ", fmt(last.test_pr_auc, 3),
        " · ", text(last.status)] : h("span", { class: "reason" }, text(last.reason))));
    if (!trained && last.remedy) body.appendChild(h("p", { class: "legend remedy" }, "What to do: ", text(last.remedy)));
    body.appendChild(h("p", { class: "legend" }, "Label sources: ", sources(last)));
    if (feedback) body.appendChild(feedback);
    var recall = last.recall_by_type || {};
    ["injected", "ground_truth"].forEach(function (source) {
      var per = recall[source];
      if (!per) return;
      body.appendChild(h("p", { class: "legend recall-by-type", "data-source": source },
        "Champion v" + text(recall.model_version) + " held-out recall on " + source.replace("_", " ") + " anomalies: ",
        Object.keys(per).sort().map(function (k) {
          return k + " " + fmtInt(per[k].flagged) + "/" + fmtInt(per[k].bars) + " (" + fmt(per[k].recall, 2) + ")";
        }).join(" · ")));
    });
    body.appendChild(table([
      { label: "when", value: function (d) { return fmtTime(d.at); } },
      { label: "status", value: function (d) { return d.status; } },
      { label: "winner", value: function (d) { return d.winner || "–"; } },
      { label: "PR-AUC", num: true, value: function (d) { return isNum(d.test_pr_auc) ? fmt(d.test_pr_auc, 3) : "–"; } },
      { label: "labels", wrap: true, value: sources },
      { label: "reason", wrap: true, value: function (d) { return d.reason || ""; } }
    ], tr.data, { scrollY: true }));
    return true;
  }

  function renderChampion(body, D) {
    var reg = sec(D.champion, "registry"), dec = sec(D.champion, "decisions"), rb = sec(D.champion, "rollbacks");
    var any = renderTraining(body, sec(D.champion, "training"), sec(D.champion, "feedback"));
    body.appendChild(h("h3", { class: "sub" }, "Registry aliases"));
    if (ok(reg) && Object.keys(reg.data.aliases).length) {
      any = true;
      body.appendChild(h("p", null, Object.keys(reg.data.aliases).sort().map(function (a) {
        return [h("span", { class: "badge alias" }, "@" + a + " → v" + reg.data.aliases[a]), " "];
      })));
      body.appendChild(h("p", { class: "legend" }, text(reg.data.name), " · ", fmtInt(reg.data.versions.length), " version(s)"));
    } else body.appendChild(emptyState(reg, "No registered model"));
    body.appendChild(h("h3", { class: "sub" }, "Gate decisions"));
    if (ok(dec) && dec.data.length) {
      any = true;
      body.appendChild(timeline(dec.data, rb.data || []));
      body.appendChild(table([
        { label: "when", value: function (d) { return fmtTime(d.at); } },
        { label: "decision", value: function (d) {
          return badge(/promot|deploy|approve/i.test(d.decision) && !d.superseded ? "promote" : "reject",
            d.decision + (d.superseded ? " (cancelled)" : "") + (d.first_deploy ? " · first deploy" : "")); } },
        { label: "champion → challenger", num: true, value: function (d) {
          return isNum(d.challenger_score) ? fmt(d.champion_score, 3) + " → " + fmt(d.challenger_score, 3) : "–"; } },
        { label: "gain [bound]", num: true, value: function (d) {
          // the paired bootstrap's one-sided lower bound is what the gate judges against the margin
          if (!isNum(d.margin)) return "–";
          var gain = (d.margin >= 0 ? "+" : "") + fmt(d.margin, 3);
          if (!isNum(d.margin_lower)) return gain;
          return h("span", { class: "gain", title: text(d.test) },
            gain + " [" + (d.margin_lower >= 0 ? "≥ +" : "≥ ") + fmt(d.margin_lower, 3) + ", " +
            fmtPct(d.confidence, 0) + "; margin " + fmt(d.required_margin, 3) + "]"); } },
        { label: "recall at matched cut", num: true, value: function (d) {
          if (!isNum(d.challenger_matched_recall)) return "–";
          var where = (d.operating_point === "alert_rate" ? "alert rate " : "FPR ") + fmt(d.operating_value, 3);
          return (isNum(d.champion_matched_recall) ? fmt(d.champion_matched_recall, 3) + " → " : "") +
            fmt(d.challenger_matched_recall, 3) + " @ " + where; } },
        { label: "latency", num: true, value: function (d) {
          return isNum(d.challenger_latency_ms) ? fmt(d.challenger_latency_ms, 1) + " ms" +
            (isNum(d.latency_objective_ms) ? " / " + fmt(d.latency_objective_ms, 0) : "") : "–"; } },
        { label: "versions", value: function (d) { return (d.champion_version ? "v" + d.champion_version : "none") + " ← v" + text(d.challenger_version); } },
        { label: "reason", wrap: true, value: function (d) { return d.reason; } }
      ], dec.data.slice().reverse(), { scrollY: true }));
    } else body.appendChild(emptyState(dec, "No gate decision yet"));
    return any;
  }

  function timeline(decisions, rollbacks) {
    var events = decisions.map(function (d) {
      var promoted = /promot|deploy|approve/i.test(d.decision) && !d.superseded;
      return { at: d.at, kind: promoted ? "promote" : "reject", label: d.decision + (d.superseded ? " (cancelled)" : ""),
        detail: d.reason, version: d.challenger_version };
    })
      .concat(rollbacks.map(function (r) { return { at: r.at, kind: "rollback", label: "ROLLBACK", detail: r.reason || r.status, version: r.to_version || r.target_version }; }))
      .filter(function (e) { return e.at; })
      .sort(function (a, b) { return new Date(a.at) - new Date(b.at); });
    var W = 520, H = 110, m = 40;
    var svg = s("svg", { class: "chart-svg", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "champion timeline" });
    svg.appendChild(s("line", { x1: m - 20, x2: W - m + 20, y1: 56, y2: 56, stroke: "#9aa5b1", "stroke-width": 2 }));
    if (!events.length) return svg;
    var t0 = new Date(events[0].at).getTime(), t1 = new Date(events[events.length - 1].at).getTime();
    var colors = { promote: "#009E73", reject: "#D55E00", rollback: "#CC79A7" };
    var shapes = { promote: "▲", reject: "✖", rollback: "↺" };
    events.forEach(function (e, i) {
      var t = new Date(e.at).getTime();
      var x = events.length === 1 ? W / 2 : m + (W - 2 * m) * (t1 === t0 ? i / (events.length - 1) : (t - t0) / (t1 - t0));
      var up = i % 2 === 0;
      var g = s("g", null, s("title", { text: fmtTime(e.at) + " · " + e.label + " · " + text(e.detail) }));
      g.appendChild(s("circle", { cx: x, cy: 56, r: 9, fill: colors[e.kind] }));
      g.appendChild(s("text", { x: x, y: 60, "text-anchor": "middle", fill: "#ffffff", style: { "font-size": "10px", "font-weight": "700" }, text: shapes[e.kind] }));
      g.appendChild(s("text", { x: x, y: up ? 36 : 84, "text-anchor": "middle", style: { "font-weight": "700" }, text: e.label + (e.version ? " v" + e.version : "") }));
      g.appendChild(s("text", { x: x, y: up ? 22 : 98, "text-anchor": "middle", class: "muted", text: fmtTime(e.at).slice(5, 16) }));
      svg.appendChild(g);
    });
    return svg;
  }

  function renderDrift(body, D) {
    var doc = D.drift, psi = sec(doc, "psi_js"), perf = sec(doc, "performance");
    var th = doc ? doc.thresholds : null;
    var any = false;
    if (ok(psi) && psi.data.runs.length) {
      any = true;
      var runs = psi.data.runs, feats = psi.data.features;
      var byKey = {};
      psi.data.cells.forEach(function (c) { byKey[c.run_id + "\u0000" + c.feature] = c; });
      var maxPsi = Math.max(th.psi_alert * 2, Math.max.apply(null, psi.data.cells.map(function (c) { return c.psi || 0; })));
      // The cell's colour says its status (the detector's, the worse of PSI and JS): "ok" a calm pale blue,
      // "warn" amber, "alert" red; the shade deepens with PSI inside each band, so the configured thresholds
      // are where the colour changes, whatever the largest PSI is.
      var bandPos = function (p, lo, hi) { return Math.max(0, Math.min(1, (p - lo) / Math.max(hi - lo, 1e-12))); };
      var driftFill = function (status, p) {
        if (status === "alert") return lerpStops(DRIFT_ALERT, bandPos(p, th.psi_alert, maxPsi));
        if (status === "warn") return lerpStops(DRIFT_WARN, bandPos(p, th.psi_warn, th.psi_alert));
        return lerpStops(DRIFT_OK, bandPos(p, 0, th.psi_warn));
      };
      body.appendChild(h("div", { class: "legend", id: "drift-scale" },
        h("span", { "data-level": "ok" }, "PSI: ", h("span", { class: "sw", style: { background: lerpStops(DRIFT_OK, 0) } }),
          h("span", { class: "sw", style: { background: lerpStops(DRIFT_OK, 1) } }), "ok < " + th.psi_warn),
        h("span", { "data-level": "warn" }, h("span", { class: "sw", style: { background: lerpStops(DRIFT_WARN, 0) } }),
          h("span", { class: "sw", style: { background: lerpStops(DRIFT_WARN, 1) } }), "warn ≥ " + th.psi_warn + " (!)"),
        h("span", { "data-level": "alert" }, h("span", { class: "sw", style: { background: lerpStops(DRIFT_ALERT, 0) } }),
          h("span", { class: "sw", style: { background: lerpStops(DRIFT_ALERT, 1) } }), "alert ≥ " + th.psi_alert + " (✖), darkest at " + fmt(maxPsi, 2)),
        h("span", null, "JS warn ≥ " + th.js_warn + ", alert ≥ " + th.js_alert),
        h("span", null, "run drifts when ≥ " + fmtPct(th.drifted_share_alert, 0) + " of signals alert" +
          " (near-duplicate features, e.g. returns and log_return, are one signal)")));
      var colLabels = runs.map(function (r) { return (r.at ? fmtTime(r.at).slice(5, 16) : text(r.run_id)); });
      body.appendChild(h("div", { class: "scroll" }, heatmap(feats, colLabels, function (i, j) {
        var c = byKey[runs[j].run_id + "\u0000" + feats[i]];
        if (!c || !isNum(c.psi)) return null;
        // The detector's own status (the worse of PSI and JS) decides the mark; thresholds only for old exports.
        var status = c.status === "alert" || c.status === "warn" || c.status === "ok" ? c.status
          : c.psi >= th.psi_alert || (isNum(c.js) && c.js >= th.js_alert) ? "alert"
          : c.psi >= th.psi_warn || (isNum(c.js) && isNum(th.js_warn) && c.js >= th.js_warn) ? "warn" : "ok";
        var level = status === "alert" ? "✖" : status === "warn" ? "!" : "";
        return { fill: driftFill(status, c.psi), status: status, label: fmt(c.psi, 2) + (level ? " " + level : ""),
          title: feats[i] + " · run " + runs[j].run_id + ": PSI " + fmt(c.psi, 4) + ", JS " + fmt(c.js, 4) + " · " + text(c.status) };
      }, { aria: "drift heatmap", cellW: 78, labelWidth: 190 })));
      body.appendChild(table([
        { label: "run", value: function (r) { return h("code", null, text(r.run_id)); } },
        { label: "at", value: function (r) { return fmtTime(r.at); } },
        { label: "drifted features", num: true, value: function (r) { return r.drifted_features + " / " + r.features; } },
        { label: "drifted signals", num: true, value: function (r) {
          return isNum(r.signals) ? r.drifted_signals + " / " + r.signals : "–"; } },
        { label: "share", num: true, value: function (r) { return fmtPct(r.drifted_share, 0); } },
        { label: "decision", value: function (r) { return r.overall ? badge(/^drift|alert/i.test(r.overall) ? "alert" : /no_drift|ok/i.test(r.overall) ? "ok" : "info", r.overall) : "–"; } },
        { label: "windows", wrap: true, value: function (r) { return windowText(r.reference) + " → " + windowText(r.current); } },
        { label: "reason", wrap: true, value: function (r) { return r.reason; } }
      ], runs.slice().reverse()));
    } else body.appendChild(emptyState(psi, "No drift run yet"));
    body.appendChild(h("h3", { class: "sub" }, "Model performance per labelled window"));
    if (ok(perf) && perf.data.length) {
      any = true;
      var pc = (doc && doc.performance_config) || {};
      var band = performanceBand(perf.data, pc);
      if (band) body.appendChild(band);
      body.appendChild(genericTable(perf.data, ["window_start", "window_end", "window", "model_version", "positives",
        "rolling_positives", "rolling_adjusted", "rolling_lower", "rolling_upper", "baseline", "precision", "recall",
        "pr_auc", "n", "rows"], 15));
    } else body.appendChild(emptyState(perf));
    return any;
  }
  // The champion's monitored value per window (at the baseline's anomaly rate) inside its bootstrap interval, with
  // the baseline it is compared to: a point outside the band of the baseline is evidence, one inside it is noise.
  function performanceBand(rows, pc) {
    var latest = rows[rows.length - 1], version = latest.model_version;
    var mine = rows.filter(function (r) { return r.model_version === version && r.window_start; })
      .sort(function (a, b) { return String(a.window_start).localeCompare(String(b.window_start)); });
    var metric = latest.metric || pc.metric || "pr_auc";
    function value(r) { return isNum(r.rolling_adjusted) ? r.rolling_adjusted : r["rolling_" + metric]; }
    var pts = mine.filter(function (r) { return isNum(value(r)); })
      .map(function (r) { return { x: new Date(r.window_start), y: value(r) }; });
    if (!pts.length) return null;
    var bandPts = mine.filter(function (r) { return isNum(value(r)); })
      .map(function (r) { return { x: new Date(r.window_start), lo: r.rolling_lower, hi: r.rolling_upper }; });
    var level = isNum(latest.confidence) ? fmtPct(latest.confidence, 0) : "95%";
    var baseline = isNum(latest.baseline) ? latest.baseline : null;
    var adjusted = isNum(latest.reference_prevalence);
    return h("div", { class: "perf-band", "data-model-version": text(version) },
      h("p", { class: "legend" },
        "champion v" + text(version) + " · rolling " + metric + (adjusted ? " at the baseline's anomaly rate " +
          fmtPct(latest.reference_prevalence, 2) : "") + " · shaded: " + level + " bootstrap interval",
        baseline !== null ? " · dashed: baseline " + fmt(baseline, 3) + " (" + text(latest.baseline_source) + ")" : "",
        isNum(pc.min_positives) ? " · a drop counts only over the whole current window, with ≥ " + pc.min_positives +
          " labelled anomalies, ≥ " + fmt(pc.performance_drop, 2) + " below the baseline and a lower confidence bound" +
          " above zero" : ""),
      lineChart([{ name: "rolling " + metric, color: PALETTE[0], points: pts, band: bandPts,
        bandName: level + " interval" }], { aria: "champion performance with its interval", timeAxis: true,
        baseline: baseline, height: 240 }));
  }
  function windowText(w) {
    if (!w) return "–";
    if (w.start || w.end) return fmtTime(w.start) + " – " + fmtTime(w.end);
    if (w.version !== null && w.version !== undefined) return "v" + w.version;
    return text(w.label);
  }

  function renderAudit(body, D) {
    var doc = D.audit, rt = sec(doc, "retraining"), al = sec(doc, "alerts"), rb = sec(doc, "rollbacks");
    var entries = [];
    function outcome(r) { return r.decision || r.outcome || r.status || r.delivery_status || r.action; }
    function detail(r) {
      var parts = [r.reason, r.title, r.message, r.error].filter(function (x) { return x !== null && x !== undefined && x !== ""; });
      return parts.map(String).join(" · ");
    }
    (ok(rt) ? rt.data : []).forEach(function (r) { entries.push({ kind: "retraining", at: r.at, outcome: outcome(r), detail: detail(r) }); });
    (ok(al) ? al.data : []).forEach(function (r) {
      entries.push({ kind: "alert", at: r.at, outcome: outcome(r), detail: [r.severity, detail(r), isNum(r.attempts) ? r.attempts + " attempt(s)" : null].filter(Boolean).join(" · ") });
    });
    (ok(rb) ? rb.data : []).forEach(function (r) { entries.push({ kind: "rollback", at: r.at, outcome: outcome(r), detail: detail(r) }); });
    entries.sort(function (a, b) { return String(b.at || "").localeCompare(String(a.at || "")); });
    // an alert nobody received (no webhook, or delivery failed) is a warning, never a green chip
    var undelivered = (ok(al) ? al.data : []).filter(function (r) { var s = r.status || r.delivery_status; return s && s !== "delivered"; }).length;
    body.appendChild(h("p", { class: "legend" },
      "retraining: ", badge(rt.status, rt.status === "ok" ? rt.data.length + " event(s)" : rt.status), "  alerts: ",
      badge(al.status === "ok" && undelivered ? "warn" : al.status,
        al.status === "ok" ? al.data.length + " alert(s)" + (undelivered ? ", " + undelivered + " not delivered" : "") : al.status),
      "  rollbacks: ",
      badge(rb.status, rb.status === "ok" ? rb.data.length + " rollback(s)" : rb.status)));
    if (!entries.length) { body.appendChild(emptyState(rt.status === "missing" ? rt : al, "No retraining, alert or rollback recorded")); return false; }
    body.appendChild(table([
      { label: "when", value: function (e) { return fmtTime(e.at); } },
      { label: "kind", value: function (e) { return badge("info", e.kind); } },
      { label: "outcome", value: function (e) {
        var o = String(e.outcome || "");
        var lvl = /fail|error|undeliver/i.test(o) ? "alert" : /not_configured/i.test(o) ? "warn" : /dry_run/i.test(o) ? "info" :
          /trigger|sent|deliver|^ok$|success|rolled|done|launched/i.test(o) ? "ok" : /skip|cooldown|limit/i.test(o) ? "warn" : "info";
        return badge(lvl, o || "–"); } },
      { label: "detail", wrap: true, value: function (e) { return e.detail; } }
    ], entries, { scrollY: true }));
    return true;
  }

  function renderDecision(body, D) {
    var doc = D.decision_matrix, m = sec(doc, "matrix");
    if (!ok(m) || !m.data.rows.length) { body.appendChild(emptyState(m, "No decision matrix yet")); return false; }
    var crits = m.data.criteria, weights = {};
    (doc.criteria || []).forEach(function (c) { weights[c.name] = c.weight; });
    var t = doc.thresholds;
    body.appendChild(h("p", { class: "legend" }, "Run ", h("code", null, text(m.data.run_id)), " · ", fmtTime(m.data.at),
      " · Strong Buy > " + t.strong_buy + " · Buy ≥ " + t.buy + " · Hold ≥ " + t.hold + " · Sell below",
      " · score = direction (trend, momentum, backtest) − risk (volatility, model, drift); a Bearish trend or" +
      " Losing backtest caps it at Hold"));
    var cols = [
      { label: "#", num: true, value: function (r) { return fmtInt(r.rank); } },
      { label: "symbol", value: function (r) { return h("span", { class: "symbol-name" }, r.symbol); } },
      { label: "recommendation", value: function (r) { return recBadge(r.recommendation); } },
      { label: "score", num: true, value: function (r) { return fmt(r.final_score, 2); } },
      { label: "direction", num: true, value: function (r) { return fmt(r.direction_score, 2); } },
      { label: "risk −", num: true, value: function (r) { return fmt(r.risk_penalty, 2); } }
    ];
    var table_ = table(cols.concat(crits.map(function (c) {
      return { label: c + (isNum(weights[c]) ? " (w " + fmt(weights[c], 2) + ")" : ""), value: function () { return ""; } };
    })).concat([{ label: "why", wrap: true, value: function (r) {
      var flags = typeof r.flags === "string" ? r.flags.split(";") : Array.isArray(r.flags) ? r.flags : [];
      return h("span", null, text(r.explanation), flags.filter(Boolean).map(function (f) {
        return [" ", h("span", { class: "badge info", title: f }, String(f).split(":")[0])];
      }));
    } }]),
    m.data.rows);
    // colour the criterion cells (score 1..5 on viridis; the number is always printed)
    var trs = table_.querySelectorAll("tbody tr");
    m.data.rows.forEach(function (r, i) {
      var tds = trs[i].children;
      crits.forEach(function (c, j) {
        var td = tds[cols.length + j], v = r.criteria[c];
        td.classList.add("heat");
        if (!v || !isNum(v.score)) { td.replaceChildren("n/a"); td.title = c + ": missing"; return; }
        var fill = lerpStops(VIRIDIS, (v.score - 1) / 4);
        td.style.background = fill; td.style.color = inkOn(fill);
        td.replaceChildren(fmt(v.score, 0), h("small", null, v.label ? v.label : isNum(v.raw) ? fmt(v.raw, 3) : ""));
        td.title = c + ": raw " + fmt(v.raw, 4) + ", score " + fmt(v.score, 0) + (isNum(v.weight) ? ", weight " + fmt(v.weight, 2) : "");
      });
    });
    body.appendChild(table_);
    body.appendChild(h("div", { class: "legend" }, "score: ", [1, 2, 3, 4, 5].map(function (k) {
      return h("span", null, h("span", { class: "sw", style: { background: lerpStops(VIRIDIS, (k - 1) / 4) } }), String(k));
    })));
    return true;
  }

  // One colour per symbol, the same in every strategy's chart and in the report (reporting/report.py
  // SYMBOL_COLOURS): Okabe & Ito without the yellow that vanishes on white, then Paul Tol's muted set;
  // a 13th symbol reuses a colour with a dotted line.
  var SYMBOL_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
    "#882255", "#44AA99", "#999933", "#332288", "#AA4499"];
  function symbolStyle(i) {
    return { color: SYMBOL_COLOURS[i % SYMBOL_COLOURS.length], dash: i >= SYMBOL_COLOURS.length ? "2 3" : null };
  }

  function renderBacktest(body, D) {
    var r = sec(D.backtest, "results");
    if (!ok(r) || !r.data.rows.length) { body.appendChild(emptyState(r, "No backtest yet")); return false; }
    var rows = r.data.rows;
    var settings = D.backtest.settings || {};
    var strategies = [], symbols = [], bench = {};
    rows.forEach(function (x) {
      if (x.benchmark) bench[x.symbol] = x;
      else if (strategies.indexOf(x.strategy) < 0) strategies.push(x.strategy);
      if (symbols.indexOf(x.symbol) < 0) symbols.push(x.symbol);
    });
    var style = {};
    symbols.forEach(function (sym, i) { style[sym] = symbolStyle(i); });
    body.appendChild(h("p", { class: "legend" }, "Run ", h("code", null, text(r.data.run_id)), " · ", fmtTime(r.data.at),
      settings.mode ? " · " + settings.mode + ", " + settings.commission_bps + " bps commission + " + settings.slippage_bps + " bps slippage" : "",
      " · dashed: buy & hold of the symbol over the same bars and costs"));
    var notes = rows.filter(function (x) { return x.cagr_note; });
    if (notes.length) {
      var days = notes.map(function (x) { return x.trading_days; }).filter(isNum);
      var span = days.length ? Math.min.apply(null, days) + (Math.max.apply(null, days) !== Math.min.apply(null, days) ? "–" + Math.max.apply(null, days) : "") : "too few";
      body.appendChild(h("p", { class: "legend", id: "cagr-rule" }, badge("info", "CAGR n/a"),
        " The bars cover " + span + " trading day(s), under the " + fmt(settings.cagr_min_years, 1) +
        " year(s) backtest.cagr_min_years asks for: compounding so short a period to a year is noise, not a growth rate." +
        " Compare the total return over the period with buy & hold."));
    }
    // the symbol picker is the charts' legend: outside every plot, one entry per symbol
    var picked = {};
    symbols.forEach(function (sym) { picked[sym] = true; });
    var showBench = { on: Object.keys(bench).length > 0 };
    var picker = h("div", { class: "symbol-picker", id: "equity-symbols", role: "group", "aria-label": "symbols shown in the equity charts" });
    symbols.forEach(function (sym) {
      var box = h("input", { type: "checkbox", checked: true, value: String(sym), "aria-label": String(sym) });
      box.addEventListener("change", function () { picked[sym] = box.checked; draw(); });
      var st = style[sym];
      picker.appendChild(h("label", { class: "pick", "data-symbol": sym }, box,
        h("span", { class: "sw line", style: { "border-top-color": st.color, "border-top-style": st.dash ? "dotted" : "solid" } }),
        h("span", { class: "symbol-name" }, sym)));
    });
    if (showBench.on) {
      var bb = h("input", { type: "checkbox", checked: true, id: "equity-bench" });
      bb.addEventListener("change", function () { showBench.on = bb.checked; draw(); });
      picker.appendChild(h("label", { class: "pick bench" }, bb, h("span", { class: "sw line dashed" }), "buy & hold"));
    }
    function setAll(v) {
      picker.querySelectorAll("label.pick:not(.bench) input").forEach(function (el) { el.checked = v; picked[el.value] = v; });
      draw();
    }
    body.appendChild(h("div", { class: "toolbar" }, h("strong", null, "Symbols"), picker,
      h("button", { type: "button", class: "mini", on: { click: function () { setAll(true); } } }, "all"),
      h("button", { type: "button", class: "mini", on: { click: function () { setAll(false); } } }, "none")));
    var holder = h("div", { id: "equity-charts", class: "equity-grid" });
    body.appendChild(holder);
    function curve(x, extra) {
      var useT = x.equity.t.length === x.equity.v.length && x.equity.t.every(Boolean);
      var pts = x.equity.v.map(function (v, k) { return { x: useT ? new Date(x.equity.t[k]).getTime() : k, y: v }; })
        .filter(function (p) { return isNum(p.y); });
      return Object.assign({ points: pts, time: useT }, extra);
    }
    function draw() {
      holder.replaceChildren();
      strategies.forEach(function (st) {
        var mine = rows.filter(function (x) { return x.strategy === st && picked[x.symbol] && x.equity && x.equity.v.length; });
        var series = [];
        mine.forEach(function (x) {
          var s_ = style[x.symbol], b = bench[x.symbol];
          if (showBench.on && b && b.equity && b.equity.v.length) {
            series.push(curve(b, { name: x.symbol + " buy & hold", color: s_.color, dash: "6 4", width: 1.1, opacity: 0.75,
              id: x.symbol + "|benchmark" }));
          }
          series.push(curve(x, { name: x.symbol + " " + st, color: s_.color, dash: s_.dash, id: x.symbol + "|" + st }));
        });
        series = series.filter(function (x) { return x.points.length; });
        var fig = h("figure", { class: "equity-chart", "data-strategy": st });
        var best = mine.slice().sort(function (a, c) { return (c.metrics.total_return || -1e9) - (a.metrics.total_return || -1e9); })[0];
        fig.appendChild(h("figcaption", { class: "sub" }, h("strong", null, st),
          mine.length ? " · " + mine.length + " symbol(s)" + (best ? " · best " + best.symbol + " " + fmtPct(best.metrics.total_return) +
            (isNum(best.benchmark_return) ? " vs B&H " + fmtPct(best.benchmark_return) : "") : "") : ""));
        holder.appendChild(fig);  // in the page first: the chart is drawn for the width its column has
        if (!series.length) {
          fig.appendChild(emptyState({ status: "empty", message: "no symbol selected, or this strategy stored no equity curve" }, "No curve"));
        } else {
          fig.appendChild(lineChart(series, { aria: st + " equity curves", timeAxis: series.every(function (x) { return x.time; }),
            baseline: 1, width: fig.clientWidth || holder.clientWidth || body.clientWidth, height: 260 }));
        }
        fig.setAttribute("data-curves", String(series.filter(function (x) { return !/\|benchmark$/.test(x.id); }).length));
        fig.setAttribute("data-benchmarks", String(series.filter(function (x) { return /\|benchmark$/.test(x.id); }).length));
      });
      holder.setAttribute("data-charts", String(strategies.length));
    }
    draw();
    var mcols = [
      ["total_return", "total return", "pct"], ["benchmark_return", "B&H", "pct", true], ["excess_return", "excess", "pct", true],
      ["cagr", "CAGR", "pct"], ["annual_volatility", "ann. vol", "pct"],
      ["sharpe", "Sharpe", 2], ["sharpe_se", "± SE", 2], ["sharpe_tstat", "t", 2], ["psr", "PSR", 2],
      ["dsr", "DSR", 2], ["deflated_edge", "edge", 2],
      ["sortino", "Sortino", 2], ["max_drawdown", "max DD", "pct"], ["calmar", "Calmar", 2],
      ["win_rate", "win rate", "pct"], ["n_trades", "trades", 0], ["exposure", "exposure", "pct"]
    ];
    var trials = null;
    rows.forEach(function (x) { if (!x.benchmark && x.metrics && isNum(x.metrics.n_trials)) trials = x.metrics.n_trials; });
    body.appendChild(h("p", { class: "legend" }, "PSR: P(Sharpe > 0). DSR: the same, deflated for " +
      (isNum(trials) ? fmtInt(trials) : "all") + " strategy × symbol trials (Bailey & López de Prado); " +
      "edge = DSR of the profits − DSR of the losses, what the decision matrix scores (±0.95: Profitable / Losing). " +
      "B&H = buy & hold of the symbol (not a trial); excess = total return − B&H."));
    var ordered = rows.filter(function (x) { return !x.benchmark; }).concat(rows.filter(function (x) { return x.benchmark; }));
    body.appendChild(table([
      { label: "symbol", value: function (x) { return h("span", { class: "symbol-name" }, x.symbol); } },
      { label: "strategy", value: function (x) { return x.benchmark ? h("span", { class: "badge info" }, text(x.strategy)) : x.strategy; } }
    ].concat(mcols.map(function (c) {
      return { label: c[1], num: true, value: function (x) {
        var v = c[3] ? x[c[0]] : x.metrics[c[0]];
        if (c[0] === "excess_return" && x.benchmark) return "–";
        if ((c[0] === "cagr" || c[0] === "calmar") && !isNum(v) && x.cagr_note) return h("span", { title: x.cagr_note }, "n/a");
        return c[2] === "pct" ? fmtPct(v) : fmt(v, c[2]);
      } };
    })), ordered, { rowClass: function (x) { return x.benchmark ? "benchmark" : null; } }));
    return true;
  }

  function renderImportance(body, D) {
    var f = sec(D.feature_importance, "features");
    if (!ok(f) || !f.data.length) { body.appendChild(emptyState(f, "No feature importance")); return false; }
    body.appendChild(h("p", { class: "legend" }, "Champion model version ", h("code", null, text(D.feature_importance.model_version)),
      " · source: ", text((f.sources || [])[0])));
    var top = f.data.slice(0, 20);
    body.appendChild(hbars(top.map(function (x) {
      return { label: x.feature, value: x.share, note: fmtPct(x.share, 1), color: PALETTE[0] };
    }), { aria: "feature importance", labelWidth: 200, width: body.clientWidth }));
    if (f.data.length > top.length) body.appendChild(h("p", { class: "legend" }, "+ " + (f.data.length - top.length) + " more features"));
    return true;
  }

  function renderCorrelation(body, D) {
    var c = sec(D.correlation, "returns");
    if (!ok(c) || !c.data.symbols.length) { body.appendChild(emptyState(c, "No returns to correlate")); return false; }
    var syms = c.data.symbols;
    body.appendChild(h("div", { class: "scroll" }, heatmap(syms, syms, function (i, j) {
      var v = c.data.matrix[i][j];
      if (!isNum(v)) return null;
      var fill = lerpStops(PUOR, (v + 1) / 2);
      return { fill: fill, label: fmt(v, 2), title: syms[i] + " × " + syms[j] + ": " + fmt(v, 3) + " over " + c.data.n_obs[i][j] + " shared bars" };
    }, { aria: "correlation heatmap", cellW: 58, labelWidth: 190, top: 96 })));
    body.appendChild(h("div", { class: "legend" }, [-1, -0.5, 0, 0.5, 1].map(function (v) {
      return h("span", null, h("span", { class: "sw", style: { background: lerpStops(PUOR, (v + 1) / 2) } }), fmt(v, 1));
    }), h("span", null, text(c.data.method))));
    return true;
  }

  var FLOW_POS = {
    collectors: [0, 0], bronze_trades: [1, 0], silver_trades: [2, 0], gold_trade_features: [3, 0], train_set: [4, 0],
    tournament_results: [5, 0], champion_challenger_audit: [6, 0], silver_trades_quarantine: [2, 1],
    alerts_audit: [3, 1], drift_monitoring: [4, 1], retraining_audit: [5, 1], synthesized_predictions: [6, 2],
    backtest_results: [5, 2], decision_matrix: [4, 2], dashboard: [3, 2]
  };
  function renderDataflow(body, D) {
    var f = sec(D.manifest, "dataflow");
    if (!ok(f) || !f.data.nodes.length) { body.appendChild(emptyState(f, "No table exists yet")); return false; }
    var BW = 150, BH = 48, GX = 40, GY = 34, PAD = 10;
    var pos = {}, extra = 0;
    f.data.nodes.forEach(function (n) {
      var p = FLOW_POS[n.id] || [extra++, 3];
      pos[n.id] = { x: PAD + p[0] * (BW + GX), y: PAD + p[1] * (BH + GY) };
    });
    var maxX = 0, maxY = 0;
    Object.keys(pos).forEach(function (k) { maxX = Math.max(maxX, pos[k].x + BW); maxY = Math.max(maxY, pos[k].y + BH); });
    var svg = s("svg", { class: "chart-svg flow", viewBox: "0 0 " + (maxX + PAD) + " " + (maxY + PAD), role: "img", "aria-label": "data-flow flowchart",
      style: { "min-width": "760px" } });
    svg.appendChild(s("defs", null, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
    function border(a, b) {
      // point where the segment from a's centre towards b's centre leaves a's box
      var cx = a.x + BW / 2, cy = a.y + BH / 2, dx = b.x + BW / 2 - cx, dy = b.y + BH / 2 - cy;
      var sx = dx === 0 ? Infinity : (BW / 2) / Math.abs(dx), sy = dy === 0 ? Infinity : (BH / 2) / Math.abs(dy);
      var k = Math.min(sx, sy);
      return { x: cx + dx * k, y: cy + dy * k };
    }
    f.data.edges.forEach(function (e) {
      var a = pos[e.from], b = pos[e.to];
      if (!a || !b) return;
      var p = border(a, b), q = border(b, a);
      svg.appendChild(s("line", { class: "edge", x1: p.x, y1: p.y, x2: q.x, y2: q.y, "marker-end": "url(#arrow)" }));
    });
    f.data.nodes.forEach(function (n) {
      var p = pos[n.id];
      var missing = n.kind === "table" && !n.exists;
      var g = s("g", { class: "node " + n.kind + (missing ? " missing" : ""), "data-node": n.id },
        s("title", { text: n.id + (n.kind === "table" ? (n.exists ? ": " + fmtInt(n.rows) + " rows, last commit " + fmtTime(n.last_commit) : ": not created yet") : "") }));
      g.appendChild(s("rect", { x: p.x, y: p.y, width: BW, height: BH, rx: 7 }));
      g.appendChild(s("text", { class: "label", x: p.x + BW / 2, y: p.y + 20, "text-anchor": "middle", text: n.label }));
      g.appendChild(s("text", { class: "count", x: p.x + BW / 2, y: p.y + 37, "text-anchor": "middle",
        text: n.kind === "table" ? (n.exists ? fmtInt(n.rows) + " rows" : "not created") : n.id === "dashboard" ? "this page" : "replay / vendors" }));
      svg.appendChild(g);
    });
    body.appendChild(h("div", { class: "scroll" }, svg));
    return true;
  }

  // -- bootstrap -----------------------------------------------------------------------------------------
  var PANELS = [
    ["status", renderStatus], ["pipeline", renderPipeline], ["market", renderMarket], ["leaderboard", renderLeaderboard],
    ["champion", renderChampion], ["drift", renderDrift], ["audit", renderAudit], ["decision", renderDecision],
    ["backtest", renderBacktest], ["importance", renderImportance], ["correlation", renderCorrelation], ["dataflow", renderDataflow]
  ];

  function renderMeta(D) {
    var m = D.manifest, meta = document.getElementById("meta");
    var items = [["env", m.env], ["generated", fmtTime(m.generated_at)], ["champion", m.model_version ? "v" + m.model_version : "none"],
      ["catalog", m.catalog + "." + m.schema], ["engine", m.engine], ["schema", m.schema_version], ["commit", m.git_sha ? String(m.git_sha).slice(0, 10) : "–"]];
    meta.replaceChildren.apply(meta, items.map(function (it) { return h("div", null, h("dt", null, it[0]), h("dd", null, text(it[1]))); }));
    document.getElementById("footer-text").replaceChildren("Generated by ", h("code", null, "fin-mlops dashboard"),
      " at " + fmtTime(m.generated_at) + " from " + text(m.catalog) + "." + text(m.schema) + " (config " + text(m.config_hash) + ").");
    document.title = "financial-ai-mlops · " + text(m.env) + " · " + fmtTime(m.generated_at);
  }

  function banner(msg, isError) {
    var b = document.getElementById("banner");
    b.hidden = false;
    b.className = "banner" + (isError ? " error" : "");
    b.replaceChildren(msg);
  }

  // The empty state of a panel drawn by its own script (alerts.js, collection.js): the same look as the core panels'.
  window.FIN_MLOPS_EMPTY_STATE = emptyState;
  var NO_EXPORT = { status: "missing", message: "no data.js next to this page" };
  window.FIN_MLOPS_NO_EXPORT = NO_EXPORT;

  function render(D) {
    if (!D || !D.manifest) {
      banner("No export loaded. Run `fin-mlops dashboard` and open the index.html it prints (or pass ?data=path/to/data.js).", true);
      PANELS.forEach(function (p) {
        var el = document.getElementById("panel-" + p[0]);
        el.dataset.state = "empty";
        el.querySelector(".panel-body").replaceChildren(emptyState(NO_EXPORT));
      });
      // rendered, without data: the panels with scripts of their own draw their empty state on this signal too
      document.body.setAttribute("data-rendered", "true");
      return;
    }
    var major = String(D.manifest.schema_version || "").split(".")[0];
    if (major !== SUPPORTED_MAJOR) {
      banner("This export uses schema " + text(D.manifest.schema_version) + " but this page reads schema " + SUPPORTED_MAJOR +
        ".x; re-export with the matching fin-mlops version. Panels may be incomplete.", true);
    }
    Object.keys(D).forEach(function (k) {
      if (D[k] && D[k].schema_version && D[k].schema_version !== D.manifest.schema_version) {
        banner("Mixed export: " + k + " has schema " + D[k].schema_version + ", manifest " + D.manifest.schema_version + ".", true);
      }
    });
    renderMeta(D);
    PANELS.forEach(function (p) {
      var el = document.getElementById("panel-" + p[0]);
      var body = el.querySelector(".panel-body");
      body.replaceChildren();
      var has = p[1](body, D);
      el.dataset.state = has ? "data" : "empty";
    });
    document.body.setAttribute("data-rendered", "true");
  }

  // SVG charts are laid out for the width they were drawn at: redraw after a large width change.
  var drawnWidth = 0, resizeTimer = null;
  function watchResize() {
    drawnWidth = window.innerWidth;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        if (window.FIN_MLOPS_DATA && Math.abs(window.innerWidth - drawnWidth) > drawnWidth * 0.15) {
          drawnWidth = window.innerWidth;
          render(window.FIN_MLOPS_DATA);
        }
      }, 200);
    });
  }

  function start() {
    watchResize();
    if (window.FIN_MLOPS_DATA) { render(window.FIN_MLOPS_DATA); return; }
    var param = new URLSearchParams(window.location.search).get("data");
    var src = param && /^[\w./-]+\.js$/.test(param) && param.indexOf("..//") < 0 ? param : "data.js";
    var script = document.createElement("script");
    script.src = src;
    script.onload = function () { render(window.FIN_MLOPS_DATA); };
    script.onerror = function () { render(null); };
    document.head.appendChild(script);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
