/* Recent alerts panel: the streaming scorer's alerts (alerts.json, table anomaly_alerts) with each one's
 * webhook delivery state and analyst verdict, and how to confirm or dismiss it (CLI command and API call).
 *
 * Loaded after app.js; it draws its own panel (#panel-alerts) once app.js has rendered the export
 * (body[data-rendered], set also when there is no export: then it shows the empty state), from the same
 * window.FIN_MLOPS_DATA. Every string from the data is inserted as text
 * (textContent), never as HTML.
 */
(function () {
  "use strict";

  /* Delivery states that mean the webhook did not (certainly) reach the receiver. */
  var UNDELIVERED = { failed: 1, not_configured: 1, rate_limited: 1, unconfirmed: 1, pending: 1, sending: 1 };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function num(v, digits) {
    return typeof v === "number" && isFinite(v) ? v.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
  }
  function when(iso) {
    return typeof iso === "string" ? iso.replace("T", " ") : "–";
  }

  function howTo(r) {
    var box = el("details", "howto");
    box.appendChild(el("summary", null, r.feedback === "open" ? "confirm / dismiss" : "change verdict"));
    box.appendChild(el("code", null, r.confirm_command));
    box.appendChild(el("br"));
    box.appendChild(el("code", null, r.dismiss_command));
    box.appendChild(el("br"));
    var call = r.api_call || {};
    box.appendChild(el("code", null, (call.method || "POST") + " " + (call.path || "/v1/feedback") + " " +
      JSON.stringify(call.body || {})));
    return box;
  }

  function render() {
    var panel = document.getElementById("panel-alerts");
    if (!panel) return;
    var body = panel.querySelector(".panel-body");
    var D = window.FIN_MLOPS_DATA;
    var doc = D && D.alerts;
    var sec = doc && doc.sections && doc.sections.recent;
    body.replaceChildren();
    if (!sec || sec.status !== "ok" || !sec.data || !sec.data.length) {
      // no export at all (no data.js), no alerts.json in it, or nothing recorded: the core panels' empty state
      var why = !D || !D.manifest ? window.FIN_MLOPS_NO_EXPORT
        : sec ? { status: sec.status, message: sec.message || "no alerts yet" }
        : { status: "missing", message: "not in this export" };
      panel.dataset.state = "empty";
      body.appendChild(window.FIN_MLOPS_EMPTY_STATE(why));
      return;
    }
    var table = el("table", "data");
    var head = el("tr");
    ["bar (UTC)", "symbol", "score", "threshold", "model", "webhook", "trade → alert", "verdict", ""].forEach(
      function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var tbody = table.appendChild(el("tbody"));
    sec.data.forEach(function (r) {
      var undelivered = UNDELIVERED[r.delivery_status] === 1;
      var tr = el("tr", "status-" + (undelivered ? "warn" : "ok"));
      tr.dataset.alertId = r.alert_id;
      tr.appendChild(el("td", null, when(r.bar_start)));
      tr.appendChild(el("td", null, r.symbol));
      tr.appendChild(el("td", "num", num(r.score, 3)));
      tr.appendChild(el("td", "num", num(r.threshold, 3)));
      tr.appendChild(el("td", null, "v" + r.model_version));
      var status = el("td", "delivery", r.delivery_status);
      if (r.delivery_error) status.title = r.delivery_error;
      tr.appendChild(status);
      tr.appendChild(el("td", "num", typeof r.trade_to_alert_seconds === "number" ?
        num(r.trade_to_alert_seconds, 1) + " s" : "–"));
      tr.appendChild(el("td", "verdict verdict-" + r.feedback, r.feedback +
        (r.feedback_by ? " (" + r.feedback_by + ")" : "")));
      tr.appendChild(el("td")).appendChild(howTo(r));
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
