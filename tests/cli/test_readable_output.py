"""Readable output (issue 20): tables at 80 columns (a terminal of 80, or a pipe), --json, help, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console

from financial_transactions.decision.render import decision_table
from financial_transactions.pipeline.runs import PipelineResult, WriteCounts
from financial_transactions.runtime.tables import Column, DataTable

CRITERIA = ["trend", "momentum", "volatility", "backtest", "model", "drift"]
WHY = (
    "trend up (SMA30 deviation +1.2%), momentum positive, volatility calm against its own history, "
    "backtest edge weak after deflation, model flags 2 bars, no drift"
)


def _render(table: DataTable, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text().splitlines()


def _matrix() -> pd.DataFrame:
    rows = []
    for rank, symbol in enumerate(["BTCUSDT", "ETHUSDT", "SOLUSDT", "ES_CONTINUOUS_FRONT_MONTH"], start=1):
        row = {"rank": rank, "symbol": symbol, "recommendation": "BUY", "final_score": 0.75 - rank / 10}
        for name in CRITERIA:
            row[f"{name}_score"], row[f"{name}_label"] = 4, "Strong"
        rows.append({**row, "explanation": WHY})
    return pd.DataFrame(rows)


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed CLI with stdout piped and no COLUMNS: what `fin-mlops ... | less` sees."""
    clean = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-c", "from financial_transactions.cli import app; app()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, **(env or {})},
    )


def test_decide_at_80_columns_keeps_every_symbol_whole_and_no_line_longer() -> None:
    table = decision_table(_matrix(), CRITERIA)
    lines = _render(table, 80)
    assert table.layout == "vertical"
    assert max(len(line.rstrip()) for line in lines) <= 80
    headings = [line.strip() for line in lines if line and not line.startswith(" ")]
    assert headings == ["decision matrix", "BTCUSDT", "ETHUSDT", "SOLUSDT", "ES_CONTINUOUS_FRONT_MONTH",
                        "risk criteria (volatility, model, drift) only lower a score"]  # fmt: skip
    assert "…" not in "\n".join(lines)
    assert lines[2].strip() == "rank 1 · recommendation BUY · score 0.65 · trend 4 Strong · momentum 4 Strong"
    why = [line for line in lines if line.lstrip().startswith("why:")]
    assert len(why) == 4  # the explanation wraps over 2-3 lines per symbol, not 14


def test_decide_in_a_wide_terminal_abbreviates_with_a_legend() -> None:
    table = decision_table(_matrix(), CRITERIA)
    lines = _render(table, 200)
    assert table.layout == "narrow"
    assert max(len(line.rstrip()) for line in lines) <= 200
    assert lines[-1] == "legend: # = rank, rec = recommendation"
    assert any("ES_CONTINUOUS_FRONT_MONTH" in line for line in lines)


def test_decide_json_is_exactly_the_rows() -> None:
    records = decision_table(_matrix(), CRITERIA).records()
    assert [r["symbol"] for r in records] == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "ES_CONTINUOUS_FRONT_MONTH"]
    assert records[0] == {
        "rank": 1,
        "symbol": "BTCUSDT",
        "recommendation": "BUY",
        "final_score": 0.65,
        **{k: v for name in CRITERIA for k, v in ((f"{name}_score", 4), (f"{name}_label", "Strong"))},
        "explanation": WHY,
    }


def test_features_sharing_a_prefix_stay_distinct_at_80_columns() -> None:
    names = ["flat_run_trades", "flat_run_seconds", "max_cross_ts_volume_share", "trade_rate_ratio"]
    table = DataTable(
        "drift",
        [
            Column("feature", "feature", ident=True),
            Column("kind", "kind"),
            Column("psi", "PSI (warn 0.1 / alert 0.25)", short="PSI", justify="right"),
            Column("js", "JS (warn 0.1 / alert 0.2)", short="JS", justify="right"),
            Column("bins", "bins", justify="right"),
            Column("missing", "missing ref/cur", short="miss", justify="right"),
            Column("status", "status"),
        ],
        [
            {
                "feature": n,
                "kind": "numeric",
                "psi": 5.9301,
                "js": 0.4127,
                "bins": 10,
                "missing": "0/0",
                "status": "insufficient_data",
            }
            for n in names
        ],
    )
    lines = _render(table, 80)
    assert table.layout == "vertical"  # 91 columns wide even abbreviated: one block per feature
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert [line.rstrip() for line in lines if not line.startswith(" ")] == names
    assert lines[1].rstrip() == "  kind numeric · PSI (warn 0.1 / alert 0.25) 5.9301"

    table.rows = [{**row, "status": "alert"} for row in table.rows]
    lines = _render(table, 80)
    assert table.layout == "narrow"  # 78 columns with PSI / JS / miss abbreviated
    assert max(len(line.rstrip()) for line in lines) <= 80
    for name in names:
        assert sum(f"┃ {name} " in line or f"│ {name} " in line for line in lines) == 1
    assert lines[-2:] == [
        "legend: PSI = PSI (warn 0.1 / alert 0.25), JS = JS (warn 0.1 / alert 0.2), miss ",
        "= missing ref/cur",
    ]


def test_info_piped_fits_80_columns_and_folds_paths_without_cutting_them(tmp_path: Path, project_root: Path) -> None:
    root = tmp_path / "a_lakehouse_root_long_enough_to_fold_its_volume_paths"
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(root)]
    proc = _run_cli(*base, "info")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    joined = "".join(line.strip() for line in lines)  # a folded path continues on the next line, nothing between
    for path in (root / "Volumes/mlops_dev/financial_transactions/landing", root / "_state/mlflow/mlflow.db"):
        assert str(path) in joined
    assert "…" not in proc.stdout

    as_json = _run_cli(*base, "info", "--json")
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert list(doc) == ["settings", "tables"]
    settings = {row["setting"]: row["value"] for row in doc["settings"]}
    assert settings["lakehouse root"] == str(root)
    assert settings["reports"] == str(root / "Volumes/mlops_dev/financial_transactions/reports")  # follows the root
    assert doc["tables"][0] == {"key": "bronze_trades", "table": "mlops_dev.financial_transactions.bronze_trades",
                                "rows": None, "version": None}  # fmt: skip
    assert all(row["version"] is None for row in doc["tables"])


def test_help_at_80_columns_keeps_option_names_and_has_no_type_labels() -> None:
    proc = _run_cli("drift", "--help")
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    assert "--reference-version" in proc.stdout and "--json" in proc.stdout
    assert "<bool>" not in proc.stdout and "…" not in proc.stdout


def test_trigger_or_duration_without_stream_is_one_line_and_exit_2(project_root: Path, tmp_path: Path) -> None:
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path)]
    for option, value in (("--trigger", "availableNow"), ("--duration", "5")):
        proc = _run_cli(*base, "pipeline", option, value)
        assert proc.returncode == 2
        assert proc.stderr == f"{option} applies to a stream: add --stream (or drop {option})\n"
        assert proc.stdout == ""


def test_this_run_keeps_inserted_updated_and_rewritten_apart() -> None:
    result = PipelineResult(run_id="r", mode="incremental", bronze_rows_added=120)
    result.silver.silver_inserted, result.silver.bars_inserted, result.silver.bars_updated = 118, 2, 3
    result.gold, result.gold_rows_written = WriteCounts(inserted=2, updated=24_971), 24_973
    this_run = result.this_run()
    assert this_run["gold_trade_features"] == WriteCounts(inserted=2, updated=24_971)  # not +24,973
    assert this_run["silver_bars"] == WriteCounts(inserted=2, updated=3)
    assert this_run["bronze_trades"] == WriteCounts(inserted=120)
    full = PipelineResult(run_id="f", mode="full_refresh", bronze_rows_added=500)
    full.gold, full.gold_rows_written = WriteCounts(rewritten=41_007), 41_007
    assert full.this_run()["bronze_trades"] == WriteCounts(rewritten=500)
    assert full.this_run()["gold_trade_features"] == WriteCounts(rewritten=41_007)
