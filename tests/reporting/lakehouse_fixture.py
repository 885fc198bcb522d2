"""Writes a small but complete set of platform tables for the export tests.

The rows are generated here (seeded), shaped as the real writers shape them, written
through the real DeltaStore, and the tests compare the export against these same frames:

* gold bars come from the real feature code (``build_gold_features`` over seeded trades);
* every other frame is checked against the real writer's columns and written with the
  real Arrow schema where one is known (:mod:`tests.support.writer_schemas`), so a renamed column in a
  writer breaks these tests instead of leaving them green on a hand-made schema.

The symbol list includes a hostile name to prove the page renders data as text;
``hostile=True`` makes *every* displayed string from the data hostile (symbols, model and
feature names, reasons, errors, alerts, explanations, rule and strategy names).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.replay.window import MARKER
from financial_transactions.runtime import Platform
from tests.support.gold import gold_frame, synthetic_trades
from tests.support.writer_schemas import conform

XSS_SYMBOL = "<img src=x onerror=alert(1)>"
#: Markup that would run script if a page inserted it as HTML (each gets a kind suffix to stay unique).
PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "</td><td onmouseover=alert(4)>",
    "<iframe srcdoc='<script>alert(5)</script>'></iframe>",
    "' onfocus=alert(6) autofocus x='",
    "javascript:alert(7)",
    "<a href=javascript:alert(8)>x</a>",
)
#: Features the fixture's drift rows and importances name (real model inputs).
FEATURES = ["max_abs_trade_return", "rsi", "volume_zscore"]
T0 = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
COMMIT_TIME = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@dataclass
class WrittenTables:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    ground_truth: list[dict[str, Any]] = field(default_factory=list)
    collector_quarantine: list[dict[str, Any]] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    #: kind -> the hostile string written for it (``hostile=True`` only)
    hostile: dict[str, str] = field(default_factory=dict)


def write_platform_tables(
    platform: Platform, *, n_bars: int = 120, seed: int = 7, hostile: bool = False
) -> WrittenTables:
    """Write every table the dashboard reads, plus landing ground truth and collector quarantine files."""
    cfg = platform.config
    store = platform.store
    rng = np.random.default_rng(seed)
    out = WrittenTables()

    def t(kind: str, normal: str) -> str:
        """``normal``, or (hostile mode) a distinct payload naming ``kind``."""
        if not hostile:
            return normal
        if kind not in out.hostile:
            out.hostile[kind] = f"{PAYLOADS[len(out.hostile) % len(PAYLOADS)]}{kind}"
        return out.hostile[kind]

    symbols = [
        (t("symbol_equity", "AAPL"), "equity", 180.0),
        (t("symbol_crypto", "BTC") + "USDT", "crypto", 64000.0),
        (XSS_SYMBOL if not hostile else t("symbol_third", XSS_SYMBOL), "equity", 10.0),
    ]
    if hostile:
        out.hostile["symbol_crypto"] += "USDT"
    out.symbols = [s for s, _, _ in symbols]
    aapl, btc, third = out.symbols
    features = [t(f"feature_{i}", f) for i, f in enumerate(FEATURES)]

    def put(key: str, frame: pd.DataFrame) -> None:
        store.append(cfg.table(key), conform(key, frame))
        out.frames[key] = frame

    # gold: the real feature code over seeded trades (20 a minute: every minute has a bar)
    trades = synthetic_trades({s: b for s, _, b in symbols}, n_bars, seed=seed, start=pd.Timestamp(T0), per_minute=20)
    gold = gold_frame(platform, trades).sort_values(["symbol", "bar_start"], kind="stable").reset_index(drop=True)
    assert gold.groupby("symbol").size().to_dict() == dict.fromkeys(out.symbols, n_bars)
    put("gold_trade_features", gold)

    # silver trades: 4 trades per bar for two sources
    silver_rows = []
    for sym, asset, _ in symbols[:2]:
        source = "finnhub" if asset == "equity" else "binance"
        g = gold[gold["symbol"] == sym]
        for i, row in enumerate(g.itertuples(index=False)):
            for k in range(4):
                ts = row.bar_start + pd.Timedelta(seconds=10 * k)
                silver_rows.append(
                    {
                        "trade_id": f"{source}-{sym}-{i}-{k}",
                        "source": source,
                        "asset_class": asset,
                        "symbol": sym,
                        "price": float(row.close),
                        "volume": 1.0,
                        "ts": ts,
                        "ingested_at": ts + pd.Timedelta(seconds=1),
                    }
                )
    silver = pd.DataFrame(silver_rows)
    put("silver_trades", silver)
    bronze = silver[["trade_id", "source", "symbol", "price", "volume"]]
    put("bronze_trades", bronze.assign(_source_file="landing/part-0.ndjson"))
    quarantine = pd.DataFrame(
        {
            "quarantine_id": ["q1", "q2", "q3", "q4"],
            "trade_id": ["finnhub-x-1", "finnhub-x-2", "binance-x-3", "finnhub-x-4"],
            "source": ["finnhub", "finnhub", "binance", "finnhub"],
            "symbol": [aapl, third, btc, aapl],
            "price": [0.0, -1.0, 60000.0, 180.0],
            "volume": [1.0, None, -5.0, 1.0],
            "ts": [T0 + timedelta(minutes=m) for m in (1, 2, 3, 4)],
            "_ingested_at": [T0 + timedelta(minutes=m, seconds=1) for m in (1, 2, 3, 4)],
            "failed_rules": [
                ["price_positive"],
                ["symbol_valid", "price_positive"],
                ["volume_non_negative"],
                [t("rule", "ts_in_bounds")],
            ],
        }
    )
    put("silver_trades_quarantine", quarantine)

    put(
        "pipeline_runs",
        pd.DataFrame(
            {
                "run_id": ["p1", "p2"],
                "mode": ["incremental", "incremental"],
                "started_at": [T0 + timedelta(hours=3), T0 + timedelta(hours=4)],
                "files_ingested": [12, 0],
                "bronze_rows": [960, 0],
                "silver_inserted": [960, 0],
                "quarantine_inserted": [4, 0],
                "gold_rows_written": [360, 0],
                "quarantine_by_rule": [json.dumps({"price_positive": 2}), json.dumps({})],
                "seconds_bronze": [1.5, 0.2],
                "seconds_silver": [2.5, 0.1],
                "seconds_gold": [3.0, 0.0],
            }
        ),
    )

    # predictions of two model versions: v2 (champion) flags every 17th bar
    preds = []
    for sym, _, _ in symbols:
        g = gold[gold["symbol"] == sym].reset_index(drop=True)
        for i, row in g.iterrows():
            for version in ("1", "2"):
                score = float(rng.uniform(0, 0.4))
                flagged = version == "2" and i % 17 == 5
                if flagged:
                    score = 0.9 + i / 10_000
                preds.append(
                    {
                        "symbol": sym,
                        "bar_start": row["bar_start"],
                        "model_version": version,
                        "score": score,
                        "label": int(flagged),
                    }
                )
    for p in preds:
        p["scored_at"] = COMMIT_TIME
    first_aapl = next(p for p in preds if p["symbol"] == aapl and p["model_version"] == "2")
    preds.append({**first_aapl, "score": 0.95, "label": 1, "scored_at": COMMIT_TIME + timedelta(hours=1)})
    put("synthesized_predictions", pd.DataFrame(preds))

    # ground truth on landing: AAPL bar 5 (also flagged) and bar 40 (missed)
    gt_dir = platform.paths.ground_truth_dir("window-1")
    gt_dir.mkdir(parents=True, exist_ok=True)
    for bar_idx, kind in ((5, "price_spike"), (5, "volume_burst"), (40, "wash_trade")):
        ts = T0 + timedelta(minutes=bar_idx, seconds=20)
        out.ground_truth.append(
            {
                "source": "finnhub",
                "symbol": aapl,
                "ts": int(ts.timestamp() * 1000),
                "price": 1.0,
                "volume": 1.0,
                "anomaly_type": kind,
            }
        )
    platform.paths.ground_truth("window-1").write_text("\n".join(json.dumps(r) for r in out.ground_truth) + "\n")
    # the ingest stage's marker with the collectors' counters
    summary = {
        "finnhub_trades": 480,
        "finnhub_quarantined": 3,
        "finnhub_reconnects": 1,
        "binance_trades": 480,
        "binance_quarantined": 0,
        "binance_reconnects": 0,
        "alphavantage_bars": 0,
        "alphavantage_rate_limited": 2,
        "window": "window-1",
        "anomalous_trades": 3,
        "seconds": 4.5,
        "reused": False,
    }
    (gt_dir / MARKER).write_text(json.dumps({"fingerprint": "f", "summary": summary}))
    q_dir = Path(platform.paths.landing) / "_quarantine" / "finnhub" / "date=2026-03-06"
    q_dir.mkdir(parents=True, exist_ok=True)
    out.collector_quarantine = [
        {"source": "finnhub", "received_at": 1, "reason": "malformed_json", "raw": "{"},
        {"source": "finnhub", "received_at": 2, "reason": "malformed_json", "raw": "}"},
        {"source": "finnhub", "received_at": 3, "reason": t("collector_reason", "unknown_type"), "raw": "<script>"},
    ]
    (q_dir / "run1-0.ndjson").write_text("\n".join(json.dumps(r) for r in out.collector_quarantine) + "\n")

    created = [COMMIT_TIME - timedelta(hours=2), COMMIT_TIME - timedelta(hours=1)]
    put(
        "tournament_results",
        pd.DataFrame(
            {
                "tournament_id": ["t1"] * 4 + ["t2"] * 4,
                "model": [t("model", "lightgbm"), "xgboost", "random_forest", "isolation_forest"] * 2,
                "status": ["ok", "ok", "ok", "ok", "ok", "ok", "failed", "ok"],
                "rank": pd.array([2, 1, 3, 4, 1, 2, None, 3], dtype="Int64"),
                "is_winner": [False, True, False, False, True, False, False, False],
                "primary_metric": ["pr_auc"] * 8,
                "error": [None] * 6 + [t("model_error", "MemoryError: forced failure"), None],
                "pr_auc": [0.81, 0.84, 0.79, 0.40, 0.88, 0.86, None, 0.42],
                "roc_auc": [0.95, 0.96, 0.94, 0.80, 0.97, 0.96, None, 0.81],
                "f1": [0.7, 0.72, 0.69, 0.3, 0.75, 0.74, None, 0.31],
                "recall_at_fpr": [0.6, 0.62, 0.58, 0.2, 0.66, 0.64, None, 0.21],
                "inference_rows_per_s": [5e5, 4e5, 1e5, 2e5, 5e5, 4e5, None, 2e5],
                "created_at": [created[0]] * 4 + [created[1]] * 4,
                "feature_importance": [json.dumps(dict(zip(features, (2.0, 3.0, 5.0), strict=True)))] * 8,
                "mlflow_run_id": [f"r{i}" for i in range(8)],
            }
        ),
    )
    put(
        "champion_challenger_audit",
        pd.DataFrame(
            {
                "decision_id": ["d1", "d2"],
                "decided_at": created,
                "decision": ["PROMOTE", "REJECT"],
                "first_deploy": [True, False],
                "reason": [
                    t("gate_reason_promote", "no champion exists: first deploy"),
                    t("gate_reason_reject", "margin 0.004 below required 0.01 on pr_auc"),
                ],
                "primary_metric": ["pr_auc", "pr_auc"],
                "champion_version": pd.array([None, 2], dtype="Int64"),
                "challenger_version": pd.array([2, 3], dtype="Int64"),
                "champion_primary": [None, 0.88],
                "challenger_primary": [0.84, 0.884],
                "margin": [None, 0.004],
                "required_margin": [0.01, 0.01],
                "margin_lower": [None, -0.021],
                "confidence": [None, 0.95],
                "test": [None, "paired class-stratified bootstrap of the pr_auc difference"],
                "operating_point": ["fpr", "fpr"],
                "operating_value": [0.01, 0.01],
                "challenger_matched_recall": [0.7, 0.72],
                "champion_matched_recall": [None, 0.71],
                "state_before": [json.dumps({}), json.dumps({"champion": 2, "latest-model": 3, "challenger": 3})],
                "state_after": [json.dumps({"champion": 2}), json.dumps({"champion": 2, "latest-model": 3})],
                "supersedes": [None, None],
            }
        ),
    )
    drift_rows = []
    for run, at, scale in (("dr1", created[0], 0.01), ("dr2", created[1], 0.3)):
        for j, f in enumerate(features):
            psi = scale * (j + 1)
            drift_rows.append(
                {
                    "run_id": run,
                    "computed_at": at,
                    "feature": f,
                    "psi": psi,
                    "js": psi / 4,
                    "status": "alert" if psi >= 0.25 else "warn" if psi >= 0.1 else "ok",
                    "reference_version": 3,
                    "current_version": 5,
                    "overall_status": "drift" if scale > 0.1 else "no_drift",
                    "drifted_features": 2 if scale > 0.1 else 0,  # the detector's rule: 2 of 3 alert on PSI+JS
                    "drifted_share": 2 / 3 if scale > 0.1 else 0.0,
                    "reason": t("drift_reason", "2/3 features drifted") if scale > 0.1 else "0/3 features drifted",
                }
            )
    put("drift_monitoring", pd.DataFrame(drift_rows))
    put(
        "model_monitoring",
        pd.DataFrame(
            {
                "window_start": [T0, T0 + timedelta(hours=1)],
                "model_version": ["2", "2"],
                "precision": [0.8, 0.7],
                "recall": [0.75, 0.6],
                "pr_auc": [0.85, 0.78],
                "positives": [40, 35],
                "metric": ["pr_auc", "pr_auc"],
                "rolling_adjusted": [0.84, 0.8],
                "rolling_lower": [0.74, 0.69],
                "rolling_upper": [0.92, 0.89],
                "confidence": [0.95, 0.95],
                "baseline": [0.88, 0.88],
                "monitored_at": created,
            }
        ),
    )
    put(
        "retraining_audit",
        pd.DataFrame(
            {
                "event_id": ["e1", "e2"],
                "event_type": ["decision", "decision"],
                "decided_at": created,
                "decision": ["no_drift", "triggered"],
                "reason": ["0/3 features drifted", t("retraining_reason", "2/3 features drifted (share 0.67 >= 0.30)")],
                # the second judgement found the champion degraded (the drop's lower bound above zero)
                "performance_degraded": [False, True],
                "performance_metric": ["pr_auc", "pr_auc"],
                "performance_baseline": [0.88, 0.88],
                "performance_current": [0.84, 0.62],
                "performance_positives": [40, 36],
                "performance_lower": [0.74, 0.52],
                "performance_upper": [0.92, 0.71],
            }
        ),
    )
    put(
        "alerts_audit",
        pd.DataFrame(
            {
                "alert_id": ["a1"],
                "sent_at": [created[1]],
                "severity": ["warning"],
                "title": [t("alert_title", f"Drift on {XSS_SYMBOL}")],
                "message": [t("alert_message", "PSI above 0.25 on 2 of 3 features")],
                "status": ["failed"],
                "attempts": [4],
                "error": [t("alert_error", "HTTP 503 from webhook")],
            }
        ),
    )
    put(
        "rollback_audit",
        pd.DataFrame(
            {
                "rollback_id": ["r1"],
                "rolled_back_at": [created[1] + timedelta(minutes=30)],
                "status": ["done"],
                "from_version": [3],
                "to_version": [2],
                "reason": [t("rollback_reason", "on-call: precision dropped")],
            }
        ),
    )
    crit = list(cfg.decision.criteria)
    dm_rows = []
    recs = [(aapl, 4.2, "Strong Buy"), (btc, 2.5, "Hold"), (third, 1.5, "Sell")]
    for rank, (sym, score, rec) in enumerate(recs, 1):
        row: dict[str, Any] = {
            "run_id": "dm1",
            "created_at": created[1],
            "symbol": sym,
            "final_score": score,
            "rank": rank,
            "recommendation": rec,
            "explanation": t("explanation", f"{sym}: trend and momentum lead"),
        }
        for k, name in enumerate(crit):
            row[f"{name}_raw"] = float(k) / 10
            row[f"{name}_score"] = float(1 + (rank + k) % 5)
            row[f"{name}_weight"] = cfg.decision.criteria[name].weight
        dm_rows.append(row)
    put("decision_matrix", pd.DataFrame(dm_rows))
    eq_t = [T0 + timedelta(minutes=i) for i in range(5)]
    bt_rows = []
    sma = t("strategy", "sma_cross")
    for sym, total, strategy in ((aapl, 0.04, sma), (btc, -0.02, sma), (aapl, 0.01, "macd")):
        values = list(np.linspace(1.0, 1.0 + total, 5))
        bt_rows.append(
            {
                "run_id": "bt1",
                "created_at": created[1],
                "strategy": strategy,
                "symbol": sym,
                "total_return": total,
                "sharpe": 1.5 if total > 0 else -0.7,
                "max_drawdown": -0.01,
                "n_trades": 3,
                "equity_curve": json.dumps(values),
                "equity_ts": json.dumps([t.isoformat() for t in eq_t]),
            }
        )
    put("backtest_results", pd.DataFrame(bt_rows))
    return out
