"""Issue 17's quality target on the ``make run`` market: every anomaly type caught at the gate's operating point.

The default seeded replay (``project_config.yml``'s dev replay: window 1 of the synthetic market)
goes to gold through the shared feature code (what the pipeline's UDF runs; ``benchmarks/models.py``
checks the replay -> collectors -> bronze -> silver path gives the same figures), then through
``run_training`` (features -> tournament -> validator -> gate). The champion, loaded as serving loads
it, is scored on the held-out test slice and cut where the gate compares models
(``gate.operating_point`` <= ``gate.operating_value``, FPR <= 1% by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from financial_transactions.config import ProjectConfig
from financial_transactions.features.feature_engineering import build_gold_features
from financial_transactions.features.labels import ANOMALY_TYPES
from financial_transactions.models.metrics import evaluate_predictions, operating_point
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.models.training import load_holdout, run_training
from financial_transactions.replay.synthetic import build_synthetic_market
from financial_transactions.runtime import Platform

TARGET_TYPE_RECALL = 0.80
TARGET_PR_AUC = 0.85


def recall_by_type_at(holdout: pd.DataFrame, flagged: np.ndarray) -> dict[str, tuple[int, int]]:
    """(flagged, bars) per anomaly type among the held-out rows whose ``anomaly_types`` name it."""
    types = holdout["anomaly_types"].fillna("").astype(str)
    out: dict[str, tuple[int, int]] = {}
    for kind in ANOMALY_TYPES:
        mask = types.str.contains(kind, regex=False).to_numpy()
        out[kind] = (int(flagged[mask].sum()), int(mask.sum()))
    return out


def test_every_anomaly_type_is_caught_at_the_gates_operating_point(config: ProjectConfig, tmp_path: Path) -> None:
    platform = Platform.create(config, lakehouse_root=tmp_path / "lh")
    market = build_synthetic_market(config.replay, config.symbols.equities, config.symbols.crypto, window=1)
    gold = build_gold_features(market.silver_frame(), config.features)
    platform.store.overwrite(config.table("gold_trade_features"), gold)
    market.write_ground_truth(platform.paths.landing)

    outcome = run_training(platform, git_sha="issue17")

    assert outcome.status == "promoted", outcome.decision
    _, model = ModelRegistry.from_platform(platform).load_alias("champion")
    holdout, label = load_holdout(platform)
    y = holdout[label].to_numpy()
    scores = pd.DataFrame(model.predict(holdout))["score"].to_numpy(dtype=np.float64)
    gate = config.gate
    point = operating_point(y, scores, gate.operating_point, gate.operating_value)
    assert point.threshold is not None
    by_type = recall_by_type_at(holdout, scores >= point.threshold)
    pr_auc = evaluate_predictions(y, scores, scores >= point.threshold, k=10, fixed_fpr=0.01)["pr_auc"]

    # the held-out slice of the seeded market: exact sizes (a change to the market or the split shows here)
    assert (len(holdout), int(y.sum())) == (4929, 67)
    assert {kind: bars for kind, (_, bars) in by_type.items()} == {
        "price_spike": 15,
        "volume_burst": 6,
        "wash_trade": 15,
        "stale_price": 31,
    }
    recalls = {kind: hit / bars for kind, (hit, bars) in by_type.items()}
    assert min(recalls.values()) >= TARGET_TYPE_RECALL, recalls
    assert pr_auc >= TARGET_PR_AUC
    assert point.fpr <= gate.operating_value
