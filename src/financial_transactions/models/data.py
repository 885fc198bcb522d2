"""``TrainingData``: the three time-ordered slices every model sees, plus their provenance.

The feature store reads the slices back (:class:`~financial_transactions.features.slices.FeatureSlices`);
this adds what the models require of them, checked once before four models fail alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from financial_transactions.features.slices import FeatureSlices
from financial_transactions.models.metrics import require_both_classes


@dataclass(frozen=True)
class TrainingData(FeatureSlices):
    """train (fit) -> validation (threshold) -> test (ranking, gate), split by time upstream."""

    @classmethod
    def from_slices(cls, slices: FeatureSlices) -> TrainingData:
        """The feature store's slices as the models' input (the same frames, not copied)."""
        return cls(**{f.name: getattr(slices, f.name) for f in fields(slices)})

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
