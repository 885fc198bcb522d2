"""Feature tables: ``trade_features`` (every labelled gold bar), ``train_set``, ``test_set``.

Keys everywhere: primary ``(symbol, bar_start)``, timestamp key ``bar_start``. Tables are
named only through ``cfg.table(...)`` and written through the lakehouse store, so the
laptop (delta-rs) and Databricks (Spark SQL) share this code. On Databricks, when
``databricks.feature_engineering`` is importable, the tables are also Unity Catalog
*feature tables*: ``FeatureEngineeringClient.create_table`` declares the primary and
timestamp keys the first time, and later runs replace the rows and upsert with
``write_table(mode="merge")``.

**The split is by time, never shuffled.** All symbols share the boundaries (markets
move together, so a per-symbol split would let the model see the test period through
other symbols). In time order::

    train | embargo | validation | embargo | test

``test`` is the last ``split.test_fraction`` of the rows; ``validation`` is the last
``split.validation_fraction`` of the rows before the test embargo and is where the
models engineer picks thresholds; the ``split.embargo_minutes`` gaps are dropped so
no rolling window (features look back up to ``volume_zscore_window`` bars) or
forward-looking rule label (``labels.rule_forward_bars``) straddles two slices. A row
sits in the slice its ``bar_start`` falls in; rows sharing a ``bar_start`` never split.
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

from financial_transactions.config.ml import SplitConfig
from financial_transactions.features.feature_engineering import GOLD_KEYS, TIMESTAMP_KEY, feature_columns
from financial_transactions.features.labels import LABEL_COLUMN, LabelReport, label_bars, load_ground_truth

if TYPE_CHECKING:
    from financial_transactions.lakehouse import Platform
    from financial_transactions.models.data import TrainingData

log = logging.getLogger(__name__)

SPLIT_COLUMN = "split"
SPLITS = ("train", "validation", "test", "embargo")
FEATURE_TABLES = ("trade_features", "train_set", "test_set")
KEY_CONSTRAINT = ("keys_not_null", "symbol IS NOT NULL AND bar_start IS NOT NULL")
LABEL_CONSTRAINT = ("label_is_binary", "label = 0 OR label = 1")


@dataclass(frozen=True)
class SplitBoundaries:
    """Where each slice starts (UTC); rows in ``[x - embargo, x)`` before a start are dropped."""

    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    embargo: pd.Timedelta

    def as_dict(self) -> dict[str, str]:
        return {
            "validation_start": self.validation_start.isoformat(),
            "test_start": self.test_start.isoformat(),
            "embargo_minutes": str(int(self.embargo / pd.Timedelta(minutes=1))),
        }


def _boundary(times: np.ndarray, fraction: float) -> np.datetime64:
    """The time from which the last ``fraction`` of ``times`` (sorted) begins."""
    return times[min(len(times) - 1, int(np.floor(len(times) * (1.0 - fraction))))]


def time_split(
    frame: pd.DataFrame, cfg: SplitConfig, *, time_column: str = TIMESTAMP_KEY
) -> tuple[pd.Series, SplitBoundaries]:
    """The slice name of every row (see the module doc) and the boundaries used.

    Raises ``ValueError`` when a slice would be empty (too little history for the
    fractions and embargo): training on an empty or overlapping split is worse than stopping.
    """
    if frame.empty:
        raise ValueError("cannot split an empty feature table")
    ts = pd.to_datetime(frame[time_column], utc=True)
    embargo = pd.Timedelta(minutes=cfg.embargo_minutes)
    values = ts.to_numpy(dtype="datetime64[ns]")
    ordered = np.sort(values)
    test_start = _boundary(ordered, cfg.test_fraction)
    before_test = ordered[ordered < test_start - embargo.to_timedelta64()]
    if before_test.size == 0:
        raise ValueError(
            f"no rows before the test slice: {len(frame)} rows span {ts.min()} .. {ts.max()}, "
            f"less than the embargo of {embargo} plus a training period"
        )
    validation_start = _boundary(before_test, cfg.validation_fraction)
    split = np.full(len(frame), "embargo", dtype=object)
    e = embargo.to_timedelta64()
    split[values >= test_start] = "test"
    split[(values >= validation_start) & (values < test_start - e)] = "validation"
    split[values < validation_start - e] = "train"
    counts = {name: int((split == name).sum()) for name in ("train", "validation", "test")}
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        raise ValueError(
            f"time split leaves {empty} empty ({counts}); {len(frame)} rows span {ts.min()} .. {ts.max()} "
            f"with embargo {embargo}: lower split.embargo_minutes or collect more data"
        )
    bounds = SplitBoundaries(
        validation_start=pd.Timestamp(validation_start, tz="UTC"),
        test_start=pd.Timestamp(test_start, tz="UTC"),
        embargo=embargo,
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
        return out


class FeatureStoreManager:
    """Gold -> labelled, time-split feature tables; and back to ``TrainingData`` for the models."""

    def __init__(self, platform: Platform, *, fe_client: _FeatureClient | None = None) -> None:
        self.platform = platform
        self.config = platform.config
        self._fe = fe_client if fe_client is not None else (
            feature_engineering_client() if platform.is_databricks else None
        )  # fmt: skip

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

    def build(self, gold: pd.DataFrame, truth: pd.DataFrame | None) -> FeatureSets:
        """Label ``gold`` and split it by time (pure: nothing is written)."""
        if gold.empty:
            raise ValueError("gold_trade_features is empty: run the pipeline first")
        dup = gold.duplicated(GOLD_KEYS)
        if dup.any():
            raise ValueError(f"gold has {int(dup.sum())} duplicate (symbol, bar_start) key(s)")
        labelled, report = label_bars(gold, self.config.labels, self.config.features, truth)
        labelled = labelled.sort_values([TIMESTAMP_KEY, "symbol"], kind="stable").reset_index(drop=True)
        split, bounds = time_split(labelled, self.config.split)
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
                primary_keys=list(GOLD_KEYS),
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
        ground_truth_location: Path | None = None,
        leakage_check: bool = True,
    ) -> FeatureStoreResult:
        """Read gold (unless given) and ground truth, label, split, write; the train stage's first step."""
        gold_frame = self.read_gold() if gold is None else gold
        truth_frame = truth if truth is not None else self.ground_truth(ground_truth_location)
        sets = self.build(gold_frame, truth_frame)
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
            from financial_transactions.features.labels import best_single_feature_f1

            scores = best_single_feature_f1(sets.train, self.feature_columns)
            leak = max(scores.values()) if scores else None
            if leak is not None and leak > 0.98:
                log.warning("features: one input alone reproduces the label (F1 %.3f): check for leakage", leak)
        log.info("features: %s", sizes)
        return FeatureStoreResult(versions, sizes, sets.boundaries, sets.labels, leak)

    # -- read back for the models ------------------------------------------------------
    def training_data(self, *, versions: dict[str, int] | None = None) -> TrainingData:
        """train / validation / test from ``train_set`` and ``test_set`` (at ``versions``, else current)."""
        from financial_transactions.models.data import TrainingData

        store = self.platform.store
        train_fqn, test_fqn = self.table("train_set"), self.table("test_set")
        pinned = versions or {}
        read_versions = {fqn: pinned.get(fqn, store.version(fqn)) for fqn in (train_fqn, test_fqn)}
        train_all = store.read(train_fqn, version=read_versions[train_fqn])
        test = store.read(test_fqn, version=read_versions[test_fqn])
        order = [TIMESTAMP_KEY, "symbol"]
        train = train_all[train_all[SPLIT_COLUMN] == "train"].sort_values(order).reset_index(drop=True)
        validation = train_all[train_all[SPLIT_COLUMN] == "validation"].sort_values(order).reset_index(drop=True)
        data = TrainingData(
            train=train,
            validation=validation,
            test=test.sort_values(order).reset_index(drop=True),
            feature_columns=self.feature_columns,
            label_column=LABEL_COLUMN,
            feature_table_versions=read_versions,
        )
        data.check()
        return data
