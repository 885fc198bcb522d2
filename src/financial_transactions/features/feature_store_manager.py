"""Feature tables: ``trade_features`` (every labelled gold bar), ``train_set``, ``test_set``.

Keys: primary ``(symbol, bar_end)``, timestamp key ``bar_end`` (:data:`FEATURE_KEYS`,
:data:`TIMESTAMP_KEY`). ``bar_end`` is when a row's features become known (a bar's
features use its trades up to ``bar_end``), so a point-in-time lookup at time ``t`` on the
timestamp key returns only bars that had *closed* by ``t``; keyed by ``bar_start`` it would
hand out a bar still being traded. ``bar_start`` stays in every table (gold's key, unique
per symbol too). Tables are named only through ``cfg.table(...)`` and written through the
lakehouse store, so the laptop (delta-rs) and Databricks (Spark SQL) share this code. On
Databricks, when ``databricks.feature_engineering`` is importable, the tables are also Unity
Catalog *feature tables*: ``FeatureEngineeringClient.create_table`` declares the primary and
timestamp keys the first time (UC wants the timestamp key inside the primary key), and
later runs replace the rows and upsert with ``write_table(mode="merge")``.

**The split is by time, never shuffled.** All symbols share the boundaries (markets
move together, so a per-symbol split would let the model see the test period through
other symbols). In time order::

    train | embargo | validation | embargo | test

``test`` is the last ``split.test_fraction`` of the rows; ``validation`` is the last
``split.validation_fraction`` of the rows before the test embargo and is where models
get their thresholds and the tournament picks its winner. A row sits in the slice its
``bar_end`` falls in; rows sharing a ``bar_end`` never split. Before each slice start two
things are dropped as ``embargo``:

* every row in the last ``split.embargo_minutes`` (wall clock, all symbols), and
* each symbol's own last ``E`` bars, ``E = split.embargo_bars`` (``auto``: the larger of
  ``labels.rule_forward_bars`` and ``features.lookback_bars``, 50 bars by default).

Bars exist only where trades happened, so minutes alone do not bound anything: after an
overnight gap the next ``k`` bars of a symbol can lie hours later, in the next slice. In
*bars*, per symbol, the embargo does bound both leaks: the last training row's rule label
reads at most ``rule_forward_bars`` bars ahead, all inside the embargo; the first
validation/test row's features read at most ``features.lookback_bars`` bars back (the
volume z-score's 50), also inside the embargo. Recursive smoothing (EMA, RSI, ATR) and the
flat-run counters have longer, decaying memory that no finite embargo removes.

``train_set`` holds the train and validation rows with a ``split`` column; ``test_set``
the test rows; ``trade_features`` every labelled row with its ``split`` (``embargo``
included), so each table version documents exactly what a model saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from financial_transactions.config.ml import SplitConfig, embargo_bars
from financial_transactions.features.feature_engineering import GOLD_KEYS, TIMESTAMP_KEY, feature_columns
from financial_transactions.features.feedback import load_feedback
from financial_transactions.features.injection import Injection, injected_gold
from financial_transactions.features.labels import (
    LABEL_COLUMN,
    LabelReport,
    best_single_feature_f1,
    label_bars,
    load_coverage,
    load_ground_truth,
)
from financial_transactions.features.slices import FeatureSlices
from financial_transactions.lakehouse.catalog import TableKind, specs_of

if TYPE_CHECKING:
    from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

SPLIT_COLUMN = "split"
SPLITS = ("train", "validation", "test", "embargo")
FEATURE_TABLES = tuple(s.key for s in specs_of(TableKind.FEATURE))
FEATURE_KEYS = ["symbol", TIMESTAMP_KEY]
"""Primary key of the feature tables (the timestamp key is part of it, as Unity Catalog requires)."""
KEY_CONSTRAINT = ("keys_not_null", "symbol IS NOT NULL AND bar_start IS NOT NULL AND bar_end IS NOT NULL")
LABEL_CONSTRAINT = ("label_is_binary", "label = 0 OR label = 1")


@dataclass(frozen=True)
class SplitBoundaries:
    """Where each slice starts (UTC) and the embargo dropped before each start."""

    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    embargo: pd.Timedelta
    embargo_bars: int = 0

    def as_dict(self) -> dict[str, str]:
        return {
            "validation_start": self.validation_start.isoformat(),
            "test_start": self.test_start.isoformat(),
            "embargo_minutes": str(int(self.embargo / pd.Timedelta(minutes=1))),
            "embargo_bars": str(self.embargo_bars),
        }


def _boundary(times: np.ndarray, fraction: float) -> np.datetime64:
    """The time from which the last ``fraction`` of ``times`` (sorted) begins."""
    return times[min(len(times) - 1, int(np.floor(len(times) * (1.0 - fraction))))]


def _embargo_before(
    values: np.ndarray, symbols: np.ndarray, start: np.datetime64, embargo: np.timedelta64, bars: int
) -> np.ndarray:
    """Rows before ``start`` that the embargo drops: the last ``embargo`` of time, and each
    symbol's own last ``bars`` rows before ``start``."""
    before = values < start
    out = before & (values >= start - embargo)
    if bars > 0 and before.any():
        idx = np.flatnonzero(before)
        frame = pd.DataFrame({"symbol": symbols[idx], "t": values[idx]})
        from_end = frame.sort_values("t", kind="stable").groupby("symbol", sort=False).cumcount(ascending=False)
        out[idx[from_end.sort_index().to_numpy() < bars]] = True
    return out


def time_split(
    frame: pd.DataFrame,
    cfg: SplitConfig,
    *,
    embargo_bars: int = 0,
    time_column: str = TIMESTAMP_KEY,
    symbol_column: str = "symbol",
) -> tuple[pd.Series, SplitBoundaries]:
    """The slice name of every row (see the module doc) and the boundaries used.

    ``embargo_bars`` is the resolved per-symbol embargo (``config.ml.embargo_bars``).
    Raises ``ValueError`` when a slice would be empty (too little history for the
    fractions and embargo): training on an empty or overlapping split is worse than stopping.
    """
    if frame.empty:
        raise ValueError("cannot split an empty feature table")
    if embargo_bars < 0:
        raise ValueError(f"embargo_bars must be >= 0, got {embargo_bars}")
    ts = pd.to_datetime(frame[time_column], utc=True)
    embargo = pd.Timedelta(minutes=cfg.embargo_minutes)
    e = embargo.to_timedelta64()
    values = ts.to_numpy(dtype="datetime64[ns]")
    symbols = frame[symbol_column].astype(str).to_numpy()
    ordered = np.sort(values)
    test_start = _boundary(ordered, cfg.test_fraction)
    test_embargo = _embargo_before(values, symbols, test_start, e, embargo_bars)
    before_test = np.sort(values[(values < test_start) & ~test_embargo])
    if before_test.size == 0:
        raise ValueError(
            f"no rows before the test slice: {len(frame)} rows span {ts.min()} .. {ts.max()}, "
            f"less than the embargo ({embargo}, {embargo_bars} bars per symbol) plus a training period"
        )
    validation_start = _boundary(before_test, cfg.validation_fraction)
    validation_embargo = _embargo_before(values, symbols, validation_start, e, embargo_bars)
    split = np.full(len(frame), "embargo", dtype=object)
    split[values >= test_start] = "test"
    split[(values >= validation_start) & (values < test_start) & ~test_embargo] = "validation"
    split[(values < validation_start) & ~validation_embargo] = "train"
    counts = {name: int((split == name).sum()) for name in ("train", "validation", "test")}
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        raise ValueError(
            f"time split leaves {empty} empty ({counts}); {len(frame)} rows span {ts.min()} .. {ts.max()} "
            f"with embargo {embargo} and {embargo_bars} bars per symbol: lower split.embargo_minutes / "
            "split.embargo_bars or collect more data"
        )
    bounds = SplitBoundaries(
        validation_start=pd.Timestamp(validation_start, tz="UTC"),
        test_start=pd.Timestamp(test_start, tz="UTC"),
        embargo=embargo,
        embargo_bars=embargo_bars,
    )
    return pd.Series(split, index=frame.index, name=SPLIT_COLUMN), bounds


class _FeatureClient(Protocol):
    """The part of ``databricks.feature_engineering.FeatureEngineeringClient`` used here."""

    def create_table(self, name: str, primary_keys: list[str], df: Any = ..., **kwargs: Any) -> Any: ...

    def write_table(self, name: str, df: Any, mode: str = ...) -> Any: ...


def feature_engineering_client() -> _FeatureClient | None:
    """The UC Feature Engineering client when the package is importable (Databricks ML runtimes)."""
    try:
        from databricks.feature_engineering import FeatureEngineeringClient
    except ImportError:
        return None
    client: _FeatureClient = FeatureEngineeringClient()
    return client


@dataclass
class FeatureSets:
    trade_features: pd.DataFrame
    train: pd.DataFrame  # train + validation rows, ``split`` tells which
    test: pd.DataFrame
    boundaries: SplitBoundaries
    labels: LabelReport


@dataclass
class FeatureStoreResult:
    versions: dict[str, int]
    sizes: dict[str, int]
    boundaries: SplitBoundaries
    labels: LabelReport
    leakage_max_f1: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.sizes, **self.labels.summary()}
        out["test_start"] = self.boundaries.test_start.isoformat()
        if self.leakage_max_f1 is not None:
            out["leakage_max_f1"] = round(self.leakage_max_f1, 3)
        out.update(self.extra)
        return out


class FeatureStoreManager:
    """Gold -> labelled, time-split feature tables; and back to ``TrainingData`` for the models."""

    def __init__(self, platform: Platform, *, fe_client: _FeatureClient | None = None) -> None:
        self.platform = platform
        self.config = platform.config
        self._fe = fe_client if fe_client is not None else platform.runtime.feature_client(feature_engineering_client)

    @property
    def feature_columns(self) -> list[str]:
        return feature_columns(self.config.features)

    def table(self, key: str) -> str:
        return self.config.table(key)

    # -- build -------------------------------------------------------------------------
    def read_gold(self, version: int | None = None) -> pd.DataFrame:
        return self.platform.store.read(self.table("gold_trade_features"), version=version)

    def ground_truth(self, location: Path | None = None) -> pd.DataFrame:
        """Ground-truth anomalies at ``location`` (default: the landing zone, every window)."""
        return load_ground_truth(location if location is not None else self.platform.paths.landing)

    def coverage(self, location: Path | None = None) -> pd.DataFrame:
        """What the ground truth at ``location`` covers (symbol, start, end), see :mod:`.labels`."""
        return load_coverage(location if location is not None else self.platform.paths.landing)

    @property
    def embargo_bars(self) -> int:
        return embargo_bars(self.config.split, self.config.labels, self.config.features)

    def build(
        self,
        gold: pd.DataFrame,
        truth: pd.DataFrame | None,
        coverage: pd.DataFrame | None = None,
        feedback: pd.DataFrame | None = None,
        injection: Injection | None = None,
    ) -> FeatureSets:
        """Label ``gold`` (analyst feedback, then ground truth where ``coverage`` covers it, then the
        ``injection`` whose copy ``gold`` was built from, else the rule) and split it by time.

        Pure: nothing is written.
        """
        if gold.empty:
            raise ValueError("gold_trade_features is empty: run the pipeline first")
        for keys in (GOLD_KEYS, FEATURE_KEYS):
            dup = gold.duplicated(keys)
            if dup.any():
                raise ValueError(f"gold has {int(dup.sum())} duplicate ({', '.join(keys)}) key(s)")
        labelled, report = label_bars(
            gold,
            self.config.labels,
            self.config.features,
            truth,
            coverage,
            feedback,
            injection.events if injection is not None else None,
            injection.coverage if injection is not None else None,
        )
        labelled = labelled.sort_values([TIMESTAMP_KEY, "symbol"], kind="stable").reset_index(drop=True)
        split, bounds = time_split(labelled, self.config.split, embargo_bars=self.embargo_bars)
        labelled[SPLIT_COLUMN] = split.to_numpy()
        train = labelled[labelled[SPLIT_COLUMN].isin(["train", "validation"])].reset_index(drop=True)
        test = labelled[labelled[SPLIT_COLUMN] == "test"].reset_index(drop=True)
        return FeatureSets(labelled, train, test, bounds, report)

    # -- write -------------------------------------------------------------------------
    def write(self, sets: FeatureSets) -> dict[str, int]:
        """Write the three tables; returns each table's new Delta version."""
        versions: dict[str, int] = {}
        frames = {"trade_features": sets.trade_features, "train_set": sets.train, "test_set": sets.test}
        for key, frame in frames.items():
            fqn = self.table(key)
            versions[fqn] = self._write_table(
                fqn, frame, description=f"{key}: labelled gold bars ({sets.labels.source})"
            )
        return versions

    def _write_table(self, fqn: str, frame: pd.DataFrame, *, description: str) -> int:
        store = self.platform.store
        if self._fe is None:
            store.overwrite(fqn, frame)
            present = store.constraints(fqn)  # engines may normalise the SQL text: match by name
            for name, expression in (KEY_CONSTRAINT, LABEL_CONSTRAINT):
                if name not in present:
                    store.add_constraint(fqn, name, expression)
            return store.version(fqn)
        # Unity Catalog feature table: keys declared once, rows replaced then upserted
        sdf = self.platform.spark.createDataFrame(frame)
        if not store.exists(fqn):
            self._fe.create_table(
                name=fqn,
                primary_keys=list(FEATURE_KEYS),
                df=sdf,
                timestamp_keys=[TIMESTAMP_KEY],
                description=description,
            )
        else:
            self.platform.spark.sql(f"DELETE FROM {fqn}")
            self._fe.write_table(name=fqn, df=sdf, mode="merge")
        return store.version(fqn)

    def run(
        self,
        *,
        gold: pd.DataFrame | None = None,
        truth: pd.DataFrame | None = None,
        coverage: pd.DataFrame | None = None,
        ground_truth_location: Path | None = None,
        leakage_check: bool = True,
    ) -> FeatureStoreResult:
        """Read gold (unless given), ground truth and its coverage, label, split, write; the train stage's first step.

        ``truth`` / ``coverage`` given explicitly replace what the landing zone holds. With
        ``labels.injection`` enabled, the bars no feedback or ground truth labels come from an
        injected copy of silver (:func:`.injection.injected_gold`): the feature tables then hold
        the copy's bars, labelled ``injected``; ``gold_trade_features`` stays the real market.
        """
        gold_frame = self.read_gold() if gold is None else gold
        truth_frame = truth if truth is not None else self.ground_truth(ground_truth_location)
        coverage_frame = coverage if coverage is not None else self.coverage(ground_truth_location)
        feedback = load_feedback(self.platform)
        injected = injected_gold(self.platform, gold_frame, truth_frame, coverage_frame, feedback, salt="train")
        injection = injected.injection if injected is not None else None
        if injected is not None:
            gold_frame = injected.gold
            log.info("features: injected %s", injected.injection.summary())
        sets = self.build(gold_frame, truth_frame, coverage_frame, feedback, injection)
        versions = self.write(sets)
        sizes = {
            "n_features_rows": len(sets.trade_features),
            "n_train": int((sets.train[SPLIT_COLUMN] == "train").sum()),
            "n_validation": int((sets.train[SPLIT_COLUMN] == "validation").sum()),
            "n_test": len(sets.test),
            "n_embargo": int((sets.trade_features[SPLIT_COLUMN] == "embargo").sum()),
        }
        leak = None
        if leakage_check:
            scores = best_single_feature_f1(sets.train, self.feature_columns)
            leak = max(scores.values()) if scores else None
            if leak is not None and leak > 0.98:
                log.warning("features: one input alone reproduces the label (F1 %.3f): check for leakage", leak)
        log.info("features: %s", sizes)
        extra = injection.summary() if injection is not None else {}
        return FeatureStoreResult(versions, sizes, sets.boundaries, sets.labels, leak, extra)

    # -- read back for the models ------------------------------------------------------
    def training_data(self, *, versions: dict[str, int] | None = None) -> FeatureSlices:
        """train / validation / test from ``train_set`` and ``test_set`` (at ``versions``, else current).

        The models check them (``TrainingData.check``) before training. The provenance
        (``feature_table_versions``) names ``trade_features`` too, at the version written with
        these sets: the gate records it and ``rollback --restore-features`` restores all three
        tables together, so the feature table never disagrees with the sets the champion learnt from.
        """
        store = self.platform.store
        train_fqn, test_fqn = self.table("train_set"), self.table("test_set")
        pinned = versions or {}
        read_versions = {fqn: pinned.get(fqn, store.version(fqn)) for fqn in (train_fqn, test_fqn)}
        provenance = dict(read_versions)
        features_fqn = self.table("trade_features")
        if features_fqn in pinned:
            provenance[features_fqn] = pinned[features_fqn]
        elif not pinned and store.exists(features_fqn):
            provenance[features_fqn] = store.version(features_fqn)
        train_all = store.read(train_fqn, version=read_versions[train_fqn])
        test = store.read(test_fqn, version=read_versions[test_fqn])
        order = [TIMESTAMP_KEY, "symbol"]
        train = train_all[train_all[SPLIT_COLUMN] == "train"].sort_values(order).reset_index(drop=True)
        validation = train_all[train_all[SPLIT_COLUMN] == "validation"].sort_values(order).reset_index(drop=True)
        return FeatureSlices(
            train=train,
            validation=validation,
            test=test.sort_values(order).reset_index(drop=True),
            feature_columns=self.feature_columns,
            label_column=LABEL_COLUMN,
            feature_table_versions=provenance,
        )
