"""A tiny market with known anomalies: trades -> gold (the real feature code) + ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from financial_transactions.features.feature_engineering import build_gold_features
from financial_transactions.runtime import Platform


def crypto_trades(symbol: str, minutes: int, *, seed: int, price0: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """~12 trades a minute, with fat-finger price spikes and volume bursts in ~5% of the minutes."""
    rng = np.random.default_rng(seed)
    n = minutes * 12
    start = pd.Timestamp("2026-03-06 00:00", tz="UTC").value // 1_000_000
    ts = start + np.sort(rng.integers(0, minutes * 60_000, n))
    price = price0 * np.exp(np.cumsum(rng.normal(0, 3e-4, n)))
    volume = np.round(rng.lognormal(1.0, 0.5, n), 4)
    bad_minutes = rng.choice(np.arange(60, minutes), size=minutes // 20, replace=False)
    minute = (ts - start) // 60_000
    truth = []
    for m in bad_minutes:
        idx = np.flatnonzero(minute == m)
        if idx.size == 0:
            continue
        i = int(rng.choice(idx))
        kind = "price_spike" if rng.random() < 0.6 else "volume_burst"
        if kind == "price_spike":
            price[i] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.02, 0.05)
        else:
            volume[i] *= rng.uniform(40, 80)
        truth.append(
            {
                "source": "binance",
                "symbol": symbol,
                "ts": int(ts[i]),
                "price": float(price[i]),
                "volume": float(volume[i]),
                "anomaly_type": kind,
            }
        )
    trades = pd.DataFrame(
        {
            "trade_id": [f"binance-r1-c0-m{i:07d}-p0" for i in range(n)],
            "source": "binance",
            "asset_class": "crypto",
            "symbol": symbol,
            "price": np.round(price, 2),
            "volume": volume,
            "ts": pd.to_datetime(ts, unit="ms", utc=True),
        }
    )
    return trades, pd.DataFrame(truth)


def write_market(platform: Platform, *, minutes: int = 900, window: str = "w1") -> int:
    """Gold for two crypto pairs in the platform's lakehouse + the replay-style ground truth and its coverage."""
    frames, truths, trade_frames = [], [], []
    for k, (symbol, p0) in enumerate([("BTCUSDT", 65_000.0), ("ETHUSDT", 3_500.0)]):
        trades, truth = crypto_trades(symbol, minutes, seed=100 + k, price0=p0)
        frames.append(build_gold_features(trades, platform.config.features))
        truths.append(truth)
        trade_frames.append(trades)
    gold = pd.concat(frames, ignore_index=True)
    platform.store.overwrite(platform.config.table("gold_trade_features"), gold)
    folder = Path(platform.paths.landing) / "_ground_truth" / window
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in pd.concat(truths).to_dict("records")]
    (folder / "anomalies.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    coverage = [
        {
            "symbol": f.symbol.iloc[0],
            "start_ms": int(f.ts.min().value // 1_000_000),
            "end_ms": int(f.ts.max().value // 1_000_000),
        }
        for f in trade_frames
    ]
    (folder / "coverage.json").write_text(json.dumps({"window": window, "symbols": coverage}), encoding="utf-8")
    return len(gold)
