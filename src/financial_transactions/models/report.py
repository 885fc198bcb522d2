"""Rich renderings of a training outcome: leaderboard, validation report, gate decision.

Shared by ``fin-mlops train`` and the ``train`` stage of ``fin-mlops run``.
"""

from __future__ import annotations

import math

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table

from financial_transactions.models.champion_challenger import GateDecision
from financial_transactions.models.pyfunc import aliases_text
from financial_transactions.models.tournament import TournamentResult
from financial_transactions.models.training import TrainingOutcome
from financial_transactions.models.validator import ValidationReport


def _num(value: float | None, fmt: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "[dim]-[/]"
    return format(value, fmt)


def leaderboard(result: TournamentResult, *, precision_at_k: int, fixed_fpr: float) -> Table:
    """Ranked on the validation slice (``val`` column); every other figure is on the held-out test slice."""
    primary = result.primary_metric
    table = Table(
        title=f"tournament {result.tournament_id[:8]} · ranked by validation {primary} · test = held out",
    )
    table.add_column("rank", justify="right")
    table.add_column("model", style="bold")
    table.add_column("status")
    table.add_column(f"val {primary}", justify="right")
    for name in ("test PR-AUC", "ROC-AUC", f"P@{precision_at_k}", f"R@FPR {fixed_fpr:g}", "F1", "threshold"):
        table.add_column(name, justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("train s", justify="right")
    table.add_column("error", overflow="fold")
    for r in result.results:
        m = r.metrics
        table.add_row(
            str(r.rank) if r.rank else "[dim]-[/]",
            r.name + (" 🏆" if r.rank == 1 else ""),
            "[green]ok[/]" if r.ok else "[bold red]failed[/]",
            _num(r.validation_metrics.get(primary)),
            _num(m.get("pr_auc")),
            _num(m.get("roc_auc")),
            _num(m.get("precision_at_k")),
            _num(m.get("recall_at_fpr")),
            _num(m.get("f1")),
            _num(r.threshold),
            _num(m.get("inference_rows_per_s"), ",.0f"),
            _num(r.train_seconds, ".1f"),
            r.error or "",
        )
    return table


def validation_table(report: ValidationReport) -> Table:
    verdict = "[green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    table = Table(title=f"validation {verdict}")
    table.add_column("check", style="bold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for c in report.checks:
        table.add_row(c.name, "[green]pass[/]" if c.passed else "[bold red]FAIL[/]", c.detail)
    return table


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
