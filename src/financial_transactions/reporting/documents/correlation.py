"""``correlation.json``: Pearson correlation of per-bar returns between symbols, pairwise over shared bars."""

from __future__ import annotations

from typing import Any

from financial_transactions.config import ProjectConfig
from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing, symbol_order
from financial_transactions.reporting.frames import num
from financial_transactions.reporting.sources import Sources

KEY = "gold_trade_features"
#: A pair needs this many bars where both symbols have a return.
CORR_MIN_OBS = 30
EMPTY_CORR: dict[str, Any] = {"symbols": [], "matrix": [], "n_obs": [], "method": ""}


def build(ctx: ExportContext) -> dict[str, Any]:
    return ctx.document(
        "correlation", {"returns": guard("returns", EMPTY_CORR, lambda: return_correlation(ctx.sources, ctx.cfg))}
    )


def return_correlation(src: Sources, cfg: ProjectConfig) -> Section:
    """Gold's per-bar ``returns`` pivoted to one column per symbol, correlated pairwise."""
    fqn = src.fqn(KEY)
    df = src.read(KEY, ("symbol", "bar_start", "returns"))
    if df is None:
        return missing(EMPTY_CORR, [fqn], f"{fqn} does not exist yet (run fin-mlops pipeline)")
    if df.empty:
        return Section("empty", EMPTY_CORR, [fqn], "no gold bars")
    df = df.sort_values(["symbol", "bar_start"])
    wide = df.pivot_table(index="bar_start", columns="symbol", values="returns", aggfunc="last")
    wide.columns = wide.columns.astype(str)
    symbols = symbol_order(set(wide.columns), list(cfg.symbols.all))
    wide = wide[symbols]
    corr = wide.corr(method="pearson", min_periods=CORR_MIN_OBS)
    present = wide.notna().astype(float)
    n_obs = present.T.dot(present).to_numpy()  # shared bars per pair, in ``symbols`` order
    data = {
        "symbols": symbols,
        "matrix": [[num(corr.loc[a, b], 4) for b in symbols] for a in symbols],
        "n_obs": [[int(n) for n in row] for row in n_obs],
        "method": f"pearson on per-bar returns, pairwise, min {CORR_MIN_OBS} shared bars",
    }
    return Section("ok", data, [fqn])
