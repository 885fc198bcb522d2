"""``FeatureSlices``: the time-split feature tables read back for the models, with their provenance.

The feature store builds them (:meth:`FeatureStoreManager.training_data`); the models take
them as :class:`~financial_transactions.models.data.TrainingData`, which adds the checks a
training set must pass. The frames live here so the feature code never imports the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class FeatureSlices:
    """train (fit) -> validation (threshold) -> test (ranking, gate), split by time upstream.

    ``feature_table_versions`` maps each feature table's fqn to its Delta version behind
    these slices (``train_set`` / ``test_set`` as read, ``trade_features`` as written with
    them), so a rollback can restore exactly what the model was trained on.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    feature_columns: list[str]
    label_column: str = "label"
    feature_table_versions: dict[str, int] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.train), "n_validation": len(self.validation), "n_test": len(self.test)}
