"""How a monitoring cycle is shown: the drift table and the cycle's decisions, for the CLI and the stage."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from financial_transactions.monitoring.cycle import MonitoringCycle
from financial_transactions.monitoring.drift_detector import DriftReport
from financial_transactions.runtime.tables import Column, DataTable

_STATUS_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red", "insufficient_data": "dim"}


def drift_table(report: DriftReport) -> DataTable:
    """One row per feature, the most drifted first; ``*`` marks a critical feature."""
    cfg = report.config
    title = f"drift run {report.run_id[:12]}"
    if report.reference is not None and report.current is not None:
        title += f": {report.reference.label} -> {report.current.label}"
    rows = [
        {
            "feature": f.feature,
            "critical": bool(f.critical),
            "kind": f.kind,
            "psi": f.psi,
            "js": f.js,
            "bins": f.bins,
            "reference_missing": f.reference_missing,
            "current_missing": f.current_missing,
            "status": f.status,
        }
        for f in sorted(report.features, key=lambda x: -(x.psi if x.psi is not None else -1.0))
    ]
    columns = [
        Column(
            "feature",
            "feature",
            ident=True,
            style="bold",
            fmt=lambda r: escape(r["feature"]) + (" *" if r["critical"] else ""),
        ),
        Column("kind", "kind"),
        Column(
            "psi",
            f"PSI (warn {cfg.psi_warn:g} / alert {cfg.psi_alert:g})",
            short="PSI",
            justify="right",
            fmt=lambda r: "-" if r["psi"] is None else f"{r['psi']:.4f}",
        ),
        Column(
            "js",
            f"JS (warn {cfg.js_warn:g} / alert {cfg.js_alert:g})",
            short="JS",
            justify="right",
            fmt=lambda r: "-" if r["js"] is None else f"{r['js']:.4f}",
        ),
        Column("bins", "bins", justify="right"),
        Column(
            "reference_missing",
            "missing ref/cur",
            short="miss",
            justify="right",
            fmt=lambda r: f"{r['reference_missing']}/{r['current_missing']}",
        ),
        Column("status", "status", fmt=lambda r: f"[{_STATUS_STYLE.get(r['status'], 'white')}]{r['status']}[/]"),
    ]
    caption = "* critical feature" if any(r["critical"] for r in rows) else None
    return DataTable("drift", columns, rows, title=title, caption=caption)


def print_cycle(console: Console, cycle: MonitoringCycle) -> None:
    """The drift table, then the cycle's decisions in words."""
    console.print(drift_table(cycle.drift))
    print_decisions(console, cycle)


def print_decisions(console: Console, cycle: MonitoringCycle) -> None:
    """The drift decision, the champion's performance, the trigger, the launch and the alerts."""
    report = cycle.drift
    colour = "red" if report.drift_detected else "green"
    console.print(f"[bold]drift decision:[/] [{colour}]{report.overall}[/] - {report.reason}")
    if cycle.performance is not None:
        p = cycle.performance
        current = "-" if p.current is None else f"{p.current:.4f}"
        baseline = "-" if p.baseline is None else f"{p.baseline:.4f}"
        raw = "-" if p.current_raw is None else f"{p.current_raw:.4f}"
        basis = (
            f" at the baseline's anomaly rate {p.baseline_prevalence:.2%} (raw {raw})"
            if p.baseline_prevalence is not None
            else " (raw: the baseline's anomaly rate is unknown)"
        )
        o = p.overall
        band = f" [{o.lower:.3f}, {o.upper:.3f}] ({o.confidence:.0%})" if o and o.lower is not None else ""
        count = f" on {o.positives} labelled anomalies in {o.rows:,} bars" if o is not None else ""
        spread = f" ± {p.baseline_se:.3f} (se)" if p.baseline_se is not None else ""
        console.print(
            f"[bold]champion v{p.model_version}:[/] {p.metric} {current}{band} over the whole current window"
            f"{count}{basis}, {len(p.windows)} window(s); baseline {baseline}{spread} ({p.baseline_source})",
            highlight=False,
        )
    elif cycle.performance_error:
        console.print(f"[bold red]performance: error[/] - {cycle.performance_error}", highlight=False)
    elif cycle.performance_note:
        console.print(f"[bold]performance:[/] skipped - {cycle.performance_note}")
    if cycle.trigger is not None:
        t = cycle.trigger
        colour = "bold magenta" if t.triggered else "cyan"
        console.print(f"[bold]retraining trigger:[/] [{colour}]{t.decision}[/] - {t.reason}")
        if t.launch is not None:
            detail = f" - {t.launch.detail}" if t.launch.detail else ""
            console.print(f"[bold]launch:[/] {t.launch.status} via {t.launch.launcher}{detail}", highlight=False)
    if cycle.alerts:
        undelivered = [s for s in cycle.alerts if s != "delivered"]
        colour = "yellow" if undelivered else "green"
        note = (
            f" - WARNING: {len(undelivered)} of {len(cycle.alerts)} not delivered (set the alert webhook)"
            if undelivered
            else ""
        )
        console.print(f"[bold]alerts:[/] [{colour}]{', '.join(cycle.alerts)}{note}[/]", highlight=False)
