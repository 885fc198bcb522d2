"""``ModelTournament``: train every enabled model, rank them, log everything.

* One parent MLflow run per tournament; one nested run per model with its
  hyperparameters, the metrics of :mod:`metrics` on the **validation** slice
  (``val_<metric>``: what the ranking uses) and on the held-out **test** slice
  (``<metric>``: the reported figures), inference rows/s, train seconds, and the
  model itself as a :mod:`custom_model` pyfunc with a signature (the feature
  table's column types) and an input example. Every run is tagged ``git_sha``,
  ``env``, ``config_hash``, ``tournament_id``.
* **Selection is on validation, reporting on test.** Picking the best of four on
  the slice whose figure is then reported would bias that figure upwards (the
  winner's test score is the maximum of four noisy estimates). The winner is chosen
  on the validation slice, the one that already sets each model's threshold, and
  the test slice is touched only to report the held-out figures.
* A model that raises is recorded as **failed** (MLflow run status FAILED, the
  error as a tag, ``status="failed"`` and ``error`` in the table, metrics null);
  the others continue. A failure is never ranked and never becomes a 0.0.
* **Ranking** (documented tie-break, :func:`rank_results`): by validation
  ``cfg.models.primary_metric``, in *tiers*: the models within ``tie_tolerance`` of
  the best remaining value form the next tier, and each tier is ordered the same way
  by each metric of ``cfg.models.tie_break`` in turn (default ROC-AUC, recall at the
  fixed FPR, F1: deterministic figures, so a rerun ranks the same way; inference
  rows/s may be listed but is timer-dependent), then by model name. Tiers are cut
  relative to the best, so the order is a well-defined total order whatever the
  input order (a pairwise "within tolerance" comparator is not transitive).
* The comparison table is appended to the ``tournament_results`` Delta table
  (keys ``tournament_id`` + ``model``; ``mlflow_run_id`` is the model's own run,
  ``parent_mlflow_run_id`` the tournament's). Metric columns without a prefix
  (``pr_auc`` ...) and ``primary_value`` are **held-out test** figures;
  ``validation_<metric>`` and ``selection_value`` are the validation figures the
  ranking used (``selection_slice`` names the slice). Metrics are null for a failed
  model; ``feature_importance`` is a JSON object feature -> normalised importance,
  also logged as ``feature_importance.json``. The table is also logged as
  ``tournament_results.json`` on the parent run.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from financial_transactions.config import ProjectConfig
from financial_transactions.lakehouse.catalog import spec
from financial_transactions.models import custom_model
from financial_transactions.models.algorithms import build_models
from financial_transactions.models.base import BaseAnomalyModel, ModelResult
from financial_transactions.models.data import TrainingData
from financial_transactions.models.metrics import METRIC_NAMES, evaluate_scores
from financial_transactions.runtime import Platform
from financial_transactions.runtime.journal import scoped_id

log = logging.getLogger(__name__)

RESULT_METRICS = (*METRIC_NAMES, "inference_rows_per_s")
SELECTION_SLICE = "validation"


@dataclass
class TournamentResult:
    tournament_id: str
    parent_run_id: str
    primary_metric: str
    results: list[ModelResult]  # ranked successes first, then failures
    table: pd.DataFrame

    @property
    def winner(self) -> ModelResult | None:
        return next((r for r in self.results if r.ok), None)

    @property
    def failed(self) -> list[ModelResult]:
        return [r for r in self.results if not r.ok]


def rank_results(
    results: Sequence[ModelResult], primary: str, tie_break: Sequence[str], tol: float
) -> list[ModelResult]:
    """Successful models ranked on their *validation* metrics (rank 1 = winner), failed ones after, unranked.

    Tiers, not pairwise comparisons: among the models still unranked, those whose
    ``primary`` lies within ``tol`` of the best of them form the next tier; a tier is
    ordered by the same rule on the next ``tie_break`` metric, and finally by name.
    Every model lands in exactly one tier, so the result is a total order that does not
    depend on the input order (``|a - b| <= tol`` chained pairwise is not transitive:
    0.900 ~ 0.905 ~ 0.910 but not 0.900 ~ 0.910).
    """
    keys = [primary, *[m for m in tie_break if m != primary]]
    ok = _tiered([r for r in results if r.ok], keys, tol)
    for i, r in enumerate(ok, start=1):
        r.rank = i
    failed = [r for r in results if not r.ok]
    for r in failed:
        r.rank = None
    return [*ok, *failed]


def _tiered(models: list[ModelResult], keys: Sequence[str], tol: float) -> list[ModelResult]:
    if len(models) <= 1 or not keys:
        return sorted(models, key=lambda r: r.name)
    key, rest = keys[0], keys[1:]
    remaining = list(models)
    out: list[ModelResult] = []
    while remaining:
        best = max(r.selection_metric(key) for r in remaining)
        tier = [r for r in remaining if best - r.selection_metric(key) <= tol]
        out += _tiered(tier, rest, tol)
        remaining = [r for r in remaining if all(r is not t for t in tier)]
    return out


def pip_requirements(model: BaseAnomalyModel) -> list[str]:
    """Pinned requirements of the pyfunc (explicit: inference would import the model in a subprocess)."""
    packages = ["mlflow", "numpy", "pandas", "scikit-learn", "joblib", *model.requirements]
    out = []
    for pkg in packages:
        dist = {"xgboost": ("xgboost", "xgboost-cpu"), "mlflow": ("mlflow", "mlflow-skinny")}.get(pkg, (pkg,))
        version = None
        for name in dist:
            try:
                version = importlib_metadata.version(name)
                break
            except importlib_metadata.PackageNotFoundError:
                continue
        out.append(f"{pkg}=={version}" if version else pkg)
    return out


def log_pyfunc(
    model: BaseAnomalyModel,
    data: TrainingData,
    *,
    metadata: dict[str, Any],
    input_example_rows: int,
) -> str:
    """Log ``model`` as the :class:`custom_model.CustomModel` pyfunc in the active run; return its URI."""
    import joblib
    import mlflow
    from mlflow.models import infer_signature

    example = _input_example(data, input_example_rows)
    output = model.scorer(**metadata).predict(example, "0")
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="fin-mlops-model-") as tmp:
        # integer feature columns are integers in the feature table too: the signature keeps them
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*type hints to the `predict` method", category=UserWarning)
        signature = infer_signature(model_input=example, model_output=output)
        est_path = Path(tmp) / "estimator.joblib"
        meta_path = Path(tmp) / "metadata.json"
        joblib.dump(model.estimator, est_path)
        meta_path.write_text(json.dumps(model.metadata(**metadata), default=str), encoding="utf-8")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(custom_model.__file__)),
            artifacts={"estimator": str(est_path), "metadata": str(meta_path)},
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(model),
            # declared so a loader may pass the registry version (load_model(..., model_config=...))
            model_config={"model_version": ""},
        )
    return str(info.model_uri)


def _input_example(data: TrainingData, rows: int) -> pd.DataFrame:
    """A few real training rows with the feature table's column types; complete rows preferred."""
    frame = data.train[data.feature_columns]
    complete = frame.dropna()
    source = complete if len(complete) >= rows else frame
    return source.tail(rows).reset_index(drop=True)


def _flat_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flat_params(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


class ModelTournament:
    """Train, evaluate and log every model on the same slices; rank; persist the comparison."""

    def __init__(
        self,
        platform: Platform,
        *,
        models: Sequence[BaseAnomalyModel] | None = None,
        git_sha: str | None = None,
    ) -> None:
        self.platform = platform
        self.cfg: ProjectConfig = platform.config
        self.models = list(models) if models is not None else build_models(self.cfg.models)
        self.git_sha = git_sha or "unknown"

    def _tags(self, tournament_id: str) -> dict[str, str]:
        return {
            "git_sha": self.git_sha,
            "env": self.cfg.env,
            "config_hash": self.cfg.config_hash,
            "tournament_id": tournament_id,
        }

    def run(self, data: TrainingData) -> TournamentResult:
        import mlflow

        data.check()
        self.platform.configure_mlflow()
        mcfg = self.cfg.models
        tournament_id = scoped_id("tournament")  # the same on a resumed run: its rows are not written twice
        created_at = datetime.now(UTC)
        tags = self._tags(tournament_id)
        results: list[ModelResult] = []
        with mlflow.start_run(run_name=f"tournament-{created_at:%Y%m%d-%H%M%S}", tags=tags) as parent:
            mlflow.log_params(
                {
                    "primary_metric": mcfg.primary_metric,
                    "tie_break": ",".join(mcfg.tie_break),
                    "models": ",".join(m.name for m in self.models),
                    "feature_columns": ",".join(data.feature_columns),
                    **{k: str(v) for k, v in data.sizes.items()},
                    **{f"table_version.{k}": str(v) for k, v in data.feature_table_versions.items()},
                }
            )
            for model in self.models:
                results.append(self._run_one(model, data, tags))
            ranked = rank_results(results, mcfg.primary_metric, mcfg.tie_break, mcfg.tie_tolerance)
            table = self._table(ranked, data, tournament_id, parent.info.run_id, created_at)
            mlflow.log_table(table.astype({"created_at": str}), artifact_file="tournament_results.json")
            winner = next((r for r in ranked if r.ok), None)
            mlflow.set_tags(
                {
                    "winner": winner.name if winner else "none",
                    "failed_models": ",".join(r.name for r in ranked if not r.ok) or "none",
                    "selection_slice": SELECTION_SLICE,
                }
            )
            if winner is not None:
                mlflow.log_metrics(
                    {
                        f"winner_{mcfg.primary_metric}": winner.metric(mcfg.primary_metric),
                        f"winner_val_{mcfg.primary_metric}": winner.selection_metric(mcfg.primary_metric),
                    }
                )
        self.platform.store.merge(
            self.cfg.table("tournament_results"),
            pa.Table.from_pandas(table, schema=spec("tournament_results").schema),
            spec("tournament_results").merge_keys,
            update=False,
        )
        return TournamentResult(tournament_id, parent.info.run_id, mcfg.primary_metric, ranked, table)

    def _run_one(self, model: BaseAnomalyModel, data: TrainingData, tags: dict[str, str]) -> ModelResult:
        import mlflow

        mcfg = self.cfg.models
        run = mlflow.start_run(run_name=model.name, nested=True, tags={**tags, "algorithm": model.name})
        result = ModelResult(name=model.name, status="failed", run_id=run.info.run_id)
        try:
            result.params = model.hyperparameters()
            mlflow.log_params({**_flat_params(result.params), "algorithm": model.name, "n_jobs": str(model.n_jobs)})
            start = time.perf_counter()
            model.fit(data.train, data.validation, feature_columns=data.feature_columns, label_column=data.label_column)
            result.train_seconds = time.perf_counter() - start
            scorer = model.scorer(run_id=run.info.run_id)
            threshold = scorer.threshold
            validation_metrics = self._evaluate(scorer, data, "validation")
            metrics = self._evaluate(scorer, data, "test")
            mlflow.log_metrics(
                {
                    **metrics,
                    **{f"val_{k}": v for k, v in validation_metrics.items()},
                    "train_seconds": result.train_seconds,
                    "threshold": threshold,
                }
            )
            if model.class_weight_used is not None:
                mlflow.log_param("scale_pos_weight_used", f"{model.class_weight_used:.6g}")
            result.model_uri = log_pyfunc(
                model,
                data,
                metadata={
                    "run_id": run.info.run_id,
                    "tournament_id": tags["tournament_id"],
                    "test_metrics": metrics,
                    "validation_metrics": validation_metrics,
                    "git_sha": tags["git_sha"],
                    "config_hash": tags["config_hash"],
                    "env": tags["env"],
                    "trained_at": datetime.now(UTC).isoformat(),
                },
                input_example_rows=mcfg.input_example_rows,
            )
            importance = model.feature_importance()
            if importance is not None:
                mlflow.log_dict(importance, "feature_importance.json")
            result.feature_importance = importance
            result.metrics = metrics
            result.validation_metrics = validation_metrics
            result.threshold = threshold
            result.status = "ok"
            mlflow.set_tag("status", "ok")
            mlflow.end_run("FINISHED")
        except Exception as exc:  # recorded as failed, the tournament goes on
            result.status = "failed"
            result.metrics = {}
            result.validation_metrics = {}
            result.model_uri = None
            result.error = f"{type(exc).__name__}: {exc}"
            log.error("tournament: %s failed: %s", model.name, result.error)
            mlflow.set_tags({"status": "failed", "error": result.error[:4000]})
            mlflow.log_text(traceback.format_exc(), "error.txt")
            mlflow.end_run("FAILED")
        return result

    def _evaluate(self, scorer: custom_model.Scorer, data: TrainingData, slice_name: str) -> dict[str, float]:
        """Every metric of ``scorer`` on one slice, with its batch inference rows/s."""
        mcfg = self.cfg.models
        frame: pd.DataFrame = getattr(data, slice_name)
        start = time.perf_counter()
        predicted = scorer.predict(frame, "evaluation")
        seconds = max(time.perf_counter() - start, 1e-9)
        metrics = evaluate_scores(
            data.labels(slice_name),
            predicted["score"].to_numpy(),
            threshold=scorer.threshold,
            k=mcfg.precision_at_k,
            fixed_fpr=mcfg.fixed_fpr,
        )
        metrics["inference_rows_per_s"] = len(frame) / seconds
        return metrics

    def _table(
        self,
        ranked: list[ModelResult],
        data: TrainingData,
        tournament_id: str,
        parent_run_id: str,
        created_at: datetime,
    ) -> pd.DataFrame:
        primary = self.cfg.models.primary_metric
        n_anomalies = int(data.labels("test").sum())
        rows = []
        for r in ranked:
            row: dict[str, Any] = {
                "tournament_id": tournament_id,
                "parent_mlflow_run_id": parent_run_id,
                "mlflow_run_id": r.run_id,
                "model": r.name,
                "status": r.status,
                "error": r.error,
                "rank": r.rank,
                "is_winner": r.rank == 1,
                "primary_metric": primary,
                "primary_value": r.metrics.get(primary, np.nan) if r.ok else np.nan,
                "selection_slice": SELECTION_SLICE,
                "selection_value": r.validation_metrics.get(primary, np.nan) if r.ok else np.nan,
                **{m: (r.metrics[m] if r.ok else np.nan) for m in RESULT_METRICS},
                **{f"validation_{m}": (r.validation_metrics[m] if r.ok else np.nan) for m in RESULT_METRICS},
                "threshold": r.threshold if r.threshold is not None else np.nan,
                "train_seconds": r.train_seconds if r.train_seconds is not None else np.nan,
                **data.sizes,
                "n_test_anomalies": n_anomalies,
                "model_uri": r.model_uri,
                "feature_importance": json.dumps(r.feature_importance) if r.feature_importance else None,
                "git_sha": self.git_sha,
                "env": self.cfg.env,
                "config_hash": self.cfg.config_hash,
                "created_at": pd.Timestamp(created_at),
            }
            rows.append(row)
        table = pd.DataFrame(rows, columns=spec("tournament_results").schema.names)
        table["rank"] = table["rank"].astype("Int64")
        return table
