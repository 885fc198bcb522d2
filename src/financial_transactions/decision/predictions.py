"""Synthesised predictions: the champion scores gold rows and the scores are *appended* to Delta.

``synthesized_predictions`` (keys symbol + bar_start + model_version) only ever grows:
each scoring run appends the rows its model version has not scored yet, so every Delta
version of the table is exactly the set of predictions that existed at that moment, and a
backtest ``--as-of-version N`` can replay it (Delta time travel).

The champion is the registry alias ``models:/<cfg.model_name>@champion``; the alias is
resolved to its version *before* loading, so every row names the exact model that made
it even if the alias moves during the run.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.lakehouse import Platform
from financial_transactions.lakehouse.errors import TableNotFound

log = logging.getLogger(__name__)

#: Rows scored per pyfunc call (bounds memory on large gold tables).
SCORING_CHUNK = 200_000


class NoChampion(RuntimeError):
    """The registry positively answered that no champion alias exists (nothing to score with)."""


@dataclass(frozen=True)
class ScoringRun:
    run_id: str
    model_version: str
    gold_version: int
    rows_scored: int
    rows_flagged: int
    table_version: int | None


def champion_uri(platform: Platform) -> str:
    return f"models:/{platform.config.model_name}@champion"


def load_champion(platform: Platform) -> tuple[int, Any]:
    """(version, pyfunc) of the champion; :class:`NoChampion` when the registry lists none."""
    from financial_transactions.models.registry import ModelRegistry

    registry = ModelRegistry.from_platform(platform)
    if not registry.exists() or registry.champion_version() is None:
        raise NoChampion(f"{champion_uri(platform)} does not exist yet: train and promote a model first")
    return registry.load_alias("champion")


def input_columns(model: Any) -> list[str] | None:
    """The pyfunc's signature input names (None when it has no signature)."""
    try:
        schema = model.metadata.get_input_schema()
    except AttributeError:
        return None
    return list(schema.input_names()) if schema is not None else None


def score_frame(model: Any, frame: pd.DataFrame, chunk: int = SCORING_CHUNK) -> pd.DataFrame:
    """``score``, ``label``, ``model_version`` for every row of ``frame`` (chunked pyfunc calls).

    Only the signature's columns are passed (gold carries many more), so the pyfunc
    neither copies nor warns about the extras.
    """
    cols = input_columns(model)
    if cols is not None and set(cols) <= set(frame.columns):
        frame = frame[cols]
    parts = [model.predict(frame.iloc[i : i + chunk]) for i in range(0, len(frame), chunk)]
    out = pd.concat(parts) if parts else pd.DataFrame(columns=["score", "label", "model_version"])
    return out.set_axis(frame.index)


def synthesize_predictions(platform: Platform, model: Any | None = None, version: int | None = None) -> ScoringRun:
    """Score the gold rows the champion has not scored yet and append them.

    ``model``/``version`` default to the registry champion (tests may pass a pyfunc).
    """
    cfg = platform.config
    store = platform.store
    if model is None or version is None:
        version, model = load_champion(platform)
    model_version = str(version)
    gold_fqn = cfg.table("gold_trade_features")
    preds_fqn = cfg.table("synthesized_predictions")
    if not store.exists(gold_fqn):
        raise TableNotFound(f"{gold_fqn} does not exist: run the pipeline first")
    gold_version = store.version(gold_fqn)
    gold = store.read(gold_fqn, version=gold_version)
    if store.exists(preds_fqn):
        done = store.read(preds_fqn, columns=["symbol", "bar_start", "model_version"])
        done = done[done["model_version"].astype(str) == model_version]
        if not done.empty:
            key = pd.MultiIndex.from_frame(done[["symbol", "bar_start"]])
            seen = pd.MultiIndex.from_frame(gold[["symbol", "bar_start"]]).isin(key)
            gold = gold[~seen]
    run_id = uuid.uuid4().hex[:16]
    if gold.empty:
        log.info("predictions: model %s has already scored every gold row", model_version)
        return ScoringRun(run_id, model_version, gold_version, 0, 0, None)
    scored = score_frame(model, gold.reset_index(drop=True))
    rows = pd.DataFrame(
        {
            "symbol": gold["symbol"].to_numpy(dtype=object),
            "bar_start": pd.to_datetime(gold["bar_start"], utc=True).to_numpy(),
            "model_version": model_version,
            "score": scored["score"].to_numpy(dtype=np.float64),
            "label": scored["label"].to_numpy(dtype=np.int64),
            "scored_at": datetime.now(UTC),
            "scoring_run_id": run_id,
            "gold_version": np.int64(gold_version),
        }
    )
    rows["bar_start"] = pd.to_datetime(rows["bar_start"], utc=True)
    table_version = store.append(preds_fqn, rows)
    flagged = int(rows["label"].sum())
    log.info(
        "predictions: model %s scored %d rows (%d flagged) -> %s v%d",
        model_version,
        len(rows),
        flagged,
        preds_fqn,
        table_version,
    )
    return ScoringRun(run_id, model_version, gold_version, len(rows), flagged, table_version)
