"""``feature_importance.json``: the champion's feature importances, largest first, with each one's share.

``models.tournament`` stores them per model as a JSON object (feature -> normalised importance)
in ``tournament_results.feature_importance`` and logs the same object as the run's
``feature_importance.json`` artifact; the table is read first, the artifact when the row has none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from financial_transactions.reporting.documents.common import ExportContext, Section, guard, missing, sorted_by_time
from financial_transactions.reporting.frames import maybe_json, num
from financial_transactions.reporting.sources import RegistryState, Sources
from financial_transactions.runtime import Platform

KEY = "tournament_results"
#: The ``tournament_results`` columns that find the champion's row and its importances.
COLUMNS = ("feature_importance", "mlflow_run_id", "is_winner", "created_at")
#: The artifact ``models.tournament`` logs with each model's MLflow run.
ARTIFACT = "feature_importance.json"


def build(ctx: ExportContext) -> dict[str, Any]:
    return ctx.document(
        "feature_importance",
        {"features": guard("features", [], lambda: champion_importance(ctx.platform, ctx.sources, ctx.registry))},
    )


def champion_importance(platform: Platform, src: Sources, registry: RegistryState) -> Section:
    """The champion run's row of ``tournament_results`` (else the newest winner's), else its MLflow artifact."""
    fqn = src.fqn(KEY)
    champion = registry.champion
    df = src.read(KEY, COLUMNS)
    if df is not None and not df.empty:
        champ_run = next((v["run_id"] for v in registry.versions if v["version"] == champion), None)
        pool = df[df["mlflow_run_id"] == champ_run] if champ_run is not None else df.iloc[0:0]
        if pool.empty:
            pool = sorted_by_time(df[df["is_winner"].fillna(False).astype(bool)], "created_at").head(1)
        for value in pool["feature_importance"]:
            items = importance_items(maybe_json(value))
            if items:
                return Section("ok", items, [fqn])
    if champion is None:
        return missing([], [fqn], "no champion model yet (run fin-mlops train)")
    items, where = importance_from_mlflow(platform, registry, champion)
    if items:
        return Section("ok", items, [where])
    return Section("empty", [], [fqn, where], f"champion v{champion} logged no feature importance")


def importance_items(value: Any) -> list[dict[str, Any]]:
    """A feature -> importance object as rows sorted by absolute importance, with each one's share of the total."""
    items: list[tuple[str, float]] = []
    if isinstance(value, dict):
        items = [(str(k), float(v)) for k, v in value.items() if num(v) is not None]
    total = sum(abs(v) for _, v in items) or 1.0
    items.sort(key=lambda kv: -abs(kv[1]))
    return [{"feature": f, "importance": num(v, 6), "share": num(abs(v) / total, 6)} for f, v in items]


def importance_from_mlflow(
    platform: Platform, registry: RegistryState, version: str
) -> tuple[list[dict[str, Any]], str]:
    """The ``feature_importance.json`` artifact of the champion's MLflow run (none: an empty list)."""
    run_id = next((v["run_id"] for v in registry.versions if v["version"] == version), None)
    where = f"mlflow run of {registry.name} v{version}"
    if not run_id:
        return [], where
    from mlflow.tracking import MlflowClient

    settings = platform.mlflow
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    if not any(art.path == ARTIFACT for art in client.list_artifacts(run_id)):
        return [], where
    local = client.download_artifacts(run_id, ARTIFACT)
    return importance_items(json.loads(Path(local).read_text(encoding="utf-8"))), f"{where} ({ARTIFACT})"
