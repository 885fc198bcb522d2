"""Crash-consistency harness: run ``fin-mlops run`` as a subprocess, SIGKILL it at a named crash
point, run it again, and compare the lakehouse with an uninterrupted run of the same seed.

The crash points themselves live in the library (:mod:`financial_transactions.runtime.crashpoints`):
``FIN_MLOPS_CRASH_AT=<point>`` makes the process kill itself with SIGKILL the first time it passes
that point. This module only drives processes and compares their results:

* :func:`small_config` writes the small, fast configuration every harness run uses (one short
  trading day, three symbols);
* :func:`run_fin_mlops` runs one CLI command in its own working directory (the decision report is
  written under ``./reports``) and returns its exit code and log;
* :func:`snapshot` reads a finished lakehouse into a comparable, normalised form: every table's rows
  (ids, timestamps, durations and Delta commit counters removed, rows sorted), the registry's
  aliases and each version's gate decision, and the exported dashboard files;
* :func:`diff` names every difference between two snapshots.

What is normalised away is exactly what legitimately differs between two runs of the same seed:
run/decision/event/alert ids and the trade ids scoped to a collector attempt, wall-clock
timestamps, durations and latencies (also inside reasons and JSON columns), and Delta commit
numbers (a resumed run commits more often than an uninterrupted one). Rows, decisions, metrics and
aliases are compared exactly (floats to 9 significant digits).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from financial_transactions.lakehouse.catalog import CATALOG
from financial_transactions.runtime.crashpoints import CRASH_ENV

#: One short trading day, two equities and one crypto pair: every stage still has work (the gate
#: promotes a first champion, drift triggers a retrain), and one run takes about a minute.
SMALL_REPLAY: dict[str, Any] = {"trading_days": 1, "equity_trades_per_day": 4000, "crypto_trades_per_day": 3000}
SMALL_SYMBOLS: dict[str, list[str]] = {"equities": ["AAPL", "MSFT", "NVDA"], "crypto": ["BTCUSDT", "ETHUSDT"]}

#: Columns that are ids, wall-clock times or durations: they legitimately differ between two runs.
VOLATILE_COLUMNS = frozenset(
    {
        # ids (random per run, or scoped to one collector attempt)
        "trade_id", "collector_run", "_source_file", "quarantine_id", "run_id", "tournament_id",
        "parent_mlflow_run_id", "mlflow_run_id", "model_uri", "decision_id", "supersedes", "event_id",
        "parent_event_id", "drift_run_id", "alert_id", "rollback_id", "snapshot_decision_id", "scoring_run_id",
        "feedback_id", "git_sha",
        # wall-clock times
        "ingested_at", "_ingested_at", "computed_at", "decided_at", "monitored_at", "sent_at", "rolled_back_at",
        "scored_at", "created_at", "started_at", "finished_at", "last_triggered_at",
        # durations, latencies, throughputs, retry counts
        "train_seconds", "seconds_bronze", "seconds_silver", "seconds_gold", "latency_ms", "challenger_latency_ms",
        "champion_latency_ms", "inference_rows_per_s", "validation_inference_rows_per_s", "commit_attempts",
        "attempts", "seconds", "ingest_age_hours",
        # a pipeline run's work counters (pipeline_runs, the export's run list): a resumed attempt did the rest
        "files_ingested", "bronze_rows", "silver_inserted", "quarantine_inserted", "bars_upserted",
        "gold_rows_written", "gold_symbols",
        # Delta commit numbers: a resumed run commits more often (its killed attempt's commits count)
        "bronze_version", "silver_version", "quarantine_version", "silver_bars_version", "gold_version",
        "reference_version", "current_version", "read_version", "as_of_version", "gold_trade_features_version",
        "backtest_results_version", "synthesized_predictions_version", "drift_monitoring_version",
        "bronze_watermark",
    }
)  # fmt: skip

#: JSON-valued columns: parsed, with the volatile keys above (at any depth) removed.
JSON_COLUMNS = frozenset(
    {
        "challenger_metrics", "champion_metrics", "state_before", "state_after", "snapshot_aliases",
        "context", "detail", "feature_importance", "label_sources", "positives", "sizes", "quarantine_by_rule",
        "aliases_before", "aliases_after", "flags",
    }
)  # fmt: skip

#: JSON columns whose values are Delta commit numbers keyed by table: only the keys are compared.
VERSION_MAP_COLUMNS = frozenset({"snapshot_feature_versions", "challenger_feature_versions", "feature_restores"})

#: Per-attempt work counters of the run logs: a resumed attempt did only the rest of the work.
RUN_LOG_COUNTERS: Mapping[str, frozenset[str]] = {
    "pipeline_runs": frozenset(
        {
            "files_ingested", "bronze_rows", "silver_inserted", "quarantine_inserted", "bars_upserted",
            "gold_rows_written", "gold_symbols", "quarantine_by_rule",
        }
    ),
}  # fmt: skip

_HEX_ID = re.compile(r"\b[0-9a-f]{12,32}\b")
_DURATION = re.compile(r"\d+(?:[.,]\d+)*\s?(?:ms|s)\b")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?")
_FLOAT_DIGITS = 9


@dataclass(frozen=True)
class Completed:
    """One finished (or killed) ``fin-mlops`` process."""

    args: tuple[str, ...]
    returncode: int
    log: Path

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def small_config(project_root: Path, target: Path) -> Path:
    """The harness's configuration (``project_config.yml`` with a small replay), written to ``target``."""
    raw = yaml.safe_load((project_root / "project_config.yml").read_text(encoding="utf-8"))
    raw.setdefault("replay", {}).update(SMALL_REPLAY)
    raw["symbols"].update(SMALL_SYMBOLS)
    # intraday bars only: the daily history lands one file per past date, which only slows the pipeline here
    raw.setdefault("collectors", {}).setdefault("alphavantage", {})["functions"] = ["TIME_SERIES_INTRADAY"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


def fin_mlops_env(crash_at: str | None = None) -> dict[str, str]:
    """The subprocess environment: the embedded engine, this interpreter's workers, the crash point."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION", CRASH_ENV)}
    env["PYSPARK_PYTHON"] = sys.executable
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return env


def run_fin_mlops(
    config: Path,
    lake: Path,
    workdir: Path,
    args: Sequence[str],
    *,
    crash_at: str | None = None,
    log_name: str,
    timeout: float = 900,
) -> Completed:
    """``fin-mlops --env dev --config <config> --lakehouse-root <lake> <args>`` in ``workdir``."""
    fin_mlops = str(Path(sys.executable).with_name("fin-mlops"))
    cmd = [fin_mlops, "--env", "dev", "--config", str(config), "--lakehouse-root", str(lake), *args]
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{log_name}.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(
            cmd, cwd=workdir, env=fin_mlops_env(crash_at), stdout=out, stderr=subprocess.STDOUT, timeout=timeout
        )
    return Completed(tuple(args), proc.returncode, log)


# -- snapshots ----------------------------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """A lakehouse after a run, in comparable form."""

    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)


def _scrub_text(text: str) -> str:
    text = _TIMESTAMP.sub("<time>", text)
    text = _HEX_ID.sub("<id>", text)
    return _DURATION.sub("<duration>", text)


def _scrub(value: Any) -> Any:
    """A JSON-like value with volatile keys dropped and floats rounded, recursively."""
    if isinstance(value, Mapping):
        # a table's Delta commit number in the export's layer list (``{"key", "rows", "exists", "version"}``)
        layer = "exists" in value and "rows" in value
        return {
            str(k): sorted(v) if str(k) in VERSION_MAP_COLUMNS and isinstance(v, Mapping) else _scrub(v)
            for k, v in sorted(value.items())
            if str(k) not in VOLATILE_COLUMNS and not (layer and k == "version")
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, float):
        return _round(value)
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def _round(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(f"{value:.{_FLOAT_DIGITS}g}")


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in VERSION_MAP_COLUMNS and isinstance(value, str):  # which tables, not their commit numbers
        parsed = json.loads(value)
        return json.dumps(sorted(parsed) if isinstance(parsed, dict) else sorted(str(r.get("table")) for r in parsed))
    if column in JSON_COLUMNS and isinstance(value, str):
        try:
            return json.dumps(_scrub(json.loads(value)), sort_keys=True)
        except ValueError:
            return _scrub_text(value)
    if hasattr(value, "tolist"):  # numpy arrays (list columns)
        value = value.tolist()
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(_scrub(value), sort_keys=True, default=str)
    if isinstance(value, float):
        return _round(value)
    if isinstance(value, str):
        return _scrub_text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _cell(column, value.item())
    return value


def table_rows(store: Any, fqn: str, key: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``fqn``'s rows, volatile columns dropped, every cell normalised, sorted."""
    frame = store.read(fqn)
    dropped = VOLATILE_COLUMNS | RUN_LOG_COUNTERS.get(key, frozenset())
    columns = sorted(c for c in frame.columns if c not in dropped)
    rows = [
        tuple(_cell(c, v) for c, v in zip(columns, record, strict=True))
        for record in frame[columns].itertuples(index=False, name=None)
    ]
    return columns, sorted(rows, key=lambda r: json.dumps(r, default=str))


def registry_state(config: Path, lake: Path) -> tuple[dict[str, int], dict[int, dict[str, Any]]]:
    """The registered model's aliases, and each version's algorithm and live gate decision."""
    from financial_transactions.config import ProjectConfig
    from financial_transactions.models.registry import ModelRegistry
    from financial_transactions.runtime import Platform

    platform = Platform.create(ProjectConfig.from_yaml(config, "dev"), lakehouse_root=lake)
    registry = ModelRegistry.from_platform(platform)
    if not registry.exists():
        return {}, {}
    versions = {int(v["version"]): {"aliases": v["aliases"], "status": v["status"]} for v in registry.versions()}
    for version in versions:
        info = registry.version_info(version)
        versions[version]["algorithm"] = (info.tags or {}).get("algorithm")
        versions[version]["description"] = _scrub_text(info.description or "")
    audit_fqn = platform.config.table("champion_challenger_audit")
    if platform.store.exists(audit_fqn):
        audit = platform.store.read(audit_fqn)
        cancelled = set(audit["supersedes"].dropna())
        for record in audit.sort_values("decided_at").to_dict("records"):
            decided = versions.setdefault(int(record["challenger_version"]), {}).setdefault("decisions", [])
            state = "superseded" if record["decision_id"] in cancelled else "live"
            decided.append(f"{record['decision']} ({state})")
    return registry.aliases(), versions


def export_files(exports: Path, lake: Path) -> dict[str, Any]:
    """The exported dashboard's JSON documents (normalised, the lakehouse's own path as ``<lake>``) and
    the names of its other files."""
    if not exports.is_dir():
        return {}
    out: dict[str, Any] = {}
    for path in sorted(p for p in exports.rglob("*") if p.is_file()):
        name = str(path.relative_to(exports))
        if path.suffix == ".json":
            text = path.read_text(encoding="utf-8").replace(str(lake), "<lake>")
            out[name] = _scrub(json.loads(text))
        else:
            out[name] = "present"
    return out


def snapshot(config: Path, lake: Path) -> Snapshot:
    """Read the lakehouse at ``lake`` (run with ``config``) into a :class:`Snapshot`."""
    from financial_transactions.config import ProjectConfig
    from financial_transactions.lakehouse import LocalDeltaStore
    from financial_transactions.runtime import Platform

    cfg = ProjectConfig.from_yaml(config, "dev")
    store = LocalDeltaStore(lake)
    snap = Snapshot()
    for key in CATALOG:
        fqn = cfg.table(key)
        if store.exists(fqn):
            snap.columns[key], snap.tables[key] = table_rows(store, fqn, key)
    snap.aliases, snap.versions = registry_state(config, lake)
    platform = Platform.create(cfg, lakehouse_root=lake)
    snap.exports = export_files(Path(platform.paths.exports), lake)
    return snap


def diff(expected: Snapshot, actual: Snapshot, *, limit: int = 6) -> list[str]:
    """Every difference between two snapshots, one line each (at most ``limit`` rows per table)."""
    problems: list[str] = []
    for key in sorted(set(expected.tables) | set(actual.tables)):
        if key not in actual.tables or key not in expected.tables:
            where = "missing" if key not in actual.tables else "unexpected"
            problems.append(f"table {key}: {where}")
            continue
        if expected.columns[key] != actual.columns[key]:
            problems.append(f"table {key}: columns {expected.columns[key]} != {actual.columns[key]}")
            continue
        want, got = expected.tables[key], actual.tables[key]
        if want == got:
            continue
        problems.append(f"table {key}: {len(got)} row(s), expected {len(want)}")
        extra = [r for r in got if r not in want][:limit]
        lost = [r for r in want if r not in got][:limit]
        columns = expected.columns[key]
        for label, rows in (("unexpected", extra), ("missing", lost)):
            for row in rows:
                closest = _describe(columns, row, want if label == "unexpected" else got)
                problems.append(f"  {label} {key} row: {closest}")
    if expected.aliases != actual.aliases:
        problems.append(f"registry aliases {actual.aliases}, expected {expected.aliases}")
    if expected.versions != actual.versions:
        problems.append(f"registry versions {actual.versions}, expected {expected.versions}")
    for name in sorted(set(expected.exports) | set(actual.exports)):
        if expected.exports.get(name) != actual.exports.get(name):
            problems.append(f"export {name}: {_first_difference(expected.exports.get(name), actual.exports.get(name))}")
    return problems


def _describe(columns: list[str], row: tuple[Any, ...], others: list[tuple[Any, ...]]) -> str:
    """The row's columns that differ from the closest row on the other side (or the whole row)."""
    if not others:
        return json.dumps(dict(zip(columns, row, strict=True)), default=str)[:400]
    closest = min(others, key=lambda o: sum(a != b for a, b in zip(row, o, strict=True)))
    changed = {c: (b, a) for c, a, b in zip(columns, row, closest, strict=True) if a != b}
    return "; ".join(f"{c}: {b!r} -> {a!r}" for c, (b, a) in changed.items())[:600]


def _first_difference(want: Any, got: Any, path: str = "") -> str:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                return _first_difference(want.get(key), got.get(key), f"{path}.{key}")
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
    return f"{path or '<root>'}: {str(got)[:200]!r}, expected {str(want)[:200]!r}"


# -- the rollback scenario ----------------------------------------------------------------------------------------
def prepare_rollback(config: Path, lake: Path) -> int:
    """Give a finished run's registry a second promotion to undo: version 2 (version 1's model, registered
    again) becomes champion with ``previous-champion`` = 1, as a promotion leaves it. Returns the new version.

    ``fin-mlops rollback --restore-features --force`` then re-points champion to 1 and restores the feature
    tables to the versions version 1 was trained on (its PROMOTE row), which the drift stage's retrain moved.
    """
    from financial_transactions.config import ProjectConfig
    from financial_transactions.models.registry import CHAMPION, LATEST, PREVIOUS_CHAMPION, ModelRegistry
    from financial_transactions.runtime import Platform

    platform = Platform.create(ProjectConfig.from_yaml(config, "dev"), lakehouse_root=lake)
    registry = ModelRegistry.from_platform(platform)
    first = registry.version_info(1)
    created = registry.client.create_model_version(registry.name, first.source, run_id=first.run_id)
    version = int(created.version)
    registry.apply_aliases({CHAMPION: version, PREVIOUS_CHAMPION: 1, LATEST: version})
    return version


ROLLBACK_ARGS: tuple[str, ...] = ("rollback", "--restore-features", "--force", "--reason", "crash harness")


def copy_lake(source: Path, target: Path) -> None:
    """A finished lakehouse copied for a rollback case (the rollback reads no model artifact)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)
