"""``fin-mlops feedback confirm|dismiss``: an analyst's verdict on a flagged bar, the first label source."""

from __future__ import annotations

from datetime import datetime

import typer

from financial_transactions.cli.main import console, err_console, platform_from_ctx

feedback_app = typer.Typer(
    help="confirm or dismiss a flagged bar (analyst feedback, the first label source)", rich_markup_mode=None
)


def register(app: typer.Typer) -> None:
    app.add_typer(feedback_app, name="feedback")


def _record(ctx: typer.Context, verdict: str, symbol: str, bar_start: datetime, by: str, note: str | None) -> None:
    from financial_transactions.features.feedback import FeedbackError, record_feedback

    try:
        row = record_feedback(
            platform_from_ctx(ctx), symbol=symbol, bar_start=bar_start, verdict=verdict, analyst=by, note=note
        )
    except FeedbackError as exc:
        err_console.print(f"[red]feedback: {exc}[/]", highlight=False)
        raise typer.Exit(code=2) from None
    console.print(
        f"{row['verdict']} {row['symbol']} bar {row['bar_start']:%Y-%m-%d %H:%M}Z by {row['analyst']} "
        f"(feedback {row['feedback_id']})",
        highlight=False,
    )


SYMBOL = typer.Option(..., "--symbol", help="the bar's symbol")
BAR_START = typer.Option(..., "--bar-start", help="the bar's start (ISO 8601; naive = UTC)")
BY = typer.Option(..., "--by", help="who reviewed the bar")
NOTE = typer.Option(None, "--note", help="why (optional)")


@feedback_app.command("confirm")
def confirm(
    ctx: typer.Context, symbol: str = SYMBOL, bar_start: datetime = BAR_START, by: str = BY, note: str | None = NOTE
) -> None:
    """Confirm a flagged bar as an anomaly: it trains and is monitored as one, whatever the rule said."""
    _record(ctx, "confirmed", symbol, bar_start, by, note)


@feedback_app.command("dismiss")
def dismiss(
    ctx: typer.Context, symbol: str = SYMBOL, bar_start: datetime = BAR_START, by: str = BY, note: str | None = NOTE
) -> None:
    """Dismiss a flagged bar as normal: it trains and is monitored as normal, whatever the rule said."""
    _record(ctx, "dismissed", symbol, bar_start, by, note)
