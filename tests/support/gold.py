"""Real gold rows (from the project's feature code) and a real registered champion, for decision/serving tests."""

from __future__ import annotations

from datetime import UTC, datetime

import mlflow
import numpy as np
import pandas as pd

from financial_transactions.config.ml import LightGBMParams
from financial_transactions.decision.predictions import TABLE_VERSION_PARAM
from financial_transactions.features.feature_engineering import build_gold_features, feature_columns
from financial_transactions.models.algorithms import LightGBMModel
from financial_transactions.models.data import TrainingData
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.tournament import log_pyfunc
from financial_transactions.runtime import Platform

T0 = pd.Timestamp("2026-03-09 14:30", tz="UTC")  # a Monday, regular session


def synthetic_trades(
    symbols: dict[str, float], minutes: int, *, seed: int = 0, start: pd.Timestamp = T0, per_minute: int = 6
) -> pd.DataFrame:
    """Random-walk trades (several per minute) with occasional price spikes, like silver rows."""
    rng = np.random.default_rng(seed)
    frames = []
    n = minutes * per_minute
    for k, (symbol, price0) in enumerate(symbols.items()):
        steps = rng.normal(0.0, 0.0008, n) + 0.00002 * np.sin(np.arange(n) / (80 + 20 * k))
        spikes = rng.random(n) < 0.01
        steps[spikes] += rng.choice([-1, 1], spikes.sum()) * 0.01
        price = price0 * np.exp(np.cumsum(steps))
        offsets = np.sort(rng.uniform(0, minutes * 60_000, n)).astype(np.int64)
        ts = start + pd.to_timedelta(offsets, unit="ms")
        crypto = symbol.endswith("USDT")
        frames.append(
            pd.DataFrame(
                {
                    "trade_id": [f"{symbol}-{i:06d}" for i in range(n)],
                    "source": "binance" if crypto else "finnhub",
                    "asset_class": "crypto" if crypto else "equity",
                    "symbol": symbol,
                    "price": price,
                    "volume": rng.integers(1, 500, n).astype(float),
                    "ts": ts,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def gold_frame(platform: Platform, trades: pd.DataFrame) -> pd.DataFrame:
    return build_gold_features(trades, platform.config.features)


def write_gold(platform: Platform, gold: pd.DataFrame) -> int:
    return platform.store.append(platform.config.table("gold_trade_features"), gold)


#: A training cutoff before every synthetic bar: all of a model's predictions are out of sample.
BEFORE_ALL = T0 - pd.Timedelta(days=1)


def prediction_rows(
    gold: pd.DataFrame,
    model_version: str,
    labels: np.ndarray,
    scored_at: datetime,
    *,
    train_cutoff: pd.Timestamp | None = BEFORE_ALL,
) -> pd.DataFrame:
    """Rows as ``synthesize_predictions`` writes them (``train_cutoff`` None = unknown)."""
    return pd.DataFrame(
        {
            "symbol": gold["symbol"].to_numpy(dtype=object),
            "bar_start": pd.to_datetime(gold["bar_start"], utc=True).to_numpy(),
            "model_version": model_version,
            "score": labels.astype(float) * 0.9,
            "label": labels.astype(np.int64),
            "scored_at": scored_at,
            "scoring_run_id": f"test-{model_version}",
            "gold_version": np.int64(0),
            "train_cutoff": pd.Series(train_cutoff, index=range(len(gold)), dtype="datetime64[us, UTC]"),
        }
    )


def train_champion(
    platform: Platform,
    gold: pd.DataFrame,
    *,
    n_estimators: int = 20,
    seed: int = 0,
    train_fraction: float = 0.6,
    label_quantile: float = 0.9,
    extra_columns: tuple[str, ...] = (),
) -> int:
    """Fit a small LightGBM pyfunc on ``gold`` (label: the largest intrabar moves), register it, make it champion.

    The lineage is the tournament's: the train and validation rows go to ``train_set`` (a new
    Delta version), a parent run records that version as ``table_version.<train_set>`` and a
    nested run logs the model, so the training cutoff is derived exactly as for a real model.
    """
    cols = [*feature_columns(platform.config.features), *extra_columns]  # extra: a champion of another feature set
    frame = gold.sort_values("bar_start", kind="stable").reset_index(drop=True)
    moves = frame["max_abs_trade_return"]
    frame["label"] = (moves >= moves.quantile(label_quantile)).astype(np.int64)
    a = int(len(frame) * train_fraction)
    b = a + int(len(frame) * 0.2)
    data = TrainingData(
        train=frame.iloc[:a].reset_index(drop=True),
        validation=frame.iloc[a:b].reset_index(drop=True),
        test=frame.iloc[b:].reset_index(drop=True),
        feature_columns=cols,
        label_column="label",
    )
    model = LightGBMModel(LightGBMParams(n_estimators=n_estimators, num_leaves=8), random_state=seed, n_jobs=1).fit(
        data.train, data.validation, feature_columns=cols, label_column="label"
    )
    train_fqn = platform.config.table("train_set")
    train_set = frame.iloc[:b].assign(split=["train"] * a + ["validation"] * (b - a))
    train_version = platform.store.overwrite(train_fqn, train_set.drop(columns=["trade_date", "bar_end"]))
    registry = ModelRegistry.from_platform(platform)
    with mlflow.start_run(run_name=f"decision-test-tournament-{seed}"):
        mlflow.log_params({f"{TABLE_VERSION_PARAM}{train_fqn}": str(train_version)})
        with mlflow.start_run(run_name=f"decision-test-{seed}", nested=True) as run:
            uri = log_pyfunc(model, data, metadata={"run_id": run.info.run_id}, input_example_rows=3)
    version = registry.register(uri, tags={"algorithm": model.name})
    registry.set_alias("champion", version)
    return version


def train_cutoff_of(gold: pd.DataFrame, train_fraction: float = 0.6) -> pd.Timestamp:
    """The newest bar in ``train_set`` that :func:`train_champion` wrote for the same arguments."""
    times = gold["bar_start"].sort_values(kind="stable").reset_index(drop=True)
    b = int(len(times) * train_fraction) + int(len(times) * 0.2)
    return pd.Timestamp(times.iloc[:b].max())


def now() -> datetime:
    return datetime.now(UTC)
