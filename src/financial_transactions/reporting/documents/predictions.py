"""The predictions the market panel shows: one model version's newest score per bar.

``synthesized_predictions`` is append-only and holds every version that ever scored a bar.
The page shows the champion's predictions when the champion scored any, else the newest
version's; a bar scored more than once by that version keeps its newest row (``scored_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from financial_transactions.reporting.frames import to_utc
from financial_transactions.reporting.sources import Sources

KEY = "synthesized_predictions"
#: The columns of ``decision.predictions.synthesize_predictions`` the market panel uses.
COLUMNS = ("symbol", "bar_start", "model_version", "score", "label", "scored_at")


@dataclass(frozen=True)
class Predictions:
    """The chosen version's rows (``None`` when the table is absent or empty) and that version."""

    frame: pd.DataFrame | None
    version: str | None


def version_key(value: Any) -> tuple[int, str]:
    """Registry versions order numerically ("10" after "9"); anything else sorts first."""
    text = str(value)
    return (int(text), text) if text.isdigit() else (-1, text)


def load_predictions(sources: Sources, champion: str | None) -> Predictions:
    if not sources.exists(KEY):
        return Predictions(None, None)
    df = sources.read(KEY, COLUMNS)
    if df is None or df.empty:
        return Predictions(None, None)
    versions = sorted({str(v) for v in df["model_version"].dropna()}, key=version_key)
    chosen = champion if champion in versions else (versions[-1] if versions else None)
    if chosen is not None:
        df = df[df["model_version"].astype(str) == chosen]
    # a bar scored more than once (e.g. by a later run) keeps its newest prediction
    df = df.assign(_o=to_utc(df["scored_at"])).sort_values("_o", kind="stable").drop(columns="_o")
    df = df.drop_duplicates(["symbol", "bar_start"], keep="last")
    return Predictions(df, chosen)
