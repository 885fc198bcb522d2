"""The crash-point hook and the run journal that lets a killed ``fin-mlops run`` resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from financial_transactions.runtime.crashpoints import CRASH_ENV, CRASH_POINTS, check_target, crashpoint
from financial_transactions.runtime.journal import RunJournal, remembered, resumed_attempt, scoped_id


def test_a_crash_point_does_nothing_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CRASH_ENV, raising=False)
    crashpoint("gate.after_audit")
    crashpoint("not.registered")  # unchecked (and free) when nothing is armed
    monkeypatch.setenv(CRASH_ENV, "trigger.after_decision")
    crashpoint("gate.after_audit")  # another point: nothing
    with pytest.raises(KeyError, match=r"crash point 'not\.registered' is not registered"):
        crashpoint("not.registered")
    monkeypatch.setenv(CRASH_ENV, "gate.after_adit")
    with pytest.raises(ValueError, match=r"FIN_MLOPS_CRASH_AT='gate\.after_adit' names no crash point"):
        check_target()


def test_the_named_crash_point_kills_the_process_with_sigkill() -> None:
    code = (
        "from financial_transactions.runtime.crashpoints import crashpoint\n"
        "print('before', flush=True)\ncrashpoint('gate.after_audit')\nprint('after', flush=True)\n"
    )
    env = {CRASH_ENV: "gate.after_audit", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL and proc.stdout == "before\n"


def test_every_crash_point_says_what_state_it_leaves() -> None:
    assert all(description.strip() for description in CRASH_POINTS.values())
    assert len(CRASH_POINTS) == 31


def test_an_interrupted_run_resumes_with_the_same_scoped_ids(tmp_path: Path) -> None:
    path = tmp_path / "_state" / "run_journal.json"
    assert scoped_id("gate.decision") != scoped_id("gate.decision")  # outside a journal: random
    first = RunJournal.open(path, "cfg-a")
    with first.stage("ingest") as attempt:
        assert attempt == 1 and resumed_attempt() == 1
    first.record("ingest", "ok", {"trades": 3}, 1.0, None)
    with first.stage("train"):
        ids = [scoped_id("gate.decision"), scoped_id("gate.decision"), scoped_id("alert")]
        seen = remembered("features.before", lambda: {"t": 4})
    # killed here: train started, never recorded
    resumed = RunJournal.open(path, "cfg-a")
    assert resumed.resumed and resumed.run_id == first.run_id
    assert resumed.done("ingest") == {"status": "ok", "summary": {"trades": 3}, "seconds": 1.0, "error": None,
                                      "attempt": 1, "memo": {}}  # fmt: skip
    assert resumed.done("train") is None and resumed.interrupted() == ["train"]
    with resumed.stage("train") as attempt:
        assert attempt == 2
        assert [scoped_id("gate.decision"), scoped_id("gate.decision"), scoped_id("alert")] == ids
        assert remembered("features.before", lambda: {"t": 9}) == seen == {"t": 4}
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
    resumed.finish()
    assert json.loads(path.read_text())["finished"] is True
    after = RunJournal.open(path, "cfg-a")
    assert not after.resumed and after.run_id != first.run_id  # a finished run is never resumed


def test_another_configuration_starts_a_new_run(tmp_path: Path) -> None:
    path = tmp_path / "run_journal.json"
    first = RunJournal.open(path, "cfg-a")
    with first.stage("ingest"):
        pass
    other = RunJournal.open(path, "cfg-b")
    assert not other.resumed and other.run_id != first.run_id and other.stages == {}
    path.write_text("{not json", encoding="utf-8")
    assert not RunJournal.open(path, "cfg-b").resumed
