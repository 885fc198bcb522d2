"""The symbols a backtest or decision covers: the configured ones and those the data brought.

A user's file (``fin-mlops run --csv``) brings its own instruments (``SPX``, ``NDX``, a future);
the configured ``symbols`` list describes the platform's own market. Reading only the configured
list would backtest and decide nothing on a user's data; dropping it would hide that a configured
symbol has no data (it stays, reported as such). So both, configured first.
"""

from __future__ import annotations

import pandas as pd

from financial_transactions.config import ProjectConfig


def traded_symbols(gold: pd.DataFrame | None, cfg: ProjectConfig) -> dict[str, str]:
    """``symbol -> asset class``: the configured symbols, then the gold bars' others (with their own class)."""
    out = {s: cfg.symbols.asset_class(s) for s in cfg.symbols.all}
    if gold is None or gold.empty or "symbol" not in gold.columns:
        return out
    classes: pd.Series | None = None
    if "asset_class" in gold.columns:
        classes = gold.dropna(subset=["asset_class"]).groupby("symbol")["asset_class"].last()
    for symbol in sorted(str(s) for s in gold["symbol"].dropna().unique()):
        if classes is not None and symbol in classes.index:
            out[symbol] = str(classes[symbol])
        else:
            out.setdefault(symbol, cfg.symbols.asset_class(symbol))
    return out
