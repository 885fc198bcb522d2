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

import functools
import html
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from financial_transactions.reporting.export import build_documents, export_context
from financial_transactions.runtime import Platform

#: Colour-blind-safe palette (Okabe & Ito) shared with the page.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
#: One colour per symbol in the equity charts (and the page's SYMBOL_COLOURS): Okabe & Ito without the
#: yellow that vanishes on white, then Paul Tol's muted set; a 13th symbol reuses a colour with dots.
SYMBOL_COLOURS = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
    "#882255", "#44AA99", "#999933", "#332288", "#AA4499",
]  # fmt: skip


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


def symbol_colours(symbols: list[str]) -> dict[str, tuple[str, Literal["-", ":"]]]:
    """Each symbol's (colour, line style): distinct colours first, then the same colours dotted."""
    n = len(SYMBOL_COLOURS)
    return {s: (SYMBOL_COLOURS[i % n], "-" if i < n else ":") for i, s in enumerate(symbols)}


def strategies_of(backtest: dict[str, Any]) -> list[str]:
    """The strategies with an equity curve, in the order of the run (the benchmark is drawn with each)."""
    seen = [r["strategy"] for r in backtest["rows"] if not r.get("benchmark") and r["equity"]["v"]]
    return list(dict.fromkeys(seen))


def _curve_x(row: dict[str, Any]) -> list[Any]:
    v, ts = row["equity"]["v"], row["equity"]["t"]
    if len(ts) == len(v) and all(ts):
        return [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in ts]
    return list(range(len(v)))


def equity_figure(backtest: dict[str, Any], strategy: str) -> tuple[Any, Any, Any] | None:
    """One strategy's equity per symbol (solid) with each symbol's buy-and-hold (dashed, same colour).

    Returns ``(figure, axes, legend)``, or ``None`` without a curve. The legend sits outside the axes,
    right of the plot, so it never covers a line; one colour per symbol, the same in every strategy's chart.
    """
    rows = [r for r in backtest["rows"] if r["strategy"] == strategy and r["equity"]["v"]]
    if not rows:
        return None
    bench = {r["symbol"]: r for r in backtest["rows"] if r.get("benchmark") and r["equity"]["v"]}
    colours = symbol_colours(list(dict.fromkeys(str(r["symbol"]) for r in backtest["rows"])))
    plt = _plt()
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(9, 3.6))
    handles = []
    for row in rows:
        colour, style = colours[str(row["symbol"])]
        ax.plot(_curve_x(row), row["equity"]["v"], linewidth=1.3, color=colour, linestyle=style)
        b = bench.get(row["symbol"])
        if b is not None:
            ax.plot(_curve_x(b), b["equity"]["v"], linewidth=0.9, color=colour, linestyle=(0, (4, 2)), alpha=0.75)
        label = f"{row['symbol']} {fmt(row['metrics'].get('total_return'), 4, pct=True)}"
        if b is not None:
            label += f" (B&H {fmt(b['metrics'].get('total_return'), 4, pct=True)})"
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=1.6, label=_label(label)))
    if bench:
        handles.append(Line2D([], [], color="#6b7785", linestyle=(0, (4, 2)), linewidth=1.0, label="buy & hold"))
    ax.axhline(1.0, color="#9aa5b1", linewidth=0.7, zorder=0, gid="baseline")
    ax.set_ylabel("equity (start = 1)")
    ax.set_title(_label(f"{strategy}: equity per symbol (dashed: buy & hold, same bars and costs)"), loc="left")
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False)
    fig.autofmt_xdate()
    return fig, ax, legend


def _chart_equity(backtest: dict[str, Any], strategy: str, path: Path) -> bool:
    drawn = equity_figure(backtest, strategy)
    if drawn is None:
        return False
    fig = drawn[0]
    fig.savefig(path, bbox_inches="tight")
    _plt().close(fig)
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


def backtest_markdown(data: dict[str, Any], settings: dict[str, Any], charts: dict[str, str]) -> str:
    """The backtest table (strategies, then each symbol's buy-and-hold), the CAGR rule, one chart per strategy."""
    rows = [r for r in data["rows"] if not r.get("benchmark")]
    rows += sorted((r for r in data["rows"] if r.get("benchmark")), key=lambda r: str(r["symbol"]))
    out = [
        f"Run `{md(data['run_id'])}` at {md(data['at'])}. *B&H* = buy-and-hold of the symbol over the same bars "
        "and costs; *excess* = total return − B&H.\n"
    ]
    headers = ["strategy", "symbol", "total return", "B&H", "excess", "CAGR", "Sharpe ± SE", "DSR", "edge"]
    headers += ["Sortino", "max DD", "Calmar", "win rate", "trades", "exposure"]
    out.append(
        _table(
            headers,
            [
                [
                    md(r["strategy"]),
                    md(r["symbol"]),
                    fmt(r["metrics"]["total_return"], 4, pct=True),
                    fmt(r.get("benchmark_return"), 4, pct=True),
                    "–" if r.get("benchmark") else fmt(r.get("excess_return"), 4, pct=True),
                    fmt(r["metrics"]["cagr"], 4, pct=True) if r["metrics"]["cagr"] is not None else "n/a",
                    f"{fmt(r['metrics']['sharpe'], 2)} ± {fmt(r['metrics'].get('sharpe_se'), 2)}",
                    fmt(r["metrics"].get("dsr"), 2),
                    fmt(r["metrics"].get("deflated_edge"), 2),
                    fmt(r["metrics"]["sortino"], 2),
                    fmt(r["metrics"]["max_drawdown"], 4, pct=True),
                    fmt(r["metrics"]["calmar"], 2) if r["metrics"]["calmar"] is not None else "n/a",
                    fmt(r["metrics"]["win_rate"], 4, pct=True),
                    fmt(r["metrics"]["n_trades"], 0),
                    fmt(r["metrics"]["exposure"], 4, pct=True),
                ]
                for r in rows
            ],
        )
    )
    out.append(cagr_rule_line(data["rows"], settings))
    for key, chart in charts.items():
        if key.startswith("equity:"):
            out.append(f"\n![equity of {md(key[len('equity:') :])}]({md(chart)})\n")
    return "\n".join(out)


def cagr_rule_line(rows: list[dict[str, Any]], settings: dict[str, Any]) -> str:
    """Why CAGR and Calmar read n/a when the period is too short to annualise (empty when none is)."""
    limit = settings.get("cagr_min_years", 1.0)
    short = [r for r in rows if r.get("cagr_note")]
    if not short:
        return ""
    days = sorted({int(r["trading_days"]) for r in short if r.get("trading_days") is not None})
    span = f"{days[0]}" if len(days) == 1 else f"{days[0]}–{days[-1]}" if days else "too few"
    return (
        f"\n**CAGR and Calmar are n/a**: the bars cover {span} trading day(s), under the "
        f"{fmt(limit, 1)} year(s) `backtest.cagr_min_years` asks for; compounding so short a period to a year "
        "is noise, not a growth rate. Compare the total return over the period with buy-and-hold instead.\n"
    )


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
        out.append(backtest_markdown(bt["data"], docs["backtest"].get("settings") or {}, charts))
    else:
        out.append(_empty_note(bt))
    if real_markets:
        out.append(real_markets)
    out.append(
        "\n---\nGenerated by `fin-mlops report` from the lakehouse tables "
        f"({md(manifest['catalog'])}.{md(manifest['schema'])}).\n"
    )
    return "\n".join(out)


def _file_name(chart: str) -> str:
    """``equity:sma_cross`` -> ``equity-sma_cross``: a chart key as a safe file name."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", chart).strip("-.") or "chart"


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
    ]
    backtest = _section(docs["backtest"], "results")["data"]
    for strategy in strategies_of(backtest):
        plans.append((f"equity:{strategy}", functools.partial(_chart_equity, backtest, strategy)))
    for stale in chart_dir.glob("equity*.png"):  # one per strategy: a strategy no longer run leaves no chart
        stale.unlink()
    for name, draw in plans:
        path = chart_dir / f"{_file_name(name)}.png"
        if draw(path):
            charts[name] = f"{chart_dir.name}/{path.name}"
            written.append(path)
        elif path.exists():
            path.unlink()
    markdown = out_dir / f"{stem}.md"
    real = real_markets_section(platform) if real_markets else None
    markdown.write_text(render_markdown(docs, charts, when, real_markets=real), encoding="utf-8")
    return ReportResult(markdown, written)
