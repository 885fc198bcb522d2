"""``fin-mlops report``: the analysts' markdown decision report with PNG charts.

It is rendered from the same documents the dashboard export builds (so the
report and the page never disagree) and contains an executive summary, the
decision matrix, the top anomalies, model and drift status, the backtest
table (with the Sharpe's standard error and the deflated Sharpe ratio), and the matrix
and its backtest on real daily index bars against buy-and-hold. Every string that
comes from data is escaped for markdown tables and HTML, so a hostile symbol name stays
text in any markdown viewer.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from financial_transactions.reporting.export import build_documents, export_context
from financial_transactions.runtime import Platform

#: Colour-blind-safe palette (Okabe & Ito) shared with the page.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass
class ReportResult:
    markdown: Path
    charts: list[Path] = field(default_factory=list)


def default_reports_dir(platform: Platform) -> Path:
    """The ``reports`` volume of the platform's lakehouse (follows ``--lakehouse-root``; a UC volume on Databricks)."""
    return platform.reports_dir


def md(value: Any) -> str:
    """Text safe inside a markdown table cell: HTML-escaped, pipes and newlines neutralised."""
    if value is None:
        return "–"
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def fmt(value: Any, digits: int = 3, *, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int | float):
        return f"{value:.{max(0, digits - 2)}%}" if pct else f"{value:.{digits}f}"
    return md(value)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return ""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(doc["sections"][name])


def _empty_note(section: dict[str, Any]) -> str:
    return f"_No data ({section['status']}): {md(section['message'] or 'nothing recorded yet')}._\n"


# -- charts ---------------------------------------------------------------------------


def _label(value: Any) -> str:
    """Data text for a matplotlib label: ``$`` would switch on mathtext, so it is escaped."""
    return str(value).replace("$", r"\$")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _chart_decision_matrix(matrix: dict[str, Any], path: Path) -> bool:
    rows = matrix["rows"]
    criteria = matrix["criteria"]
    if not rows or not criteria:
        return False
    plt = _plt()
    import numpy as np

    values = np.array(
        [[(r["criteria"].get(c) or {}).get("score") or np.nan for c in criteria] for r in rows], dtype=float
    )
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(criteria), 0.9 + 0.42 * len(rows)))
    im = ax.imshow(values, cmap="cividis", vmin=1, vmax=5, aspect="auto")
    ax.set_xticks(range(len(criteria)), labels=[_label(c) for c in criteria], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=[_label(f"{r['symbol']} · {r['recommendation']}") for r in rows])
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                "–" if np.isnan(v) else f"{v:.0f}",
                ha="center",
                va="center",
                color="white" if (not np.isnan(v) and v < 3) else "black",
            )
    fig.colorbar(im, ax=ax, label="criterion score (1-5)")
    ax.set_title("Decision matrix: per-criterion scores")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _chart_anomalies(market: dict[str, Any], path: Path) -> bool:
    symbols = [s for s in market["symbols"] if s["bars"]["t"]]
    if not symbols:
        return False
    symbols.sort(key=lambda s: -len(s["model_flags"]))
    shown = symbols[:4]
    plt = _plt()
    fig, axes = plt.subplots(len(shown), 1, figsize=(9, 2.1 * len(shown)), squeeze=False)
    for ax, sym in zip(axes[:, 0], shown, strict=True):
        t = [datetime.fromtimestamp(x, tz=UTC) for x in sym["bars"]["t"]]
        close = sym["bars"]["c"]
        ax.plot(t, close, color=OKABE_ITO[0], linewidth=0.8, label="close")
        index = {x: i for i, x in enumerate(sym["bars"]["t"])}
        flagged = [(t[index[f["t"]]], close[index[f["t"]]]) for f in sym["model_flags"] if f["t"] in index]
        truth = [(t[index[g["t"]]], close[index[g["t"]]]) for g in sym["ground_truth"] if g["t"] in index]
        if truth:
            ax.scatter(
                *zip(*truth, strict=True),
                s=46,
                facecolors="none",
                edgecolors=OKABE_ITO[1],
                linewidths=1.4,
                label="ground truth",
                zorder=3,
            )
        if flagged:
            ax.scatter(*zip(*flagged, strict=True), s=14, marker="^", color=OKABE_ITO[5], label="model flag", zorder=4)
        ax.set_title(
            f"{_label(sym['symbol'])}: {len(sym['model_flags'])} model flags, "
            f"{len(sym['ground_truth'])} true anomalies",
            loc="left",
        )
        ax.legend(loc="upper right", fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _chart_drift(drift: dict[str, Any], thresholds: dict[str, Any], path: Path) -> bool:
    if not drift["runs"]:
        return False
    latest = drift["runs"][-1]["run_id"]
    cells = sorted(
        (c for c in drift["cells"] if c["run_id"] == latest and c["psi"] is not None), key=lambda c: -c["psi"]
    )
    if not cells:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.26 * len(cells)))
    colours = [
        OKABE_ITO[5]
        if c["psi"] >= thresholds["psi_alert"]
        else OKABE_ITO[1]
        if c["psi"] >= thresholds["psi_warn"]
        else OKABE_ITO[0]
        for c in cells
    ]
    ax.barh([_label(c["feature"]) for c in cells][::-1], [c["psi"] for c in cells][::-1], color=colours[::-1])
    ax.axvline(thresholds["psi_warn"], color=OKABE_ITO[1], linestyle="--", linewidth=1, label="warn")
    ax.axvline(thresholds["psi_alert"], color=OKABE_ITO[5], linestyle="-", linewidth=1, label="alert")
    ax.set_xlabel("PSI (latest drift run)")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _chart_equity(backtest: dict[str, Any], path: Path) -> bool:
    curves = [r for r in backtest["rows"] if r["equity"]["v"]]
    if not curves:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.4))
    for i, row in enumerate(curves):
        v = row["equity"]["v"]
        ts = row["equity"]["t"]
        x: list[Any] = (
            [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in ts]
            if len(ts) == len(v) and all(ts)
            else list(range(len(v)))
        )
        ax.plot(
            x,
            v,
            linewidth=1.1,
            color=OKABE_ITO[i % len(OKABE_ITO)],
            label=_label(f"{row['symbol']} ({row['strategy']})"),
        )
    ax.set_ylabel("equity (start = 1)")
    ax.legend(fontsize=7, ncol=3, frameon=False)
    ax.set_title("Backtest equity curves", loc="left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# -- markdown -------------------------------------------------------------------------------


def real_markets_section(platform: Platform) -> str:
    """The decision matrix and its backtest on real daily index bars against buy-and-hold (markdown).

    See :mod:`financial_transactions.decision.real_market`; the bars are the S&P 500 and NASDAQ
    daily closes the ``arch`` package ships (a test extra), so without it the section says so.
    """
    from financial_transactions.decision import real_market as rm

    out = ["## Real markets: the matrix and its backtest vs buy-and-hold\n"]
    try:
        series = rm.load_arch_indices()
    except ImportError:
        out.append("_The `arch` package (test extra) is not installed: no real daily bars to compare on._\n")
        return "\n".join(out)
    result = rm.compare(series, platform.config)
    out.append(
        f"Daily closes of {', '.join(md(s) for s in series)} (price indices, dividends excluded), "
        f"{result.start.date().isoformat()} to {result.end.date().isoformat()}, net of "
        f"{fmt(platform.config.backtest.commission_bps + platform.config.backtest.slippage_bps, 1)} bps per unit "
        f"traded. *matrix* = hold the index while the decision matrix, scored at each month end from the bars "
        f"up to it, says Buy or Strong Buy ({result.rebalances} rebalances). DSR and edge are deflated for "
        f"the {len(result.rows)} rows compared.\n"
    )
    headers = ["symbol", "strategy", "total return", "CAGR", "vol", "Sharpe ± SE", "DSR", "edge", "max DD"]
    headers += ["trades", "exposure"]
    rows = [
        [
            md(r["symbol"]),
            md(r["strategy"]),
            fmt(r["total_return"], 4, pct=True),
            fmt(r["cagr"], 4, pct=True),
            fmt(r["annual_volatility"], 4, pct=True),
            f"{fmt(r['sharpe'], 2)} ± {fmt(r['sharpe_se'], 2)}",
            fmt(r["dsr"], 2),
            fmt(r["deflated_edge"], 2),
            fmt(r["max_drawdown"], 4, pct=True),
            fmt(r["n_trades"], 0),
            fmt(r["exposure"], 4, pct=True),
        ]
        for r in result.table().to_dict("records")
    ]
    out.append(_table(headers, rows))
    out.append("\n" + "\n".join(f"- {md(line)}" for line in rm.summary_lines(result)) + "\n")
    latest = result.latest
    out.append(f"\nThe matrix on {result.end.date().isoformat()}:\n")
    out.append("\n".join(f"- {md(r['symbol'])}: {md(r['explanation'])}" for r in latest.to_dict("records")) + "\n")
    return "\n".join(out)


def render_markdown(
    docs: dict[str, dict[str, Any]], charts: dict[str, str], report_date: date, *, real_markets: str | None = None
) -> str:
    """The report's markdown; ``real_markets`` is :func:`real_markets_section`'s output, placed after the backtest."""
    manifest = docs["manifest"]
    out: list[str] = []
    out.append(f"# Decision report · {report_date.isoformat()}\n")
    out.append(
        f"Env **{md(manifest['env'])}** · generated {md(manifest['generated_at'])} · model "
        f"`{md(manifest['model_name'])}` champion version **{md(manifest['model_version'])}** · "
        f"export schema {md(manifest['schema_version'])} · config `{md(manifest['config_hash'])}`\n"
    )

    # executive summary
    matrix = _section(docs["decision_matrix"], "matrix")["data"]
    workflows = _section(manifest, "workflows")["data"]
    out.append("## Executive summary\n")
    bullets = []
    if matrix["rows"]:
        counts: dict[str, int] = {}
        for r in matrix["rows"]:
            counts[str(r["recommendation"])] = counts.get(str(r["recommendation"]), 0) + 1
        top = matrix["rows"][0]
        bullets.append(
            f"Top opportunity: **{md(top['symbol'])}** ({md(top['recommendation'])}, score "
            f"{fmt(top['final_score'], 2)}): {md(top['explanation'])}"
        )
        bullets.append("Recommendations: " + ", ".join(f"{n} × {md(k)}" for k, n in sorted(counts.items())))
    else:
        bullets.append("No decision matrix yet.")
    attention = [w for w in workflows if w["status"] in ("warn", "alert")]
    healthy = [w for w in workflows if w["status"] == "ok"]
    bullets.append(f"Workflows healthy: {len(healthy)}/{len(workflows)}.")
    for w in attention:
        bullets.append(f"**{md(w['status']).upper()}** {md(w['workflow'])}: {md(w['detail'])}")
    out.append("\n".join(f"- {b}" for b in bullets) + "\n")
    out.append(
        _table(
            ["workflow", "status", "last run", "detail"],
            [[md(w["workflow"]), md(w["status"]), md(w["last_run"]), md(w["detail"])] for w in workflows],
        )
    )

    # decision matrix
    out.append("## Decision matrix\n")
    msec = _section(docs["decision_matrix"], "matrix")
    if matrix["rows"]:
        crits = matrix["criteria"]
        out.append(f"Run `{md(matrix['run_id'])}` at {md(matrix['at'])}. Scores are 1 (worst) to 5 (best).\n")
        out.append(
            _table(
                ["rank", "symbol", "recommendation", "score", *crits, "why"],
                [
                    [
                        fmt(r["rank"], 0),
                        md(r["symbol"]),
                        md(r["recommendation"]),
                        fmt(r["final_score"], 2),
                        *[fmt((r["criteria"].get(c) or {}).get("score"), 0) for c in crits],
                        md(r["explanation"]),
                    ]
                    for r in matrix["rows"]
                ],
            )
        )
        if "decision_matrix" in charts:
            out.append(f"\n![decision matrix]({charts['decision_matrix']})\n")
    else:
        out.append(_empty_note(msec))

    # anomalies
    out.append("## Top anomalies\n")
    anomalies = _section(docs["market"], "top_anomalies")
    if anomalies["data"]:
        out.append(
            _table(
                ["symbol", "bar (UTC)", "score", "model flag", "ground truth", "types"],
                [
                    [
                        md(a["symbol"]),
                        md(a["bar_start"]),
                        fmt(a["score"], 3),
                        "yes" if a["flagged"] else "no" if a["flagged"] is False else "–",
                        "yes" if a["ground_truth"] else "no" if a["ground_truth"] is False else "unknown",
                        md(", ".join(a["anomaly_types"])),
                    ]
                    for a in anomalies["data"][:15]
                ],
            )
        )
        if "anomalies" in charts:
            out.append(f"\n![anomalies]({charts['anomalies']})\n")
    else:
        out.append(_empty_note(anomalies))

    # model + drift
    out.append("## Model and drift status\n")
    runs = _section(docs["leaderboard"], "runs")
    primary = docs["leaderboard"].get("primary_metric", "pr_auc")
    if runs["data"]:
        latest = runs["data"][0]
        out.append(
            f"Latest tournament `{md(latest['run_id'])}` ({md(latest['created_at'])}); "
            f"winner **{md(latest['winner'])}** by {md(primary)}.\n"
        )
        out.append(
            _table(
                ["rank", "model", "status", "PR-AUC", "ROC-AUC", "F1", "recall@FPR", "rows/s", "error"],
                [
                    [
                        fmt(m["rank"], 0),
                        md(m["model"]),
                        md(m["status"]),
                        fmt(m["metrics"].get("pr_auc")),
                        fmt(m["metrics"].get("roc_auc")),
                        fmt(m["metrics"].get("f1")),
                        fmt(m["metrics"].get("recall_at_fpr")),
                        fmt(m["metrics"].get("inference_rows_per_s"), 0),
                        md(m["error"]),
                    ]
                    for m in latest["models"]
                ],
            )
        )
    else:
        out.append(_empty_note(runs))
    decisions = _section(docs["champion"], "decisions")["data"]
    registry = _section(docs["champion"], "registry")["data"]
    if registry["aliases"]:
        out.append(
            "\nAliases: " + ", ".join(f"`{md(a)}` → v{md(v)}" for a, v in sorted(registry["aliases"].items())) + "\n"
        )
    if decisions:
        d = decisions[-1]
        out.append(f"\nLast gate decision: **{md(d['decision'])}** ({md(d['at'])}): {md(d['reason'])}\n")
    drift_doc = docs["drift"]
    drift = _section(drift_doc, "psi_js")
    if drift["data"]["runs"]:
        r = drift["data"]["runs"][-1]
        th = drift_doc["thresholds"]
        out.append(
            f"\nLatest drift run `{md(r['run_id'])}` ({md(r['at'])}): {r['drifted_features']} of "
            f"{r['features']} features drifted (PSI warn {th['psi_warn']}, alert {th['psi_alert']}; "
            f"JS alert {th['js_alert']}); decision **{md(r.get('overall'))}**"
            + (f": {md(r['reason'])}" if r.get("reason") else "")
            + ".\n"
        )
        worst = sorted(
            (c for c in drift["data"]["cells"] if c["run_id"] == r["run_id"] and c["psi"] is not None),
            key=lambda c: -c["psi"],
        )[:8]
        out.append(
            _table(
                ["feature", "PSI", "JS", "status"],
                [[md(c["feature"]), fmt(c["psi"]), fmt(c["js"]), md(c["status"])] for c in worst],
            )
        )
        if "drift" in charts:
            out.append(f"\n![drift]({charts['drift']})\n")
    else:
        out.append("\n" + _empty_note(drift))
    retrain = _section(docs["audit"], "retraining")["data"]
    if retrain:
        e = retrain[0]
        out.append(
            f"\nLatest retraining decision: **{md(e['decision'])}** ({md(e.get('at'))}): {md(e.get('reason'))}\n"
        )

    # backtest
    out.append("## Backtest\n")
    bt = _section(docs["backtest"], "results")
    if bt["data"]["rows"]:
        out.append(f"Run `{md(bt['data']['run_id'])}` at {md(bt['data']['at'])}.\n")
        out.append(
            _table(
                [
                    "strategy",
                    "symbol",
                    "total return",
                    "CAGR",
                    "Sharpe ± SE",
                    "DSR",
                    "edge",
                    "Sortino",
                    "max DD",
                    "Calmar",
                    "win rate",
                    "trades",
                    "exposure",
                ],
                [
                    [
                        md(r["strategy"]),
                        md(r["symbol"]),
                        fmt(r["metrics"]["total_return"], 4, pct=True),
                        fmt(r["metrics"]["cagr"], 4, pct=True),
                        f"{fmt(r['metrics']['sharpe'], 2)} ± {fmt(r['metrics'].get('sharpe_se'), 2)}",
                        fmt(r["metrics"].get("dsr"), 2),
                        fmt(r["metrics"].get("deflated_edge"), 2),
                        fmt(r["metrics"]["sortino"], 2),
                        fmt(r["metrics"]["max_drawdown"], 4, pct=True),
                        fmt(r["metrics"]["calmar"], 2),
                        fmt(r["metrics"]["win_rate"], 4, pct=True),
                        fmt(r["metrics"]["n_trades"], 0),
                        fmt(r["metrics"]["exposure"], 4, pct=True),
                    ]
                    for r in bt["data"]["rows"]
                ],
            )
        )
        if "equity" in charts:
            out.append(f"\n![equity curves]({charts['equity']})\n")
    else:
        out.append(_empty_note(bt))
    if real_markets:
        out.append(real_markets)
    out.append(
        "\n---\nGenerated by `fin-mlops report` from the lakehouse tables "
        f"({md(manifest['catalog'])}.{md(manifest['schema'])}).\n"
    )
    return "\n".join(out)


def write_report(
    platform: Platform,
    out_dir: Path,
    *,
    report_date: date | None = None,
    documents: dict[str, dict[str, Any]] | None = None,
    real_markets: bool = True,
) -> ReportResult:
    """Write ``<out_dir>/<date>-decision-report.md`` and its charts (``<date>-decision-report-charts/``).

    ``real_markets`` adds the matrix-vs-buy-and-hold section on real daily index bars (a few seconds).
    """
    docs = documents if documents is not None else build_documents(export_context(platform))
    when = report_date or datetime.now(tz=UTC).date()
    out_dir = Path(out_dir)
    stem = f"{when.isoformat()}-decision-report"
    chart_dir = out_dir / f"{stem}-charts"
    chart_dir.mkdir(parents=True, exist_ok=True)
    charts: dict[str, str] = {}
    written: list[Path] = []
    plans = [
        ("decision_matrix", lambda p: _chart_decision_matrix(_section(docs["decision_matrix"], "matrix")["data"], p)),
        ("anomalies", lambda p: _chart_anomalies(_section(docs["market"], "bars")["data"], p)),
        ("drift", lambda p: _chart_drift(_section(docs["drift"], "psi_js")["data"], docs["drift"]["thresholds"], p)),
        ("equity", lambda p: _chart_equity(_section(docs["backtest"], "results")["data"], p)),
    ]
    for name, draw in plans:
        path = chart_dir / f"{name}.png"
        if draw(path):
            charts[name] = f"{chart_dir.name}/{path.name}"
            written.append(path)
        elif path.exists():
            path.unlink()
    markdown = out_dir / f"{stem}.md"
    real = real_markets_section(platform) if real_markets else None
    markdown.write_text(render_markdown(docs, charts, when, real_markets=real), encoding="utf-8")
    return ReportResult(markdown, written)
