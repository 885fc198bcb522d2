"""Deploy step of the retraining workflow: gate a version if asked, prove the champion serves, serve it.

``deploy_champion`` runs after ``train_tournament.py`` in the Databricks retraining
job (behind a ``condition_task`` on the ``promoted`` task value) and by hand as
``fin-mlops deploy-model [--version N]`` or ``scripts/financial/deploy_anomaly_model.py``:

1. with ``version``: the champion/challenger gate for that registered version on
   the current ``test_set`` (same rules, audit and snapshot as in training);
2. the ``champion`` alias is resolved and its pyfunc loaded exactly as serving
   loads it, then smoke-scored on holdout rows: every score finite, labels 0/1,
   ``model_version`` equal to the champion's version;
3. **serving** (:func:`update_serving_endpoint`): with ``serving.endpoint_enabled``,
   the runtime's serving updater (``Runtime.serve_champion``) runs. On Databricks the
   Model Serving endpoint is created or updated to serve that champion (plus the
   configured canary split when a challenger exists), and the step waits, within
   ``serving.endpoint_wait_seconds``, for it to be READY. Off Databricks nothing is
   deployed, and the outcome says so: the local API (``fin-mlops serve``) follows the
   champion alias by itself;
4. on Databricks, task values ``champion_version`` and ``promoted`` are set for
   the downstream tasks (dashboard export).

Any failure raises :class:`DeploymentError`; nothing is half-deployed because
this step never moves an alias except through the gate, and a failed endpoint update
leaves the endpoint serving its previous config.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from financial_transactions.models.champion_challenger import ChampionChallenger, GateDecision
from financial_transactions.models.pyfunc import aliases_text, model_inputs
from financial_transactions.models.registry import CHAMPION, ModelRegistry, RegistryError
from financial_transactions.runtime import Platform
from financial_transactions.runtime.serving_endpoint import ServingError, ServingUpdate

if TYPE_CHECKING:
    from financial_transactions.runtime.serving_endpoint import ModelServingManager

log = logging.getLogger(__name__)


class DeploymentError(RuntimeError):
    """The champion cannot be deployed (none exists, it does not load, or it scores badly)."""


@dataclass
class DeployOutcome:
    champion_version: int
    smoke_rows: int
    aliases: dict[str, int]
    decision: GateDecision | None
    task_values_set: bool
    serving: ServingUpdate | None = None

    def describe(self) -> str:
        text = (
            f"champion version {self.champion_version} loads and scored {self.smoke_rows} holdout rows "
            f"(finite scores, labels 0/1, version-stamped); aliases {aliases_text(self.aliases)}"
        )
        if self.serving is not None:
            text += f"\nserving: {self.serving.detail}"
        return text


def update_serving_endpoint(
    platform: Platform, champion: int, *, manager: ModelServingManager | None = None
) -> ServingUpdate:
    """Serve ``champion`` through the runtime's serving updater when configured; say why not otherwise.

    ``manager`` defaults to databricks-sdk unified auth (the job's own identity on Databricks).
    """
    serving = platform.config.serving
    if not serving.endpoint_enabled:
        return ServingUpdate(False, f"endpoint {serving.endpoint_name} not updated: serving.endpoint_enabled is false")
    try:
        return platform.runtime.serve_champion(platform.config, champion, manager=manager)
    except ServingError as exc:
        raise DeploymentError(f"champion version {champion} is not served: {exc}") from exc


def deploy_champion(
    platform: Platform,
    *,
    version: int | None = None,
    git_sha: str | None = None,
    smoke_rows: int = 500,
    serving_manager: ModelServingManager | None = None,
) -> DeployOutcome:
    from financial_transactions.models.training import feature_table_versions, load_holdout

    registry = ModelRegistry.from_platform(platform)
    try:
        holdout, label_column = load_holdout(platform)
    except FileNotFoundError as exc:
        raise DeploymentError(str(exc)) from exc
    decision = None
    if version is not None:
        current = feature_table_versions(platform)
        decision = ChampionChallenger(platform, registry=registry, git_sha=git_sha).evaluate(
            version,
            holdout,
            label_column=label_column,
            feature_versions_before=current,
            challenger_feature_versions=current,
        )
    try:
        aliases = registry.aliases()
        champion = aliases.get(CHAMPION)
        if champion is None:
            raise DeploymentError(f"{registry.name} has no champion to deploy (run fin-mlops train first)")
        model = registry.load(champion)
    except RegistryError as exc:
        raise DeploymentError(str(exc)) from exc
    sample = holdout.head(smoke_rows)
    out = pd.DataFrame(model.predict(model_inputs(model, sample)))
    problems = []
    if len(out) != len(sample):
        problems.append(f"{len(out)} outputs for {len(sample)} rows")
    if not np.isfinite(out["score"].to_numpy(dtype=np.float64)).all():
        problems.append("non-finite scores")
    if not out["label"].isin([0, 1]).all():
        problems.append("labels outside 0/1")
    if set(out["model_version"]) != {str(champion)}:
        problems.append(f"model_version {sorted(set(out['model_version']))} != {champion}")
    if problems:
        raise DeploymentError(f"champion version {champion} failed its smoke test: {'; '.join(problems)}")
    serving = update_serving_endpoint(platform, champion, manager=serving_manager)
    set_values = platform.runtime.set_task_value("champion_version", champion)
    platform.runtime.set_task_value("promoted", bool(decision is not None and decision.promoted))
    return DeployOutcome(champion, len(sample), aliases, decision, set_values, serving)
