"""Small synthetic feature tables with a learnable anomaly label (tests only).

Rows look like gold bars: ``symbol``, ``bar_start`` (1-minute, time-ordered),
float features with warm-up NaNs, an integer ``trade_count`` (so signatures see
the feature table's real types) and a 0/1 ``label``. Anomalous bars move the
first ``signal`` features, so a competent model scores well above chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from financial_transactions.models.data import TrainingData

FEATURES = ["ret_1", "max_abs_trade_return", "dup_print_ratio", "volume_zscore", "rsi", "trade_count"]


def feature_frame(n: int, *, seed: int = 0, anomaly_rate: float = 0.08, shift: float = 3.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < anomaly_rate).astype(np.int64)
    frame = pd.DataFrame(
        {
            "symbol": np.where(np.arange(n) % 2 == 0, "AAPL", "BTCUSDT"),
            "bar_start": pd.date_range("2026-03-06 14:30", periods=n, freq="1min", tz="UTC"),
            "ret_1": rng.normal(0, 1, n) + shift * label * rng.choice([-1.0, 1.0], n),
            "max_abs_trade_return": np.abs(rng.normal(0, 1, n)) + shift * label,
            "dup_print_ratio": rng.beta(2, 20, n) + 0.1 * shift * label * rng.random(n),
            "volume_zscore": rng.normal(0, 1, n),
            "rsi": rng.uniform(10, 90, n),
            "trade_count": rng.poisson(20, n).astype(np.int64),
        }
    )
    frame.loc[:4, "rsi"] = np.nan  # indicator warm-up
    frame["label"] = label
    return frame


def training_data(n: int = 1200, *, seed: int = 0, shift: float = 3.0) -> TrainingData:
    frame = feature_frame(n, seed=seed, shift=shift)
    a, b = int(n * 0.6), int(n * 0.8)
    return TrainingData(
        train=frame.iloc[:a].reset_index(drop=True),
        validation=frame.iloc[a:b].reset_index(drop=True),
        test=frame.iloc[b:].reset_index(drop=True),
        feature_columns=list(FEATURES),
        label_column="label",
        feature_table_versions={},
    )
