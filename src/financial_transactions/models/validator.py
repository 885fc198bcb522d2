"""``ModelValidator``: pre-deployment checks on a logged model, as a pass/fail report.

Checks, in order (a failed load stops the rest, which would all fail for the same reason):

1. ``loads`` – ``mlflow.pyfunc.load_model`` works;
2. ``signature`` – the model has an input signature whose columns are exactly the
   feature columns, in order, with the feature table's types;
3. ``no_nan_predictions`` – on ``sample_rows`` holdout rows it returns ``score``,
   ``label`` and ``model_version``, one row per input, finite scores, labels in {0, 1};
4. ``min_pr_auc`` / ``min_roc_auc`` – holdout metrics at or above the floors;
5. ``latency`` – the median of ``latency_repeats`` timings (after one warm call) of
   one batch of ``latency_batch_rows`` rows (holdout rows repeated to that size) is
   within ``latency_budget_ms``: one timing on a shared machine measures the machine.

The report is logged (INFO/ERROR lines) and, when a run id is given, attached to
that MLflow run as ``validation/report.json`` plus a ``validation_passed`` metric.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from financial_transactions.config.ml import ValidatorConfig
from financial_transactions.models.custom_model import OUTPUT_COLUMNS
from financial_transactions.models.metrics import evaluate_predictions
from financial_transactions.models.pyfunc import model_inputs

log = logging.getLogger(__name__)

_ARROW_TO_MLFLOW = {
    "int64": "long",
    "int32": "integer",
    "int16": "integer",
    "int8": "integer",
    "double": "double",
    "float": "float",
    "bool": "boolean",
    "string": "string",
    "large_string": "string",
}


@dataclass
class ValidationCheck:
    name: str
    passed: bool
    detail: str
    value: float | None = None
    limit: float | None = None


@dataclass
class ValidationReport:
    model_uri: str
    checks: list[ValidationCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[ValidationCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"model_uri": self.model_uri, "passed": self.passed, "checks": [asdict(c) for c in self.checks]}

    def to_text(self) -> str:
        lines = [f"validation of {self.model_uri}: {'PASS' if self.passed else 'FAIL'}"]
        lines += [f"  [{'pass' if c.passed else 'FAIL'}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


def mlflow_type(arrow_type: pa.DataType) -> str:
    """The MLflow column type a feature-table column of ``arrow_type`` must have."""
    key = str(arrow_type)
    if key not in _ARROW_TO_MLFLOW:
        raise ValueError(f"feature column type {key} has no MLflow signature equivalent")
    return _ARROW_TO_MLFLOW[key]


class ModelValidator:
    def __init__(
        self,
        cfg: ValidatorConfig,
        *,
        feature_columns: list[str],
        feature_schema: pa.Schema,
        label_column: str = "label",
        k: int = 100,
        fixed_fpr: float = 0.01,
    ) -> None:
        self.cfg = cfg
        self.feature_columns = list(feature_columns)
        self.feature_schema = feature_schema
        self.label_column = label_column
        self.k = k
        self.fixed_fpr = fixed_fpr

    def validate(self, model_uri: str, holdout: pd.DataFrame, *, run_id: str | None = None) -> ValidationReport:
        report = ValidationReport(model_uri)
        model = self._check_load(model_uri, report)
        if model is not None:
            self._check_signature(model, report)
            self._check_predictions(model, holdout, report)
            self._check_metrics(model, holdout, report)
            self._check_latency(model, holdout, report)
        self._log(report, run_id)
        return report

    # -- checks ----------------------------------------------------------------
    def _check_load(self, model_uri: str, report: ValidationReport) -> Any:
        import mlflow

        try:
            model = mlflow.pyfunc.load_model(model_uri)
        except Exception as exc:
            report.checks.append(ValidationCheck("loads", False, f"pyfunc load failed: {type(exc).__name__}: {exc}"))
            return None
        report.checks.append(ValidationCheck("loads", True, "mlflow.pyfunc.load_model succeeded"))
        return model

    def _check_signature(self, model: Any, report: ValidationReport) -> None:
        signature = model.metadata.signature
        if signature is None or signature.inputs is None:
            report.checks.append(ValidationCheck("signature", False, "the model has no input signature"))
            return
        spec = [(c.name, c.type.name if hasattr(c.type, "name") else str(c.type)) for c in signature.inputs.inputs]
        names = [n for n, _ in spec]
        problems = []
        if names != self.feature_columns:
            missing = [c for c in self.feature_columns if c not in names]
            extra = [c for c in names if c not in self.feature_columns]
            if not missing and not extra:
                problems.append("the signature lists the feature columns in a different order")
            else:
                problems.append(f"columns differ from the feature columns (missing {missing}, extra {extra})")
        for name, typ in spec:
            if name not in self.feature_schema.names:
                problems.append(f"{name} is not in the feature table")
                continue
            expected = mlflow_type(self.feature_schema.field(name).type)
            if typ != expected:
                problems.append(f"{name} is {typ} in the signature but {expected} in the feature table")
        if problems:
            report.checks.append(ValidationCheck("signature", False, "; ".join(problems)))
        else:
            report.checks.append(
                ValidationCheck("signature", True, f"{len(spec)} input columns match the feature table")
            )

    def _check_predictions(self, model: Any, holdout: pd.DataFrame, report: ValidationReport) -> None:
        sample = holdout.head(self.cfg.sample_rows)
        try:
            out = model.predict(model_inputs(model, sample))
        except Exception as exc:
            report.checks.append(ValidationCheck("no_nan_predictions", False, f"predict raised {exc}"))
            return
        missing = [c for c in OUTPUT_COLUMNS if c not in out.columns]
        if missing:
            report.checks.append(ValidationCheck("no_nan_predictions", False, f"output lacks {missing}"))
            return
        scores = out["score"].to_numpy(dtype=np.float64)
        bad_scores = int((~np.isfinite(scores)).sum())
        bad_labels = int((~out["label"].isin([0, 1])).sum())
        ok = len(out) == len(sample) and bad_scores == 0 and bad_labels == 0 and not out["model_version"].isna().any()
        report.checks.append(
            ValidationCheck(
                "no_nan_predictions",
                ok,
                f"{len(out)} of {len(sample)} rows scored; {bad_scores} non-finite score(s), "
                f"{bad_labels} label(s) outside 0/1",
                value=float(bad_scores),
                limit=0.0,
            )
        )

    def _check_metrics(self, model: Any, holdout: pd.DataFrame, report: ValidationReport) -> None:
        try:
            out = model.predict(model_inputs(model, holdout))
            metrics = evaluate_predictions(
                holdout[self.label_column].to_numpy(dtype=np.int64),
                out["score"].to_numpy(dtype=np.float64),
                out["label"].to_numpy() == 1,
                k=self.k,
                fixed_fpr=self.fixed_fpr,
            )
        except Exception as exc:
            report.checks.append(ValidationCheck("metrics", False, f"holdout metrics unavailable: {exc}"))
            return
        for name, floor in (("pr_auc", self.cfg.min_pr_auc), ("roc_auc", self.cfg.min_roc_auc)):
            value = metrics[name]
            report.checks.append(
                ValidationCheck(f"min_{name}", value >= floor, f"{name} {value:.4f} (floor {floor:.4f})", value, floor)
            )

    def _check_latency(self, model: Any, holdout: pd.DataFrame, report: ValidationReport) -> None:
        rows, repeats = self.cfg.latency_batch_rows, self.cfg.latency_repeats
        batch = model_inputs(model, holdout.iloc[np.resize(np.arange(len(holdout)), rows)].reset_index(drop=True))
        try:
            model.predict(batch)  # warm: lazy loading is not latency
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                model.predict(batch)
                samples.append((time.perf_counter() - start) * 1000.0)
        except Exception as exc:
            report.checks.append(ValidationCheck("latency", False, f"batch predict raised {exc}"))
            return
        ms = float(np.median(samples))
        budget = self.cfg.latency_budget_ms
        detail = f"{rows} rows in {ms:.1f} ms, median of {repeats} (budget {budget:.0f} ms)"
        report.checks.append(ValidationCheck("latency", ms <= budget, detail, ms, budget))

    # -- reporting ---------------------------------------------------------------
    def _log(self, report: ValidationReport, run_id: str | None) -> None:
        (log.info if report.passed else log.error)("%s", report.to_text())
        if run_id is None:
            return
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        client.log_dict(run_id, report.to_dict(), "validation/report.json")
        client.log_metric(run_id, "validation_passed", 1.0 if report.passed else 0.0)
        client.set_tag(run_id, "validation", "pass" if report.passed else "fail")
        client.set_tag(run_id, "validation_failures", json.dumps([c.name for c in report.failures]))
