"""Named crash points: where the crash-consistency harness may kill ``fin-mlops``.

``crashpoint("gate.after_audit")`` does nothing unless the environment variable
``FIN_MLOPS_CRASH_AT`` names that point; then the process kills itself with SIGKILL
(no ``finally``, no atexit, no flush: what a power cut or an OOM kill leaves). The harness
(``tests/support/crash.py``, ``scripts/crash_matrix.py``) sets the variable, lets the
process die there, reruns, and compares with an uninterrupted run.

Each point is named once, in :data:`CRASH_POINTS` (with what state a kill there leaves),
and the matrix script enumerates that registry; calling an unregistered name is a
programming error reported the moment the variable is set. docs/RUNBOOK.md
("Crash recovery") says what the rerun does at each point.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from types import MappingProxyType

#: The environment variable naming the one crash point to die at.
CRASH_ENV = "FIN_MLOPS_CRASH_AT"

#: The ``fin-mlops run`` stage boundaries: ``run.after_<stage>`` fires once the run journal recorded the stage done.
RUN_STAGE_NAMES: tuple[str, ...] = ("ingest", "pipeline", "train", "shift", "drift", "backtest", "decide", "dashboard")

_POINTS: dict[str, str] = {
    **{f"run.after_{stage}": f"stage {stage} finished and recorded in the run journal" for stage in RUN_STAGE_NAMES},
    "ingest.after_collect": "window landed, its _SUCCESS.json marker not written yet",
    "pipeline.after_bronze": "bronze appended, silver not merged",
    "pipeline.after_silver": "silver merged, gold not rebuilt",
    "train.after_features": "feature tables refreshed, tournament not run",
    "train.after_tournament": "tournament_results written, winner not validated or registered",
    "registry.after_version": "model version created, challenger/latest-model aliases not set",
    "registry.after_aliases": "version registered with its aliases, the gate not run",
    "gate.after_audit": "PROMOTE row (with its intent: target aliases) recorded, no alias moved",
    "registry.mid_alias_move": "the first alias of a promotion moved, the others not yet",
    "train.after_gate": "gate decided and aliases moved, training_runs row not written",
    "drift.after_monitoring": "drift_monitoring and model_monitoring written, trigger not run",
    "trigger.after_decision": "retraining decision row committed, no launch row",
    "trigger.after_launching": "launching row written, the launcher not called",
    "trigger.after_launch": "launcher returned, its outcome row not written",
    "backtest.after_predictions": "champion predictions appended, backtest not run",
    "backtest.after_results": "backtest_results written, stage not recorded",
    "decide.after_matrix": "decision_matrix written, stage not recorded",
    "export.mid_files": "half of the dashboard's files written into the staging folder",
    "export.before_publish": "every dashboard file staged, the published folder not replaced",
    "rollback.after_audit": "rollback intent row (status started, the whole plan) recorded, nothing moved",
    "rollback.after_aliases": "aliases re-pointed, feature tables not restored",
    "rollback.after_features": "feature tables restored, endpoint not re-pointed",
    "rollback.after_endpoint": "endpoint re-pointed, the row not marked done",
}
#: Every crash point, with the state a kill there leaves.
CRASH_POINTS: Mapping[str, str] = MappingProxyType(_POINTS)


def crashpoint(name: str) -> None:
    """SIGKILL this process if ``FIN_MLOPS_CRASH_AT`` names ``name``; otherwise nothing (one dict lookup)."""
    target = os.environ.get(CRASH_ENV)
    if target is None:
        return
    if name not in CRASH_POINTS:
        raise KeyError(f"crash point {name!r} is not registered in runtime.crashpoints.CRASH_POINTS")
    if target == name:
        os.kill(os.getpid(), signal.SIGKILL)


def check_target() -> str | None:
    """The armed crash point, validated (a typo in ``FIN_MLOPS_CRASH_AT`` would silently never fire)."""
    target = os.environ.get(CRASH_ENV)
    if target is not None and target not in CRASH_POINTS:
        raise ValueError(f"{CRASH_ENV}={target!r} names no crash point; known: {', '.join(CRASH_POINTS)}")
    return target
