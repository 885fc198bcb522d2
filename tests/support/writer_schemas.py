"""The columns the real writers give each table, so test fixtures cannot drift from them.

* constants of the code that writes the table (the audit/monitoring Arrow schemas, the silver/bronze/quarantine
  column lists, the keys of the embedded runner's ``pipeline_runs`` row);
* the real writers run once on a tiny market (gold features, champion predictions, backtests, decision
  matrix) for the tables whose columns follow the code and the configuration.

A fixture that writes a column these do not have (a renamed or invented column) fails loudly.
"""

from __future__ import annotations

import ast
import functools
import inspect
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse.catalog import TableKind, specs_of
from financial_transactions.pipeline import runs as runner
from financial_transactions.pipeline.bronze_ingest import BRONZE_COLUMNS
from financial_transactions.pipeline.silver_transform import QUARANTINE_COLUMNS, SILVER_BAR_COLUMNS, SILVER_COLUMNS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WRITER_TABLES = ("gold_trade_features", "synthesized_predictions", "backtest_results", "decision_matrix")


def _run_row_keys() -> list[str]:
    """The keys of the dict ``pipeline.runs.run_row`` returns (one ``pipeline_runs`` row)."""
    tree = ast.parse(inspect.getsource(runner.run_row))
    returned = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Return) and isinstance(n.value, ast.Dict))
    return [k.value for k in returned.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]


@functools.cache
def writer_schemas() -> dict[str, pa.Schema]:
    """Run the real writers once on a tiny market in a throw-away lakehouse; their Delta schemas."""
    from financial_transactions.decision.backtester import Backtester
    from financial_transactions.decision.decision_matrix import DecisionMatrix
    from financial_transactions.decision.predictions import synthesize_predictions
    from financial_transactions.runtime import Platform
    from tests.support.gold import gold_frame, synthetic_trades, train_champion, write_gold

    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    with tempfile.TemporaryDirectory(prefix="fin-mlops-schemas-") as tmp:
        platform = Platform.create(cfg, lakehouse_root=Path(tmp) / "lake")
        gold = gold_frame(platform, synthetic_trades({"AAPL": 190.0, "ETHUSDT": 3_000.0}, 180, seed=13))
        write_gold(platform, gold)
        train_champion(platform, gold, n_estimators=10, seed=4)
        synthesize_predictions(platform)
        backtester = Backtester(platform)
        backtester.write(backtester.run())
        matrix = DecisionMatrix(platform)
        matrix.write(matrix.build())
        return {key: platform.store.read_arrow(cfg.table(key)).schema for key in WRITER_TABLES}


def real_schema(key: str) -> pa.Schema | None:
    """The full Arrow schema the real writer produces, where it is known."""
    known = {s.key: s.schema for s in specs_of(TableKind.JOB) if s.key not in WRITER_TABLES}
    if key in known:
        return known[key]
    if key in WRITER_TABLES:
        return writer_schemas()[key]
    return None


def real_columns(key: str) -> list[str]:
    schema = real_schema(key)
    if schema is not None:
        return list(schema.names)
    lists = {
        "bronze_trades": BRONZE_COLUMNS,
        "silver_trades": SILVER_COLUMNS,
        "silver_bars": SILVER_BAR_COLUMNS,
        "silver_trades_quarantine": QUARANTINE_COLUMNS,
        "pipeline_runs": _run_row_keys(),
    }
    if key not in lists:
        raise KeyError(f"no known real columns for table {key!r}")
    return list(lists[key])


def conform(key: str, frame: pd.DataFrame) -> pa.Table | pd.DataFrame:
    """``frame`` as the real writer would shape it; fails when it has a column the writer never writes."""
    columns = real_columns(key)
    extra = [c for c in frame.columns if c not in columns]
    if extra:
        raise AssertionError(
            f"the fixture writes {extra} to {key}, which the real writer does not (it writes {columns})"
        )
    schema = real_schema(key)
    if schema is None:
        return frame
    full = frame.copy()
    for name in schema.names:  # columns the fixture leaves out are null, as in a sparse real row
        if name not in full.columns:
            full[name] = pd.Series([None] * len(full), index=full.index, dtype="object")
    return pa.Table.from_pandas(full[schema.names], schema=schema, preserve_index=False)
