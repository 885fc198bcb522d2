"""Rich renderings of a training outcome: leaderboard, validation report, gate decision.

Shared by ``fin-mlops train`` and the ``train`` stage of ``fin-mlops run``.
"""

from __future__ import annotations

import math

from rich.console import RenderableType
from rich.markup import escape
from rich.panel import Panel

from financial_transactions.models.champion_challenger import GateDecision
from financial_transactions.models.pyfunc import aliases_text
from financial_transactions.models.tournament import TournamentResult
from financial_transactions.models.training import TrainingOutcome
from financial_transactions.models.validator import ValidationReport
from financial_transactions.runtime.tables import Column, DataTable


def _num(value: float | None, fmt: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "[dim]-[/]"
    return format(value, fmt)


def _figure(key: str, header: str, fmt: str = ".4f", short: str | None = None) -> Column:
    return Column(key, header, short=short, justify="right", fmt=lambda r: _num(r[key], fmt))


def leaderboard(result: TournamentResult, *, precision_at_k: int, fixed_fpr: float) -> DataTable:
    """Ranked on the validation slice (``val`` column); every other figure is on the held-out test slice."""
    primary = result.primary_metric
    rows = []
    for r in result.results:
        m = r.metrics
        rows.append(
            {
                "rank": r.rank,
                "model": r.name,
                "status": r.status,
                f"validation_{primary}": r.validation_metrics.get(primary),
                "pr_auc": m.get("pr_auc"),
                "roc_auc": m.get("roc_auc"),
                "precision_at_k": m.get("precision_at_k"),
                "recall_at_fpr": m.get("recall_at_fpr"),
                "f1": m.get("f1"),
                "threshold": r.threshold,
                "inference_rows_per_s": m.get("inference_rows_per_s"),
                "train_seconds": r.train_seconds,
                "error": r.error,
            }
        )
    columns = [
        Column("rank", "rank", short="#", justify="right", fmt=lambda r: str(r["rank"]) if r["rank"] else "[dim]-[/]"),
        Column(
            "model",
            "model",
            ident=True,
            style="bold",
            fmt=lambda r: escape(r["model"]) + (" 🏆" if r["rank"] == 1 else ""),
        ),
        Column("status", "status", fmt=lambda r: "[green]ok[/]" if r["status"] == "ok" else "[bold red]failed[/]"),
        _figure(f"validation_{primary}", f"val {primary}", short="val"),
        _figure("pr_auc", "test PR-AUC", short="PR"),
        _figure("roc_auc", "ROC-AUC", short="ROC"),
        _figure("precision_at_k", f"P@{precision_at_k}"),
        _figure("recall_at_fpr", f"R@FPR {fixed_fpr:g}", short="R@FPR"),
        _figure("f1", "F1"),
        _figure("threshold", "threshold", short="thr"),
        _figure("inference_rows_per_s", "rows/s", ",.0f"),
        _figure("train_seconds", "train s", ".1f"),
        Column("error", "error", wrap=True, fmt=lambda r: escape(r["error"]) if r["error"] else "[dim]-[/]"),
    ]
    title = f"tournament {result.tournament_id[:8]} · ranked by validation {primary} · test = held out"
    return DataTable("leaderboard", columns, rows, title=title)


def validation_table(report: ValidationReport) -> DataTable:
    columns = [
        Column("check", "check", ident=True, style="bold"),
        Column("passed", "result", fmt=lambda r: "[green]pass[/]" if r["passed"] else "[bold red]FAIL[/]"),
        Column("detail", "detail", wrap=True),
    ]
    rows = [{"check": c.name, "passed": c.passed, "detail": c.detail, "value": c.value, "limit": c.limit}
            for c in report.checks]  # fmt: skip
    # a plain title: the vertical layout prints it as text
    return DataTable("validation", columns, rows, title=f"validation {'PASS' if report.passed else 'FAIL'}")


def decision_panel(decision: GateDecision, model_name: str) -> Panel:
    colour = "green" if decision.promoted else ("bold red" if decision.error else "yellow")
    lines = [
        f"[{colour}]{decision.decision}[/] {model_name} version {decision.challenger_version}"
        + (" (first deploy)" if decision.first_deploy else ""),
        f"champion before: {decision.champion_version if decision.champion_version is not None else 'none'}",
        f"reason: {decision.reason}",
    ]
    lines += gate_figures(decision)
    lines.append(f"aliases now: {aliases_text(decision.state_after)}")
    return Panel("\n".join(lines), title="champion / challenger gate", border_style=colour)


def gate_figures(decision: GateDecision) -> list[str]:
    """The gate's figures in words: the gain with its bound and test, recall at the matched cut, latency."""
    ch, cp, test = decision.challenger, decision.champion, decision.test
    lines = []
    if test is not None and ch is not None and cp is not None:
        lines.append(
            f"same holdout ({ch.rows:,} rows): {test.metric} {ch.metrics[test.metric]:.4f} vs champion "
            f"{cp.metrics[test.metric]:.4f}, gain {test.estimate:+.4f}, {test.confidence:.0%} bounds "
            f"[{test.lower:+.4f}, {test.upper:+.4f}]"
        )
        lines.append(f"test: {test.test}")
    if ch is not None and ch.matched is not None:
        op = ch.matched
        where = f"FPR {op.target:g}" if op.kind == "fpr" else f"alert rate {op.target:g}"
        versus = f" vs champion {cp.matched.recall:.4f}" if cp is not None and cp.matched is not None else ""
        lines.append(
            f"matched operating point ({where}): recall {op.recall:.4f}{versus} "
            f"(challenger flags {op.alert_rate:.2%} of rows, FPR {op.fpr:.4f})"
        )
    if ch is not None:
        versus = f" (champion {cp.latency_ms:.1f} ms, information only)" if cp is not None else ""
        lines.append(f"latency: median {ch.latency_ms:.1f} ms per batch{versus}")
    return lines


def outcome_tables(outcome: TrainingOutcome, *, precision_at_k: int, fixed_fpr: float) -> list[DataTable]:
    """What ``fin-mlops train --json`` prints: the leaderboard, the validation checks, the gate's decision."""
    tables = [leaderboard(outcome.tournament, precision_at_k=precision_at_k, fixed_fpr=fixed_fpr)]
    if outcome.validation is not None:
        tables.append(validation_table(outcome.validation))
    decision = outcome.decision
    rows = [] if decision is None else [
        {
            "status": outcome.status,
            "decision": decision.decision,
            "challenger_version": decision.challenger_version,
            "champion_version": decision.champion_version,
            "first_deploy": decision.first_deploy,
            "reason": decision.reason,
            "error": decision.error,
            "aliases_after": decision.state_after,
        }
    ]  # fmt: skip
    if decision is None:
        rows = [{"status": outcome.status, "registered_version": outcome.registered_version}]
    tables.append(DataTable("decision", [], rows))
    return tables


def outcome_renderables(
    outcome: TrainingOutcome, *, model_name: str, precision_at_k: int, fixed_fpr: float
) -> list[RenderableType]:
    """Everything ``fin-mlops train`` prints, in order."""
    out: list[RenderableType] = [leaderboard(outcome.tournament, precision_at_k=precision_at_k, fixed_fpr=fixed_fpr)]
    if outcome.validation is not None:
        out.append(validation_table(outcome.validation))
    if outcome.decision is not None:
        out.append(decision_panel(outcome.decision, model_name))
    elif outcome.validation is not None and not outcome.validation.passed:
        out.append(
            Panel(
                "[bold red]NOT REGISTERED[/]: the winner failed validation; aliases unchanged",
                title="champion / challenger gate",
                border_style="red",
            )
        )
    return out
