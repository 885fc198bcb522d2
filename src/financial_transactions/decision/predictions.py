"""Synthesised predictions: the champion scores gold rows and the scores are *appended* to Delta.

``synthesized_predictions`` (keys symbol + bar_start + model_version) only ever grows:
each scoring run appends the rows its model version has not scored yet, so every Delta
version of the table is exactly the set of predictions that existed at that moment, and a
backtest ``--as-of-version N`` can replay it (Delta time travel).

The champion is the registry alias ``models:/<cfg.model_name>@champion``; the alias is
resolved to its version *before* loading, so every row names the exact model that made
it even if the alias moves during the run.

**Which prediction counts** (:func:`champion_predictions`): per bar, the prediction of *one*
model, the current champion, never "the newest row" (after a rollback the rolled-back-to
version's rows count again, though another version scored those bars later). Scoring runs
only fill in the bars the champion lacks, so the table stays append-only.

**Training cutoff.** Every row carries ``train_cutoff``, the newest ``bar_start`` its model
was trained on (:func:`training_cutoff`), so a backtest can tell out-of-sample predictions
from in-sample ones; null when it cannot be established (then no bar counts as out of sample).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from financial_transactions.lakehouse.errors import TableNotFound
from financial_transactions.models.registry import ModelRegistry, RegistryError
from financial_transactions.runtime import Platform

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
    train_cutoff: pd.Timestamp | None = None


#: A model-version tag stating the training-data cutoff outright (ISO-8601 instant); it wins over lineage.
TRAIN_CUTOFF_TAG = "train_cutoff"
#: Parameter prefix under which the tournament's parent run logs each feature table's Delta version.
TABLE_VERSION_PARAM = "table_version."
_PARENT_RUN_TAG = "mlflow.parentRunId"


def champion_uri(platform: Platform) -> str:
    return f"models:/{platform.config.model_name}@champion"


def registry_champion(platform: Platform) -> str | None:
    """The registry champion's version, or None when there is none or the registry cannot say (logged)."""
    try:
        registry = ModelRegistry.from_platform(platform)
        version = registry.champion_version() if registry.exists() else None
    except RegistryError as exc:
        log.warning("predictions: cannot read the champion alias (%s); following the newest scoring run", exc)
        return None
    return None if version is None else str(version)


def training_cutoff(platform: Platform, version: int) -> pd.Timestamp | None:
    """The newest ``bar_start`` that model ``version`` was trained (fit and thresholded) on; None if unknown.

    1. the version's tag ``train_cutoff`` when someone stated it;
    2. else the lineage the tournament records: version -> its MLflow run -> the tournament's
       parent run -> param ``table_version.<train_set>`` -> ``max(bar_start)`` of ``train_set``
       (train + validation rows) at that Delta version.

    None means *positively* unknown (no run, no recorded train_set version, the run or the
    table version is gone: logged), which the backtest treats as "no out-of-sample bar". A
    registry that cannot be read raises :class:`RegistryError` instead: the cutoff is written
    once per row, so a passing outage must not become a permanent "unknown".
    """
    registry = ModelRegistry.from_platform(platform)
    info = registry.version_info(version)
    stated = (info.tags or {}).get(TRAIN_CUTOFF_TAG)
    if stated:
        return _utc(stated)
    if not info.run_id:
        log.warning("predictions: model v%s has no MLflow run: its training cutoff is unknown", version)
        return None
    params: dict[str, str] = {}
    run_id: str | None = info.run_id
    while run_id:  # the model's run, then the tournament run it is nested in
        try:
            run = registry.client.get_run(run_id)
        except Exception as exc:
            if getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
                log.warning("predictions: run %s of model v%s is gone: training cutoff unknown", run_id, version)
                return None
            raise RegistryError(f"registry: cannot read run {run_id} of model v{version}: {exc}") from exc
        params = {**dict(run.data.params), **params}
        run_id = run.data.tags.get(_PARENT_RUN_TAG)
    train_fqn = platform.config.table("train_set")
    key = f"{TABLE_VERSION_PARAM}{train_fqn}"
    if key not in params:  # trained in another catalog (e.g. promoted across envs): same table name
        suffix = "." + train_fqn.rsplit(".", 1)[-1]
        key = next((k for k in params if k.startswith(TABLE_VERSION_PARAM) and k.endswith(suffix)), key)
    if key not in params:
        log.warning("predictions: model v%s records no train_set version: its training cutoff is unknown", version)
        return None
    fqn = key[len(TABLE_VERSION_PARAM) :]
    try:
        times = platform.store.read(fqn, version=int(params[key]), columns=["bar_start"])["bar_start"]
    except Exception as exc:  # dropped or vacuumed: the data the model saw is gone for good
        log.warning("predictions: %s v%s (model v%s's training data) unreadable: %s", fqn, params[key], version, exc)
        return None
    newest = pd.to_datetime(times, utc=True).max()
    return None if pd.isna(newest) else pd.Timestamp(newest)


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def newest_scoring_model(predictions: pd.DataFrame) -> str | None:
    """The model version of the newest scoring run (ties: the higher version): the champion of its time."""
    if predictions.empty:
        return None
    when = predictions["scored_at"] if "scored_at" in predictions.columns else pd.Series(pd.NaT, predictions.index)
    df = pd.DataFrame(
        {
            "model_version": predictions["model_version"].astype(str),
            "_t": pd.to_datetime(when, utc=True),
            "_v": pd.to_numeric(predictions["model_version"], errors="coerce").fillna(-1),
        }
    )
    return str(df.sort_values(["_t", "_v"], kind="stable", na_position="first").iloc[-1]["model_version"])


def champion_predictions(predictions: pd.DataFrame, champion: str | None) -> tuple[pd.DataFrame, str | None]:
    """The predictions that count: ``champion``'s, one per (symbol, bar_start), and which model that is.

    ``champion`` is the current champion's version; None means "the model of the newest
    scoring run" (the champion of the snapshot's time, for a replay of the past). A bar the
    champion has not scored has no prediction: another model's view never stands in for it.
    """
    if predictions.empty:
        return predictions, champion
    chosen = champion if champion is not None else newest_scoring_model(predictions)
    rows = predictions[predictions["model_version"].astype(str) == chosen]
    if "scored_at" in rows.columns:
        rows = rows.sort_values("scored_at", kind="stable")
    rows = rows.drop_duplicates(["symbol", "bar_start"], keep="last")
    return rows.sort_values(["symbol", "bar_start"], kind="stable").reset_index(drop=True), chosen


def load_champion(platform: Platform) -> tuple[int, Any]:
    """(version, pyfunc) of the champion; :class:`NoChampion` when the registry lists none."""
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
    cutoff = training_cutoff(platform, int(version))
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
        return ScoringRun(run_id, model_version, gold_version, 0, 0, None, cutoff)
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
            "train_cutoff": pd.Series(cutoff, index=range(len(gold)), dtype="datetime64[us, UTC]"),
        }
    )
    rows["bar_start"] = pd.to_datetime(rows["bar_start"], utc=True)
    table_version = store.append(preds_fqn, rows)
    flagged = int(rows["label"].sum())
    log.info(
        "predictions: model %s (trained up to %s) scored %d rows (%d flagged) -> %s v%d",
        model_version,
        cutoff.isoformat() if cutoff is not None else "an unknown cutoff",
        len(rows),
        flagged,
        preds_fqn,
        table_version,
    )
    return ScoringRun(run_id, model_version, gold_version, len(rows), flagged, table_version, cutoff)
