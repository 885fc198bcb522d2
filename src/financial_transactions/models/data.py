"""``TrainingData``: the three time-ordered slices every model sees, plus their provenance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from financial_transactions.models.metrics import require_both_classes


@dataclass(frozen=True)
class TrainingData:
    """train (fit) -> validation (threshold) -> test (ranking, gate), split by time upstream.

    ``feature_table_versions`` maps each feature table's fqn to the Delta version
    read, so a promotion snapshot can restore exactly what the model was trained on.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    feature_columns: list[str]
    label_column: str = "label"
    feature_table_versions: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        """Fail early, with the reason, instead of four identical model failures."""
        for name, frame in (("train", self.train), ("validation", self.validation), ("test", self.test)):
            missing = [c for c in [*self.feature_columns, self.label_column] if c not in frame.columns]
            if missing:
                raise ValueError(f"{name} slice lacks column(s) {missing}")
            if frame.empty:
                raise ValueError(f"{name} slice is empty")
            labels = frame[self.label_column]
            if labels.isna().any():
                raise ValueError(f"{name} slice has {int(labels.isna().sum())} unlabeled row(s)")
            bad = set(np.unique(labels.to_numpy())) - {0, 1}
            if bad:
                raise ValueError(f"{name} slice has labels {sorted(bad)}; expected 0/1")
        require_both_classes(self.train[self.label_column].to_numpy(), "the train slice")
        require_both_classes(self.validation[self.label_column].to_numpy(), "the validation slice")
        require_both_classes(self.test[self.label_column].to_numpy(), "the test slice")

    def labels(self, slice_name: str) -> np.ndarray:
        frame: pd.DataFrame = getattr(self, slice_name)
        return frame[self.label_column].to_numpy(dtype=np.int64)

    @property
    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.train), "n_validation": len(self.validation), "n_test": len(self.test)}
