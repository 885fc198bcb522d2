"""Real gold rows (from the project's feature code) and a real registered champion, for decision/serving tests."""

from __future__ import annotations

from datetime import UTC, datetime

import mlflow
import numpy as np
import pandas as pd

from financial_transactions.config.ml import LightGBMParams
from financial_transactions.features.feature_engineering import build_gold_features, feature_columns
from financial_transactions.lakehouse import Platform
from financial_transactions.models.algorithms import LightGBMModel
from financial_transactions.models.data import TrainingData
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.tournament import log_pyfunc

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


def prediction_rows(gold: pd.DataFrame, model_version: str, labels: np.ndarray, scored_at: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": gold["symbol"].to_numpy(dtype=object),
            "bar_start": pd.to_datetime(gold["bar_start"], utc=True),
            "model_version": model_version,
            "score": labels.astype(float) * 0.9,
            "label": labels.astype(np.int64),
            "scored_at": scored_at,
            "scoring_run_id": f"test-{model_version}",
            "gold_version": np.int64(0),
        }
    )


def train_champion(platform: Platform, gold: pd.DataFrame, *, n_estimators: int = 20, seed: int = 0) -> int:
    """Fit a small LightGBM pyfunc on ``gold`` (label: the largest intrabar moves), register it, make it champion."""
    cols = feature_columns(platform.config.features)
    frame = gold.sort_values("bar_start", kind="stable").reset_index(drop=True)
    frame["label"] = (frame["max_abs_trade_return"] >= frame["max_abs_trade_return"].quantile(0.9)).astype(np.int64)
    a, b = int(len(frame) * 0.6), int(len(frame) * 0.8)
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
    registry = ModelRegistry.from_platform(platform)
    with mlflow.start_run(run_name=f"decision-test-{seed}") as run:
        uri = log_pyfunc(model, data, metadata={"run_id": run.info.run_id}, input_example_rows=3)
    version = registry.register(uri, tags={"algorithm": model.name})
    registry.set_alias("champion", version)
    return version


def now() -> datetime:
    return datetime.now(UTC)
