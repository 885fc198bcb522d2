"""Metric conventions, threshold choice, feature preparation and the pyfunc scoring core."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from financial_transactions.config.ml import RandomForestParams
from financial_transactions.models.algorithms import RandomForestModel
from financial_transactions.models.base import positive_weight
from financial_transactions.models.custom_model import (
    Scorer,
    binary_booster,
    column_fill_values,
    fill_non_finite,
    prepare_features,
)
from financial_transactions.models.metrics import UndefinedMetric, choose_threshold, evaluate_scores
from tests.support.models import fit, lightgbm, random_forest
from tests.support.training_data import training_data


def test_metrics_match_hand_computed_values() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    m = evaluate_scores(y, s, threshold=0.65, k=3, fixed_fpr=0.15)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, s))
    assert m["pr_auc"] == pytest.approx((1 / 1 + 2 / 3 + 3 / 7) / 3)  # AP: mean precision at each hit
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert m["precision_at_k"] == pytest.approx(2 / 3)  # top 3: 1, 0, 1
    assert m["recall_at_fpr"] == pytest.approx(2 / 3)  # FPR <= 1/7 reaches the second hit
    # flagged: 0.9, 0.8, 0.7 -> tp 2, fp 1, fn 1
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)


def test_metrics_refuse_a_single_class_holdout() -> None:
    with pytest.raises(UndefinedMetric, match="0 anomalous row"):
        evaluate_scores(np.zeros(5), np.linspace(0, 1, 5), threshold=0.5, k=2, fixed_fpr=0.1)


def test_threshold_maximises_validation_f1() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.2, 0.6, 0.7, 0.65, 0.9])
    # cut 0.6 flags 4 rows with 3 hits: F1 = 6/7, better than any other cut
    assert choose_threshold(y, s) == pytest.approx(0.6)


def test_threshold_f1_ties_are_exact_and_go_to_the_highest_cut_whatever_the_row_order() -> None:
    # 2 positives. Cut 0.8 flags 4 rows (1 hit, a tied pair): F1 = 2*1/(1+3+2) = 1/3. Cut 0.2 flags 10 rows
    # (2 hits): F1 = 2*2/(2+8+2) = 1/3, a true tie that float F1 splits (0.3333333333333333 vs ...37).
    # Every other cut is below 1/3; the rule picks the highest tied cut, 0.8, in any row order.
    y = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0])
    s = np.array([0.95, 0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2, 0.2, 0.1, 0.05])
    rng = np.random.default_rng(19)
    for _ in range(40):
        order = rng.permutation(len(y))
        threshold = choose_threshold(y[order], s[order])
        assert threshold == 0.8
        assert int((s[order] >= threshold).sum()) == 4


def test_forest_scores_are_bit_identical_between_calls() -> None:
    # trained on two threads; scoring on two would add the trees in finishing order (an ulp apart between calls)
    data = training_data(1500, seed=5)
    model = fit(RandomForestModel(RandomForestParams(n_estimators=60), random_state=7, n_jobs=2), data)
    assert model.estimator.n_jobs == 1
    first = model.score(data.validation)
    for _ in range(15):
        np.testing.assert_array_equal(model.score(data.validation), first)
    labels = [model.scorer(run_id="r").predict(data.validation, "1")["label"].to_numpy() for _ in range(5)]
    for other in labels[1:]:
        np.testing.assert_array_equal(other, labels[0])


def test_positive_weight_modes() -> None:
    y = np.array([1, 0, 0, 0, 0])
    assert positive_weight("balanced", y) == 4.0
    assert positive_weight("none", y) == 1.0
    assert positive_weight(2.5, y) == 2.5


def test_prepare_features_orders_casts_and_fills() -> None:
    frame = pd.DataFrame({"b": [1, 2, 3], "a": [1.0, np.nan, np.inf], "extra": ["x", "y", "z"]})
    fills = column_fill_values(frame, ["a", "b"])
    assert fills == [1.0, 2.0]
    m = prepare_features(frame, ["a", "b"], fills)
    np.testing.assert_array_equal(m, [[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    with pytest.raises(ValueError, match=r"lacks feature column\(s\) \['c'\]"):
        prepare_features(frame, ["a", "c"], [0.0, 0.0])
    # numbers sent as text (an object column) take the per-column path and give the same matrix
    texty = frame.assign(a=["1.0", None, "inf"], b=[1, "2", 3.0])
    np.testing.assert_array_equal(prepare_features(texty, ["a", "b"], fills), m)
    np.testing.assert_array_equal(prepare_features(frame.assign(b=[True, False, True]), ["b"], [9.0]), [[1], [0], [1]])


def test_scorer_matches_the_fitted_model() -> None:
    data = training_data(800, seed=21)
    model = fit(lightgbm(), data)
    scorer = model.scorer(run_id="r1")
    out = scorer.predict(data.test, "3")
    np.testing.assert_allclose(out["score"].to_numpy(), model.score(data.test))
    assert (out["label"] == (out["score"] >= model.threshold).astype(int)).all()
    assert set(out["model_version"]) == {"3"} and out.index.equals(data.test.index)
    again = Scorer(model.estimator, scorer.metadata)
    np.testing.assert_allclose(again.score(data.test), out["score"].to_numpy())
    # the matrix entry (serving's low-latency path) scores exactly like the DataFrame entry, NaN included
    raw = data.test[scorer.columns].to_numpy(dtype=np.float64)
    raw[::7, 0] = np.nan
    frame = pd.DataFrame(raw.copy(), columns=scorer.columns)
    np.testing.assert_array_equal(scorer.score_matrix(raw), scorer.score(frame))
    with pytest.raises(ValueError, match="feature columns"):
        scorer.score_matrix(raw[:, :2])


def test_lightgbm_scorer_uses_the_booster_and_scores_bit_identically_to_predict_proba() -> None:
    data = training_data(800, seed=21)
    model = fit(lightgbm(), data)
    scorer = model.scorer(run_id="r1")
    assert scorer._booster is not None and scorer._booster == (model.estimator.booster_, 1)
    raw = data.test[scorer.columns].to_numpy(dtype=np.float64)
    raw[::5, 1] = np.nan
    filled = fill_non_finite(raw.copy(), scorer.fill_values)
    expected = model.estimator.predict_proba(filled)[:, 1]
    np.testing.assert_array_equal(scorer.score_matrix(raw.copy()), expected)
    for row in range(3):  # one row at a time, as a single request is scored
        np.testing.assert_array_equal(scorer.score_matrix(raw[row : row + 1].copy()), expected[row : row + 1])
    # the thread count never changes a score (rows are predicted independently)
    booster, _ = scorer._booster
    np.testing.assert_array_equal(booster.predict(filled, num_threads=2), expected)
    np.testing.assert_array_equal(scorer.score_matrix(raw.copy(), threads=2), expected)
    np.testing.assert_array_equal(scorer.score_matrix(raw.copy(), threads=0), expected)


def test_binary_booster_only_for_a_fitted_binary_lightgbm_with_a_built_in_objective() -> None:
    from lightgbm import LGBMClassifier

    data = training_data(400, seed=3)
    x = data.train[data.feature_columns].to_numpy(dtype=np.float64)
    y = data.train[data.label_column].to_numpy()
    assert binary_booster(LGBMClassifier(n_estimators=3)) is None  # not fitted
    fitted = LGBMClassifier(n_estimators=3, n_jobs=-1, verbose=-1).fit(x, y)
    assert binary_booster(fitted) == (fitted.booster_, 0)  # a special n_jobs: OpenMP's default thread count
    three = LGBMClassifier(n_estimators=3, verbose=-1).fit(x, np.arange(len(y)) % 3)
    assert binary_booster(three) is None  # multiclass

    def logloss(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-y_pred))
        return p - y_true, p * (1.0 - p)

    custom = LGBMClassifier(n_estimators=3, objective=logloss, verbose=-1).fit(x, y)
    assert binary_booster(custom) is None  # predict_proba answers raw scores then
    assert binary_booster(fit(random_forest(5), data).estimator) is None  # another library
