"""The run journal: what lets an interrupted ``fin-mlops run`` resume instead of starting over.

``fin-mlops run`` records each stage in ``<state>/run_journal.json`` (written atomically):
``started`` before the stage runs, then ``ok`` / ``not_run`` with its summary once it returned.
A run killed part-way leaves the journal unfinished; the next ``fin-mlops run`` with the same
configuration and stage selection resumes it: the stages recorded done are not run again (their
summaries are shown), the interrupted stage runs again, and the run goes on. A finished journal,
another configuration or another selection starts a new run (``--fresh`` deletes the journal with
the lakehouse).

Re-running the interrupted stage converges because the ids it writes are **scoped to the run**:
inside a stage, :func:`scoped_id` returns the same id on the rerun as in the killed attempt
(``uuid5(run id / stage / kind / n)``), so a writer finds the row its killed attempt committed
(gate decision, retraining event, alert, backtest run...) and finishes that intent instead of
recording a second one. Outside a journal (a stage command, a test) it is a random id, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: The namespace of run-scoped ids (uuid5).
_NAMESPACE = uuid.UUID("6f0b7f1e-6b55-4c8e-9a55-3f1f3f0c9d2a")
DONE = ("ok", "not_run")


@dataclass
class _Scope:
    run_id: str
    stage: str
    attempt: int
    journal: RunJournal
    counters: dict[str, int] = field(default_factory=dict)


_scope: ContextVar[_Scope | None] = ContextVar("fin_mlops_run_scope", default=None)


def scoped_id(kind: str, length: int = 32) -> str:
    """A run-scoped id (the same on a resumed stage's rerun) inside a journal's stage; else a random one."""
    scope = _scope.get()
    if scope is None:
        return uuid.uuid4().hex[:length]
    n = scope.counters.get(kind, 0) + 1
    scope.counters[kind] = n
    return uuid.uuid5(_NAMESPACE, f"{scope.run_id}/{scope.stage}/{kind}/{n}").hex[:length]


def remembered(kind: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per run and stage: a resumed stage gets the value its killed attempt recorded.

    For what the interrupted attempt saw *before* it changed anything (the feature tables' versions
    before a training run rewrote them: the promotion snapshot a rollback restores). The value must
    be JSON (it is kept in the journal). Outside a journal's stage it is simply ``compute()``.
    """
    scope = _scope.get()
    if scope is None:
        return compute()
    memo = scope.journal.stages.setdefault(scope.stage, {}).setdefault("memo", {})
    if kind not in memo:
        memo[kind] = compute()
        scope.journal._write()
    return cast("T", memo[kind])


def resumed_attempt() -> int:
    """Which attempt of the current stage this is (1 = first; 0 outside a journal's stage)."""
    scope = _scope.get()
    return scope.attempt if scope is not None else 0


def fingerprint(*parts: Any) -> str:
    """What must match for a run to resume another: the configuration and the stage selection."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class RunJournal:
    path: Path
    run_id: str
    fingerprint: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    finished: bool = False
    #: set when this journal resumes an interrupted run
    resumed: bool = False

    @classmethod
    def open(cls, path: Path, fingerprint: str) -> RunJournal:
        """Resume the unfinished run at ``path`` with the same fingerprint, or start a new one."""
        if path.is_file():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                doc = {}
            if doc.get("finished") is False and doc.get("fingerprint") == fingerprint and doc.get("run_id"):
                return cls(path, str(doc["run_id"]), fingerprint, dict(doc.get("stages") or {}), resumed=True)
        journal = cls(path, uuid.uuid4().hex, fingerprint)
        journal._write()
        return journal

    def done(self, stage: str) -> dict[str, Any] | None:
        """The recorded result of ``stage`` if this run already finished it."""
        entry = self.stages.get(stage)
        return entry if entry is not None and entry.get("status") in DONE else None

    def interrupted(self) -> list[str]:
        """Stages started but not finished by the interrupted attempt(s)."""
        return [name for name, entry in self.stages.items() if entry.get("status") == "started"]

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[int]:
        """Record ``name`` started and scope ids to it; yields the attempt number (2+ on a resume)."""
        attempt = int(self.stages.get(name, {}).get("attempt", 0)) + 1
        memo = self.stages.get(name, {}).get("memo", {})
        self.stages[name] = {"status": "started", "attempt": attempt, "memo": memo}
        self._write()
        token = _scope.set(_Scope(self.run_id, name, attempt, self))
        try:
            yield attempt
        finally:
            _scope.reset(token)

    def record(self, name: str, status: str, summary: dict[str, Any], seconds: float, error: str | None) -> None:
        """The stage's outcome (a failed stage is recorded too; only ok / not_run are skipped on a resume)."""
        entry = self.stages.setdefault(name, {})
        entry.update(status=status, summary=summary, seconds=round(seconds, 1), error=error)
        self._write()

    def finish(self) -> None:
        self.finished = True
        self._write()

    def _write(self) -> None:
        doc = {
            "run_id": self.run_id,
            "fingerprint": self.fingerprint,
            "finished": self.finished,
            "updated_at": datetime.now(UTC).isoformat(),
            "stages": self.stages,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str), encoding="utf-8")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
