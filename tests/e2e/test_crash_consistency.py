"""Crash consistency, sampled: ``fin-mlops run`` killed with SIGKILL at several crash points converges.

One uninterrupted run is the reference. A second lakehouse runs the same seed but is killed
four times, each rerun resuming the interrupted run and dying at the next point:

1. ``pipeline.after_silver``: silver merged, gold not rebuilt (the watermark has not moved);
2. ``gate.after_audit``: inside the gate's multi-step commit, the PROMOTE row (the intent) is
   recorded and no alias has moved;
3. ``trigger.after_launching``: the retraining decision and its ``launching`` row are committed,
   the in-process retrain not run;
4. ``export.mid_files``: half the dashboard's files are staged.

The fifth run finishes. Its tables (ids, timestamps, durations and Delta commit numbers aside),
registry aliases, versions' gate decisions and exported files must equal the reference's.
The full matrix (every registered point, one lakehouse each) is ``scripts/crash_matrix.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from financial_transactions.runtime.crashpoints import CRASH_POINTS, RUN_STAGE_NAMES
from tests.support.crash import diff, run_fin_mlops, small_config, snapshot

#: Six ``fin-mlops run`` processes on a small replay: several minutes on a shared 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

SAMPLED = ("pipeline.after_silver", "gate.after_audit", "trigger.after_launching", "export.mid_files")


def test_the_sampled_points_are_registered_and_cover_a_multi_step_commit() -> None:
    assert set(SAMPLED) <= set(CRASH_POINTS)
    assert {f"run.after_{s}" for s in RUN_STAGE_NAMES} <= set(CRASH_POINTS)


def test_a_run_killed_at_four_points_converges_to_the_uninterrupted_run(tmp_path: Path, project_root: Path) -> None:
    config = small_config(project_root, tmp_path / "project_config.yml")
    reference = run_fin_mlops(config, tmp_path / "ref" / "lake", tmp_path / "ref", ["run"], log_name="run")
    assert reference.returncode == 0, f"reference run failed; log: {reference.log}"

    lake = tmp_path / "crashed" / "lake"
    for i, point in enumerate(SAMPLED):
        killed = run_fin_mlops(config, lake, tmp_path / "crashed", ["run"], crash_at=point, log_name=f"{i}-{point}")
        assert killed.killed, f"{point}: expected a SIGKILL, got exit {killed.returncode}; log: {killed.log}"
        journal = json.loads((lake / "_state" / "run_journal.json").read_text(encoding="utf-8"))
        assert journal["finished"] is False and "started" in {s["status"] for s in journal["stages"].values()}
    final = run_fin_mlops(config, lake, tmp_path / "crashed", ["run"], log_name="final")
    assert final.returncode == 0, f"the resumed run failed; log: {final.log}"
    log = final.log.read_text(encoding="utf-8")
    assert "resuming the interrupted run" in log and "done by the interrupted run" in log

    problems = diff(snapshot(config, tmp_path / "ref" / "lake"), snapshot(config, lake))
    assert problems == [], "\n".join(problems)
