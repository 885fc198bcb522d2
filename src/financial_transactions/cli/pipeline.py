"""``fin-mlops pipeline``: landing -> bronze -> silver -> gold, incremental by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

import typer
from rich.markup import escape

from financial_transactions.cli.main import console, err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, key_value_table, out, show
from financial_transactions.runtime import NotOnThisRuntime

if TYPE_CHECKING:
    from financial_transactions.pipeline.runs import PipelineResult
    from financial_transactions.pipeline.stream import BatchProgress
    from financial_transactions.runtime import Platform

Trigger = Literal["availableNow", "processingTime"]


def register(app: typer.Typer) -> None:
    app.command("pipeline")(pipeline)


def pipeline(
    ctx: typer.Context,
    full_refresh: bool = typer.Option(False, "--full-refresh", help="rebuild every layer from all landing files"),
    as_of_version: int | None = typer.Option(
        None,
        "--as-of-version",
        min=0,
        help="time travel: show gold as of this Delta version and rebuild it from the silver version that made it",
    ),
    stream: bool = typer.Option(
        False,
        "--stream",
        help="run bronze -> silver -> gold as Structured Streaming (checkpointed), the champion scoring each new "
        "gold bar into anomaly_alerts + webhook (alerting.live)",
    ),
    no_scoring: bool = typer.Option(False, "--no-scoring", help="with --stream: refine only, no live scoring"),
    trigger: str | None = typer.Option(
        None, "--trigger", help="with --stream: availableNow or processingTime (default: config)"
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=1, help="with --stream --trigger processingTime: stop after N seconds"
    ),
    declarative: bool = typer.Option(
        False,
        "--declarative",
        help="run scripts/financial/dlt_pipeline.py under OSS spark-pipelines (hive catalog, parquet) instead",
    ),
    as_json: bool = JSON,
) -> None:
    """Run the medallion pipeline and print per-layer counts and quarantine counts by rule."""
    from financial_transactions.pipeline.batch import PipelineRunner

    if as_of_version is not None and (full_refresh or stream or declarative):
        err_console.print("[red]--as-of-version only reads history; it cannot be combined with a run[/]")
        raise typer.Exit(code=2)
    if declarative and stream:
        err_console.print("[red]--declarative and --stream are two different engines; pick one[/]")
        raise typer.Exit(code=2)
    if not stream and (trigger is not None or duration is not None):  # never silently ignored
        given = "--trigger" if trigger is not None else "--duration"
        err_console.print(f"[red]{given} applies to a stream: add --stream (or drop {given})[/]", highlight=False)
        raise typer.Exit(code=2)
    if trigger is not None and trigger not in ("availableNow", "processingTime"):
        err_console.print(f"[red]--trigger must be availableNow or processingTime, not {trigger!r}[/]")
        raise typer.Exit(code=2)
    platform = platform_from_ctx(ctx)
    if as_of_version is not None:
        _time_travel(platform, as_of_version, as_json)
        return
    if declarative:
        _declarative(platform, full_refresh, as_json)
        return
    try:
        if stream:  # one plain line per micro-batch, no spinner: a stream can run for hours
            result = _stream(
                platform, cast("Trigger | None", trigger), duration, scoring=not no_scoring, as_json=as_json
            )
        else:
            with out(as_json).status("pipeline", spinner="dots") as status:
                result = PipelineRunner(platform, progress=status.update).run(full_refresh=full_refresh)
    except FileNotFoundError as exc:  # e.g. --full-refresh with an empty landing zone: what to do, not a traceback
        err_console.print(
            f"[red]{escape(str(exc))}[/] (land data first: `fin-mlops replay` + `fin-mlops ingest …`)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=2) from None
    except RuntimeError as exc:
        if not _is_missing_java(exc):
            raise
        err_console.print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    _print_result(result, as_json)


def _is_missing_java(exc: BaseException) -> bool:
    """The embedded engine's "install Java" error, which is an operator's setup step, not a bug to trace."""
    return "Java" in str(exc) and "not found" in str(exc)


def batch_line(batch: BatchProgress) -> str:
    """One micro-batch's progress line: batch id, rows in and out, duration."""
    gold = f", gold {batch.gold_rows:,}" if batch.gold_rows else ""
    return (
        f"batch {batch.batch_id}: {batch.rows_in:,} row(s) in from {batch.files} new file(s) -> "
        f"{batch.rows_out:,} out (silver +{batch.silver_inserted:,}, quarantine +{batch.quarantine_inserted:,}{gold})"
        f" in {batch.seconds:.1f}s"
    )


def _stream(
    platform: Platform, trigger: Trigger | None, duration: float | None, *, scoring: bool, as_json: bool = False
) -> PipelineResult:
    from financial_transactions.monitoring.live_scoring import attach
    from financial_transactions.pipeline.stream import StreamProcessor, stream_to_gold

    progress = out(as_json)
    scorer = attach(platform) if scoring else None
    processor = StreamProcessor(
        platform,
        trigger=trigger,
        on_gold=scorer,
        on_batch=lambda batch: progress.print(batch_line(batch), markup=False, highlight=False, soft_wrap=True),
    )
    if processor.trigger == "processingTime" and duration is None:
        progress.print(f"[dim]real-time mode every {processor.processing_time}; Ctrl-C to stop[/]")
    progress.print(f"stream ({processor.trigger}) started, run {processor.run_id}", highlight=False, soft_wrap=True)
    result = stream_to_gold(processor, timeout=duration)
    if scorer is not None:
        t = scorer.totals
        waiting = ", ".join(f"{n} {status}" for status, n in sorted(t.undelivered.items())) or "none"
        champion = f"champion v{scorer.champion.version}" if scorer.champion else "no champion (bars backlogged)"
        console.print(
            f"live scoring ({champion}): {t.bars_scored:,} bar(s) scored, {t.alerts_inserted} new alert(s), "
            f"{t.delivered} webhook(s) delivered; not delivered: {waiting}",
            highlight=False,
        )
    return result


def _print_result(result: PipelineResult, as_json: bool = False) -> None:
    """Per layer: rows now, and what this run did, inserted / updated / rewritten kept apart."""
    this_run = result.this_run()
    layers = []
    for key, rows in result.counts.items():
        counts = this_run.get(key)
        version = result.versions.get(key, -1)
        layers.append(
            {
                "table": key,
                "rows": rows,
                "inserted": counts.inserted if counts else 0,
                "updated": counts.updated if counts else 0,
                "rewritten": counts.rewritten if counts else 0,
                "version": version if version >= 0 else None,
            }
        )
    title = "pipeline: nothing new in the landing zone" if not result.changed else f"pipeline run ({result.mode})"

    def count(key: str, sign: str = "") -> Callable[[dict[str, Any]], str]:
        return lambda row: f"{sign}{row[key]:,}" if row[key] else "[dim]-[/]"

    layer_table = DataTable(
        "layers",
        [
            Column("table", "layer", ident=True, style="bold"),
            Column("rows", "rows", justify="right", fmt=lambda row: f"{row['rows']:,}"),
            Column("inserted", "inserted", short="ins", justify="right", fmt=count("inserted", "+")),
            Column("updated", "updated", short="upd", justify="right", fmt=count("updated")),
            Column("rewritten", "rewritten", short="rew", justify="right", fmt=count("rewritten")),
            Column("version", "version", short="ver", justify="right"),
        ],
        layers,
        title=title,
        caption="this run: inserted = new rows; updated = recomputed by MERGE; rewritten = overwritten",
    )
    rules = DataTable(
        "quarantine_by_rule",
        [
            Column("rule", "rule", ident=True, style="bold"),
            Column("rows", "rows", justify="right", fmt=lambda row: f"{row['rows']:,}"),
            Column("this_run", "this run", justify="right", fmt=lambda row: f"{row['this_run']:,}"),
        ],
        [
            {"rule": rule, "rows": n, "this_run": result.silver.quarantine_by_rule.get(rule, 0)}
            for rule, n in result.quarantine_totals.items()
        ],
        title="quarantine by rule (all time; a row can break several)",
    )
    files = (
        f"files ingested: {result.files_ingested} of {result.files_discovered or result.files_ingested} found; "
        + ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    )
    if as_json:
        show([layer_table, rules], as_json=True)
        err_console.print(files, highlight=False)
        return
    show([layer_table], as_json=False)
    console.print(files, highlight=False)
    if result.quarantine_totals:
        show([rules], as_json=False)
    else:
        console.print("quarantine: empty")


def _time_travel(platform: Platform, version: int, as_json: bool = False) -> None:
    from financial_transactions.lakehouse import TableNotFound
    from financial_transactions.pipeline.reproduce import reproduce_gold

    try:
        repro = reproduce_gold(platform, version)
    except TableNotFound as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(code=2) from None
    verdict = {True: "yes", False: "NO", None: "unknown"}[repro.reproduced]
    pairs: list[tuple[str, Any]] = [
        ("rows", repro.rows),
        ("symbols", repro.symbols),
        ("built from silver version", repro.silver_version),
        ("rebuilt from that silver, identical", f"{verdict} ({repro.detail})"),
    ]
    if repro.max_abs_diff is not None:
        pairs.append(("max |difference|", f"{repro.max_abs_diff:.3g}"))
    show([key_value_table("reproduction", pairs, title=f"gold_trade_features as of version {version}")], as_json)
    if repro.reproduced is False:
        raise typer.Exit(code=1)


def _declarative(platform: Platform, full_refresh: bool, as_json: bool = False) -> None:
    from financial_transactions.pipeline.declarative import run_local

    try:
        platform.runtime.check_declarative()
    except NotOnThisRuntime as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(code=2) from None
    if platform.spark_remote:
        err_console.print("[red]--declarative runs spark-pipelines on its own local engine; drop --spark-remote[/]")
        raise typer.Exit(code=2)
    work = platform.paths.state_dir / "declarative"
    with out(as_json).status("spark-pipelines run", spinner="dots"):
        try:
            run = run_local(platform.config, landing=platform.paths.landing, work=work, full_refresh=full_refresh)
        except (RuntimeError, FileNotFoundError, ValueError) as exc:
            err_console.print(str(exc), style="red", markup=False, highlight=False)
            raise typer.Exit(code=1) from None
    datasets = DataTable(
        "datasets",
        [
            Column("dataset", "dataset", ident=True, style="bold"),
            Column("rows", "rows", justify="right", fmt=lambda r: f"{r['rows']:,}"),
        ],
        [{"dataset": key, "rows": rows} for key, rows in run.counts.items()],
        title=f"declarative pipeline (spark-pipelines, {run.seconds:.1f}s)",
    )
    show([datasets], as_json)
    out(as_json).print(f"spec {run.spec}; tables under {run.warehouse}", markup=False, highlight=False, soft_wrap=True)
