"""Read-only access to everything the dashboard shows: tables, registry, landing files.

A missing table is a normal state (a stage has not run yet), so reads return
``None`` instead of raising; every other failure propagates to the section
that asked, which reports it as an ``error`` section rather than crashing the export.

Columns are read by their real names: every name a document asks for must be a column of
the table's spec in :mod:`financial_transactions.lakehouse.catalog` and of the stored table.
A renamed or missing column is a :class:`ColumnError` naming the table and the columns,
never a silent fallback to another name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from financial_transactions.lakehouse.catalog import spec
from financial_transactions.replay.window import MARKER as INGEST_MARKER
from financial_transactions.reporting.frames import iso
from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

#: The landing folder of the collectors' unparseable messages.
COLLECTOR_QUARANTINE_DIR = "_quarantine"


class ColumnError(ValueError):
    """A column the dashboard reads is not in the table's catalogue spec or in the stored table."""


@dataclass
class TableInfo:
    key: str
    fqn: str
    exists: bool
    rows: int | None = None
    version: int | None = None
    last_commit: str | None = None
    last_operation: str | None = None


@dataclass
class Sources:
    """Cached reads for one export (each table is read at most once per column set)."""

    platform: Platform
    _frames: dict[tuple[str, tuple[str, ...] | None], pd.DataFrame | None] = field(default_factory=dict)
    _info: dict[str, TableInfo] = field(default_factory=dict)
    #: table key -> every column read by name during this export (what the catalogue test checks)
    columns_read: dict[str, set[str]] = field(default_factory=dict)

    def fqn(self, key: str) -> str:
        return str(self.platform.config.table(key))

    def exists(self, key: str) -> bool:
        return bool(self.platform.store.exists(self.fqn(key)))

    def catalogue_columns(self, key: str) -> list[str]:
        """The columns the table's writer writes under this config (its catalogue spec)."""
        return list(spec(key).schema_for(self.platform.config).names)

    def read(
        self, key: str, columns: Sequence[str] | None = None, *, require: Sequence[str] = ()
    ) -> pd.DataFrame | None:
        """The table's latest state, or ``None`` when it does not exist yet.

        ``columns`` is a projection (a big table stays cheap to read); without it every column
        is read and ``require`` names the ones the caller uses. Each of those names must be a
        column of the catalogue spec and of the stored table, else :class:`ColumnError`.
        """
        named = tuple(columns) if columns is not None else tuple(require)
        catalogue = set(self.catalogue_columns(key))
        unknown = [c for c in named if c not in catalogue]
        if unknown:
            raise ColumnError(
                f"the dashboard reads {', '.join(unknown)} from {key}, which its catalogue spec "
                f"(lakehouse/catalog.py, writer {spec(key).owner}) does not have"
            )
        self.columns_read.setdefault(key, set()).update(named)
        cache_key = (key, tuple(columns) if columns is not None else None)
        if cache_key not in self._frames:
            fqn = self.fqn(key)
            frame: pd.DataFrame | None = None
            if self.platform.store.exists(fqn):
                if columns is not None:
                    self._require(key, self.schema_names(key), named)
                    frame = self.platform.store.read(fqn, columns=list(named))
                else:
                    frame = self.platform.store.read(fqn)
            self._frames[cache_key] = frame
        frame = self._frames[cache_key]
        if frame is not None and columns is None:
            self._require(key, list(frame.columns), named)
        return frame

    def _require(self, key: str, stored: Sequence[str], named: Sequence[str]) -> None:
        missing = [c for c in named if c not in stored]
        if missing:
            raise ColumnError(
                f"{self.fqn(key)} lacks column(s) {', '.join(missing)} that its writer {spec(key).owner} writes "
                f"(the stored table has: {', '.join(stored)}); re-run the stage that writes it"
            )

    def schema_names(self, key: str) -> list[str]:
        """Column names without reading data (the Delta log locally, the catalog on Spark)."""
        from financial_transactions.lakehouse import LocalDeltaStore

        store = self.platform.store
        fqn = self.fqn(key)
        if isinstance(store, LocalDeltaStore):
            from deltalake import DeltaTable

            return [f.name for f in DeltaTable(str(store.path(fqn))).schema().fields]
        return list(store.to_spark(fqn, self.platform.spark).columns)

    def info(self, key: str) -> TableInfo:
        """Row count, version and last commit of a table (``exists=False`` when absent)."""
        if key in self._info:
            return self._info[key]
        fqn = self.fqn(key)
        store = self.platform.store
        if not store.exists(fqn):
            info = TableInfo(key, fqn, False)
        else:
            history = store.history(fqn)
            last = history[0] if history else {}
            info = TableInfo(
                key=key,
                fqn=fqn,
                exists=True,
                rows=int(store.count(fqn)),
                version=int(store.version(fqn)),
                last_commit=iso(last.get("timestamp")),
                last_operation=str(last.get("operation")) if last.get("operation") else None,
            )
        self._info[key] = info
        return info

    # -- files left by the collectors and the replay -------------------------
    @property
    def landing(self) -> Path:
        return Path(self.platform.paths.landing)

    def ground_truth_files(self) -> list[Path]:
        """Each replay window's ``anomalies.ndjson`` (``LakehousePaths.ground_truth``) that exists."""
        return self.platform.paths.ground_truth_files()

    def ingest_markers(self) -> list[Path]:
        """Each replay window's ingest marker (``replay.window.MARKER`` beside its ground truth)."""
        root = self.platform.paths.ground_truth_root
        return sorted(root.glob(f"*/{INGEST_MARKER}")) if self.landing.is_dir() else []

    @property
    def collector_quarantine_root(self) -> Path:
        """Where the collectors put messages they could not parse (``ingest.landing``'s ``_quarantine/<source>``)."""
        return self.landing / COLLECTOR_QUARANTINE_DIR

    def collector_quarantine_files(self) -> list[Path]:
        root = self.collector_quarantine_root
        return sorted(p for p in root.rglob("*.ndjson") if not p.name.startswith("."))

    def ndjson(self, files: Sequence[Path]) -> list[dict[str, Any]]:
        """Every JSON object in ``files``; an unparseable line is skipped and logged."""
        rows: list[dict[str, Any]] = []
        for path in files:
            with path.open(encoding="utf-8") as fh:
                for number, line in enumerate(fh, 1):
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        log.warning("skipping unparseable line %s:%d", path, number)
                        continue
                    if isinstance(obj, dict):
                        rows.append(obj)
        return rows


@dataclass
class RegistryState:
    """The registered model's aliases and versions, as the registry reports them."""

    name: str
    status: str  # ok | missing | error
    message: str = ""
    aliases: dict[str, str] = field(default_factory=dict)
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def champion(self) -> str | None:
        return self.aliases.get("champion")


def registry_state(platform: Platform) -> RegistryState:
    """Ask the MLflow registry (SQLite locally, Unity Catalog on Databricks) about the model.

    Locally a registry that was never created is reported as missing without
    creating one, so exporting an empty lakehouse leaves it empty.
    """
    name = platform.config.model_name
    settings = platform.mlflow
    if settings.tracking_uri.startswith("sqlite:///"):
        db = Path(settings.tracking_uri.removeprefix("sqlite:///"))
        if not db.exists():
            return RegistryState(name, "missing", f"no MLflow registry yet at {db} (run fin-mlops train)")
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
        try:
            model = client.get_registered_model(name)
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
                return RegistryState(name, "missing", f"model {name} is not registered yet (run fin-mlops train)")
            raise
        aliases = {str(k): str(v) for k, v in (getattr(model, "aliases", None) or {}).items()}
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(version, []).append(alias)
        versions = []
        for mv in client.search_model_versions(f"name='{name}'"):
            created = getattr(mv, "creation_timestamp", None)
            versions.append(
                {
                    "version": str(mv.version),
                    "created_at": iso(datetime.fromtimestamp(created / 1000).astimezone()) if created else None,
                    "run_id": getattr(mv, "run_id", None),
                    "status": str(getattr(mv, "status", "")) or None,
                    "aliases": sorted(by_version.get(str(mv.version), [])),
                    "tags": {str(k): str(v) for k, v in (getattr(mv, "tags", None) or {}).items()},
                }
            )
        versions.sort(key=lambda v: _version_number(v["version"]))
        return RegistryState(name, "ok", "", aliases, versions)
    except Exception as exc:  # the dashboard still exports every table when the registry is unreachable
        log.warning("registry lookup failed: %s", exc)
        return RegistryState(name, "error", f"registry lookup failed: {type(exc).__name__}: {exc}")


def _version_number(value: Any) -> int:
    text = str(value)
    return int(text) if text.isdigit() else 0
