"""``manifest.json``: the overview. One status line per workflow (read off the other documents), the
data-flow chart with live row counts, and the list of files with each section's status."""

from __future__ import annotations

from typing import Any

from financial_transactions.reporting.documents.common import DOCUMENTS, ExportContext, Section, guard
from financial_transactions.reporting.documents.pipeline_health import QUARANTINE_ALERT_SHARE, QUARANTINE_WARN_SHARE
from financial_transactions.reporting.sources import Sources

EMPTY_FLOW: dict[str, Any] = {"nodes": [], "edges": []}

#: The data-flow flowchart: (id, label, kind); tables get live row counts.
FLOW_NODES = (
    ("collectors", "collectors", "process"),
    ("bronze_trades", "bronze_trades", "table"),
    ("silver_trades", "silver_trades", "table"),
    ("silver_trades_quarantine", "quarantine", "table"),
    ("gold_trade_features", "gold_trade_features", "table"),
    ("train_set", "train / test sets", "table"),
    ("tournament_results", "tournament", "table"),
    ("champion_challenger_audit", "gate + registry", "table"),
    ("drift_monitoring", "drift monitoring", "table"),
    ("retraining_audit", "retraining trigger", "table"),
    ("alerts_audit", "alerts", "table"),
    ("synthesized_predictions", "predictions", "table"),
    ("backtest_results", "backtest", "table"),
    ("decision_matrix", "decision matrix", "table"),
    ("dashboard", "dashboard", "process"),
)
FLOW_EDGES = (
    ("collectors", "bronze_trades"),
    ("bronze_trades", "silver_trades"),
    ("bronze_trades", "silver_trades_quarantine"),
    ("silver_trades", "gold_trade_features"),
    ("gold_trade_features", "train_set"),
    ("train_set", "tournament_results"),
    ("tournament_results", "champion_challenger_audit"),
    ("gold_trade_features", "drift_monitoring"),
    ("drift_monitoring", "retraining_audit"),
    ("drift_monitoring", "alerts_audit"),
    ("retraining_audit", "tournament_results"),
    ("champion_challenger_audit", "synthesized_predictions"),
    ("synthesized_predictions", "backtest_results"),
    ("backtest_results", "decision_matrix"),
    ("decision_matrix", "dashboard"),
)


def build(ctx: ExportContext, documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest of ``documents`` (every other document, already built)."""
    files = [
        {"kind": kind, "file": f"{kind}.json", "sections": {n: s["status"] for n, s in doc["sections"].items()}}
        for kind, doc in documents.items()
    ]
    return ctx.document(
        "manifest",
        {
            "workflows": guard("workflows", [], lambda: workflows(ctx, documents)),
            "dataflow": guard("dataflow", EMPTY_FLOW, lambda: dataflow(ctx.sources)),
        },
        files=files,
        documents=list(DOCUMENTS),
        symbols=list(ctx.cfg.symbols.all),
    )


def _wf(name: str, status: str, last_run: str | None, detail: str) -> dict[str, Any]:
    return {"workflow": name, "status": status, "last_run": last_run, "detail": detail}


def workflows(ctx: ExportContext, docs: dict[str, dict[str, Any]]) -> Section:
    """One line per workflow: ``ok``, ``warn``, ``alert`` or ``missing`` (not run yet), its last commit and why."""
    src = ctx.sources

    def data(kind: str, name: str) -> Any:
        return docs[kind]["sections"][name]["data"]

    def last(*keys: str) -> str | None:
        stamps = [src.info(k).last_commit for k in keys if src.info(k).exists]
        return max((s for s in stamps if s), default=None)

    out: list[dict[str, Any]] = []
    # ingestion
    fresh = data("pipeline_health", "freshness")
    stale = [r["source"] for r in fresh if r.get("status") == "warn"]
    bronze = src.info("bronze_trades")
    out.append(
        _wf(
            "ingestion",
            "missing" if not bronze.exists else ("warn" if stale else "ok"),
            last("bronze_trades"),
            f"{bronze.rows or 0:,} bronze rows; stale sources: {', '.join(stale)}"
            if stale
            else f"{bronze.rows or 0:,} bronze rows from {len(fresh)} source(s)",
        )
    )
    # pipeline
    share = data("pipeline_health", "quarantine").get("share") or 0.0
    silver = src.info("silver_trades")
    status = (
        "missing"
        if not silver.exists
        else "alert"
        if share >= QUARANTINE_ALERT_SHARE
        else "warn"
        if share >= QUARANTINE_WARN_SHARE
        else "ok"
    )
    out.append(
        _wf(
            "pipeline",
            status,
            last("silver_trades", "gold_trade_features"),
            f"{silver.rows or 0:,} silver rows, {src.info('gold_trade_features').rows or 0:,} gold bars, "
            f"quarantine {share:.2%}",
        )
    )
    # training
    runs = data("leaderboard", "runs")
    if runs:
        latest = runs[0]
        failed = [m["model"] for m in latest["models"] if m["status"] != "ok"]
        primary = ctx.cfg.models.primary_metric
        win = next((m for m in latest["models"] if m["is_winner"]), None)
        metric = win["metrics"].get(primary) if win else None
        detail = f"winner {latest['winner']} {primary}={metric:.3f}" if metric is not None else "no successful model"
        if failed:
            detail += f"; failed: {', '.join(str(f) for f in failed)}"
        out.append(_wf("training", "warn" if failed or win is None else "ok", last("tournament_results"), detail))
    else:
        out.append(_wf("training", "missing", None, "no tournament yet"))
    # gate
    decisions = data("champion", "decisions")
    if decisions:
        d = decisions[-1]
        champ = ctx.registry.champion
        detail = f"last decision {d['decision']}: {d.get('reason') or ''}".strip()
        if champ:
            detail += f" (champion v{champ})"
        out.append(_wf("promotion gate", "ok" if champ else "warn", last("champion_challenger_audit"), detail))
    else:
        out.append(_wf("promotion gate", "missing", None, "no gate decision yet"))
    # drift
    drift = data("drift", "psi_js")
    if drift["runs"]:
        r = drift["runs"][-1]
        drifted = r["overall"] == "drift" or (r["drifted_share"] or 0) >= ctx.cfg.drift.drifted_share_alert
        out.append(
            _wf(
                "drift monitoring",
                "alert" if drifted else ("warn" if r["drifted_features"] else "ok"),
                last("drift_monitoring", "model_monitoring"),
                f"{r['drifted_features']}/{r['features']} features drifted in the latest run",
            )
        )
    else:
        out.append(_wf("drift monitoring", "missing", None, "no drift run yet"))
    # the champion's own performance, as the trigger judged it (a degraded champion is an alert)
    out.append(champion_performance(data("audit", "retraining"), decisions, ctx.registry.champion))
    # retraining + alerts
    retrain = data("audit", "retraining")
    if retrain:
        e = retrain[0]
        reason = f" - {e['reason']}" if e.get("reason") else ""
        out.append(_wf("retraining", "ok", last("retraining_audit"), f"latest: {e['decision']}{reason}"))
    else:
        out.append(_wf("retraining", "missing", None, "no retraining decision yet"))
    alerts = data("audit", "alerts")
    if alerts:
        out.append(alerting_workflow(alerts, last("alerts_audit")))
    else:
        out.append(_wf("alerting", "missing", None, "no alert raised"))
    # backtest + decision
    bt = data("backtest", "results")
    out.append(
        _wf(
            "backtest",
            "ok" if bt["rows"] else "missing",
            last("backtest_results"),
            f"{len(bt['rows'])} strategy x symbol result(s) in run {bt['run_id']}" if bt["rows"] else "no backtest yet",
        )
    )
    dm = data("decision_matrix", "matrix")
    if dm["rows"]:
        counts: dict[str, int] = {}
        for row in dm["rows"]:
            counts[str(row["recommendation"])] = counts.get(str(row["recommendation"]), 0) + 1
        detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        out.append(_wf("decision matrix", "ok", last("decision_matrix"), detail))
    else:
        out.append(_wf("decision matrix", "missing", None, "no decision run yet"))
    status = "ok" if any(w["status"] != "missing" for w in out) else "missing"
    return Section(status, out, [src.fqn(k) for k in ("bronze_trades", "silver_trades", "tournament_results")])


def champion_performance(
    retraining: list[dict[str, Any]], gate_decisions: list[dict[str, Any]], champion: str | None
) -> dict[str, Any]:
    """The champion's monitored metric against its baseline, from the trigger's latest judged decision.

    ``alert`` while the latest judgement found the champion degraded (the drop's lower confidence bound
    above zero) and no promotion has happened since; a promotion after it means the degraded model was replaced.
    """
    judged = [r for r in retraining if r.get("event_type") == "decision" and r.get("performance_current") is not None]
    if not judged:
        return _wf("champion performance", "missing", None, "no labelled window judged yet")
    latest = judged[0]  # audit rows come newest first
    metric = latest.get("performance_metric") or "metric"
    current, baseline = latest["performance_current"], latest.get("performance_baseline")
    lower, upper = latest.get("performance_lower"), latest.get("performance_upper")
    band = f" [{lower:.3f}, {upper:.3f}]" if lower is not None and upper is not None else ""
    against = f" vs baseline {baseline:.3f}" if baseline is not None else ""
    who = f"champion v{champion}" if champion else "champion"
    detail = f"{who} {metric} {current:.3f}{band}{against} on {latest.get('performance_positives') or 0} positive(s)"
    if not latest.get("performance_degraded"):
        return _wf("champion performance", "ok", latest.get("at"), detail)
    promoted_since = [
        d for d in gate_decisions if d.get("decision") == "PROMOTE" and str(d.get("at") or "") > str(latest.get("at"))
    ]
    if promoted_since:
        return _wf(
            "champion performance",
            "ok",
            latest.get("at"),
            f"degraded at {latest.get('at')}; replaced by the promotion at {promoted_since[-1].get('at')}",
        )
    return _wf("champion performance", "alert", latest.get("at"), f"degraded: {detail}")


def alerting_workflow(alerts: list[dict[str, Any]], last_run: str | None) -> dict[str, Any]:
    """The alerting row: only a ``delivered`` alert reached anyone, so ``not_configured`` and ``failed`` warn."""
    undelivered = [a for a in alerts if a.get("status") != "delivered"]
    unconfigured = sum(1 for a in alerts if a.get("status") == "not_configured")
    why = f" ({unconfigured} with no webhook configured)" if unconfigured else ""
    return _wf(
        "alerting",
        "warn" if undelivered else "ok",
        last_run,
        f"{len(alerts)} alert(s), {len(undelivered)} undelivered{why}",
    )


def dataflow(src: Sources) -> Section:
    nodes: list[dict[str, Any]] = []
    for key, label, kind in FLOW_NODES:
        info = src.info(key) if kind == "table" else None
        nodes.append(
            {
                "id": key,
                "label": label,
                "kind": kind,
                "rows": info.rows if info else None,
                "exists": info.exists if info else None,
                "last_commit": info.last_commit if info else None,
            }
        )
    edges = [{"from": a, "to": b} for a, b in FLOW_EDGES]
    status = "ok" if any(n["exists"] for n in nodes) else "missing"
    return Section(status, {"nodes": nodes, "edges": edges}, [])
