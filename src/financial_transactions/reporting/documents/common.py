"""What every dashboard document shares: its header, its sections and the guard around each section.

A document is ``header + extra fields + sections``. Each section's ``status`` is ``ok`` (data),
``empty`` (the table exists, nothing to show), ``missing`` (the table or file does not exist
yet: the stage has not run) or ``error`` (reading failed; the message says why), and its
``data`` always has its documented shape, so the page never meets a half-built section.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.reporting.documents.predictions import Predictions, load_predictions
from financial_transactions.reporting.frames import iso, to_utc
from financial_transactions.reporting.sources import RegistryState, Sources
from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

#: Bump the major number when a field changes meaning or disappears, the minor one when fields are added.
SCHEMA_VERSION = "1.0"

#: Export documents, in the order the page shows them.
DOCUMENTS = (
    "manifest",
    "pipeline_health",
    "collection",
    "alerts",
    "market",
    "leaderboard",
    "champion",
    "drift",
    "audit",
    "decision_matrix",
    "backtest",
    "feature_importance",
    "correlation",
)


@dataclass
class Section:
    """One named block of a document; ``data`` always has its documented shape, even when empty."""

    status: str
    data: Any
    sources: list[str] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "sources": self.sources, "data": self.data}


def missing(data: Any, sources: list[str], what: str) -> Section:
    """The section of a table or file that does not exist yet; ``what`` says which stage writes it."""
    return Section("missing", data, sources, what)


def guard(name: str, empty: Any, build: Callable[[], Section]) -> Section:
    """Run one section builder; any exception becomes an ``error`` section naming it."""
    try:
        return build()
    except Exception as exc:  # one broken table must not take the whole dashboard down
        log.error("dashboard section %s failed: %s\n%s", name, exc, traceback.format_exc())
        return Section("error", empty, [], f"{type(exc).__name__}: {exc}")


@dataclass
class ExportContext:
    """One export's consistent view: the reads, the registry, the clock and the header fields."""

    platform: Platform
    sources: Sources
    registry: RegistryState
    now: datetime
    git_sha: str | None
    _predictions: Predictions | None = field(default=None, repr=False)
    _prediction_error: Exception | None = field(default=None, repr=False)

    @property
    def cfg(self) -> ProjectConfig:
        return self.platform.config

    def predictions(self) -> Predictions:
        """The scored bars of the version the market shows, read once; a failed read raises again for each caller."""
        if self._prediction_error is not None:
            raise self._prediction_error
        if self._predictions is None:
            try:
                loaded = load_predictions(self.sources, self.registry.champion)
            except Exception as exc:
                self._prediction_error = exc
                raise
            if loaded.frame is None:
                return loaded
            self._predictions = loaded
        return self._predictions

    @property
    def prediction_version(self) -> str | None:
        """The version whose predictions were loaded (``None`` when none could be)."""
        return self._predictions.version if self._predictions is not None else None

    def model_version(self) -> str | None:
        """The champion's registry version; else the version that scored the predictions.

        Unreadable predictions leave it ``None``: the market sections report the error, every header is still written.
        """
        if self.registry.champion:
            return self.registry.champion
        try:
            return self.predictions().version
        except Exception:
            return None

    def header(self, kind: str) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": kind,
            "generated_at": iso(self.now),
            "env": cfg.env,
            "catalog": cfg.catalog,
            "schema": cfg.schema_name,
            "model_name": cfg.model_name,
            "model_version": self.model_version(),
            "config_hash": cfg.config_hash,
            "git_sha": self.git_sha,
            "engine": self.platform.engine,
        }

    def document(self, kind: str, sections: dict[str, Section], **extra: Any) -> dict[str, Any]:
        doc = self.header(kind)
        doc.update(extra)
        doc["sections"] = {name: s.to_json() for name, s in sections.items()}
        return doc


# -- frame helpers the documents share ------------------------------------------------


def raw_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of the original cell values (no JSON conversion)."""
    return [{str(k): v for k, v in rec.items()} for rec in df.to_dict("records")]


def sorted_by_time(df: pd.DataFrame, time_col: str, *, descending: bool = True) -> pd.DataFrame:
    """``df`` ordered by its time column (stable: rows of one instant keep their stored order)."""
    order = to_utc(df[time_col])
    return df.assign(_order=order).sort_values("_order", ascending=not descending, kind="stable").drop(columns="_order")


def latest_run(df: pd.DataFrame, run_col: str, time_col: str) -> Any:
    """The run id whose rows are newest (the last row's run when no row has a time)."""
    times = to_utc(df[time_col])
    return df.loc[times.idxmax(), run_col] if times.notna().any() else df[run_col].iloc[-1]


def symbol_order(symbols: set[str], configured: list[str]) -> list[str]:
    """Configured symbols first, in configuration order, then the rest alphabetically."""
    return sorted(symbols, key=lambda s: (configured.index(s) if s in configured else 999, s))
