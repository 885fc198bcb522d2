"""Dashboard metrics export: versioned JSON files built from the real tables.

``export_dashboard(platform)`` reads the platform's tables (never sample data),
builds one JSON document per dashboard area (one module each in
:mod:`financial_transactions.reporting.documents`) and writes them, plus ``data.js``
(the same documents as ``window.FIN_MLOPS_DATA`` so the page works from
``file://``, where browsers refuse ``fetch``) and a copy of the static page, to
``platform.paths.exports`` (a Unity Catalog volume on Databricks).

Every document carries ``schema_version``, ``generated_at``, ``env`` and the
champion ``model_version``. Each area is split into named sections whose
``status`` is ``ok`` (data), ``empty`` (table exists, nothing to show),
``missing`` (the table or file does not exist yet: the stage has not run) or
``error`` (reading failed; the message says why). A missing table therefore
yields an explicit empty section, never a crashed export.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from financial_transactions.reporting.documents import (
    alerts,
    audit,
    backtest,
    champion,
    collection,
    correlation,
    decision_matrix,
    drift,
    feature_importance,
    leaderboard,
    manifest,
    market,
    pipeline_health,
)
from financial_transactions.reporting.documents.common import DOCUMENTS, SCHEMA_VERSION, ExportContext
from financial_transactions.reporting.sources import Sources, registry_state
from financial_transactions.runtime import Platform
from financial_transactions.runtime.crashpoints import crashpoint

__all__ = ["DOCUMENTS", "SCHEMA_VERSION", "ExportResult", "build_documents", "export_context", "export_dashboard"]

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, Path]
    index_html: Path | None
    documents: dict[str, dict[str, Any]]

    @property
    def section_statuses(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind, doc in self.documents.items():
            for name, section in doc.get("sections", {}).items():
                out[f"{kind}.{name}"] = section["status"]
        return out


def export_context(platform: Platform, *, now: datetime | None = None, git_sha: str | None = None) -> ExportContext:
    """One consistent view for a whole export: the reads are cached, the registry is asked once."""
    return ExportContext(
        platform=platform,
        sources=Sources(platform),
        registry=registry_state(platform),
        now=(now or datetime.now(tz=UTC)).astimezone(UTC),
        git_sha=git_sha or _git_sha(),
    )


def build_documents(
    ctx: ExportContext, *, max_bars_per_symbol: int = 2000, top_anomalies: int = 25
) -> dict[str, dict[str, Any]]:
    """Every document, manifest first, then in the order the page shows them."""
    if max_bars_per_symbol < 10:
        raise ValueError(f"max_bars_per_symbol must be at least 10 (got {max_bars_per_symbol})")
    docs: dict[str, dict[str, Any]] = {
        "pipeline_health": pipeline_health.build(ctx),
        "collection": collection.build(ctx),
        "alerts": alerts.build(ctx),
        "market": market.build(ctx, max_bars_per_symbol=max_bars_per_symbol, top_anomalies=top_anomalies),
        "leaderboard": leaderboard.build(ctx),
        "champion": champion.build(ctx),
        "drift": drift.build(ctx),
        "audit": audit.build(ctx),
        "decision_matrix": decision_matrix.build(ctx),
        "backtest": backtest.build(ctx),
        "feature_importance": feature_importance.build(ctx),
        "correlation": correlation.build(ctx),
    }
    return {"manifest": manifest.build(ctx, docs), **docs}


def _git_sha() -> str | None:
    env = os.environ.get("FIN_MLOPS_GIT_SHA") or os.environ.get("GITHUB_SHA")
    if env:
        return env[:40]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# -- writing ---------------------------------------------------------------------------------------


def dashboard_source_dir() -> Path | None:
    """The static page's source (``dashboard/`` of the repository or bundle), if it can be found."""
    candidates = []
    if os.environ.get("FIN_MLOPS_DASHBOARD_DIR"):
        candidates.append(Path(os.environ["FIN_MLOPS_DASHBOARD_DIR"]))
    here = Path(__file__).resolve()
    candidates += [parent / "dashboard" for parent in here.parents[:5]]
    candidates.append(Path.cwd() / "dashboard")
    for cand in candidates:
        if (cand / "index.html").is_file() and (cand / "app.js").is_file():
            return cand
    return None


def write_json(path: Path, payload: Any) -> None:
    """Atomic write (tmp name + rename) so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def export_dashboard(
    platform: Platform,
    *,
    out_dir: Path | None = None,
    max_bars_per_symbol: int = 2000,
    top_anomalies: int = 25,
    now: datetime | None = None,
    copy_site: bool = True,
    site_dir: Path | None = None,
) -> ExportResult:
    """Build every document from the tables and write JSON + ``data.js`` (+ the page) to ``out_dir``.

    Crash-safe: every file is first written to a staging folder beside ``out_dir``
    (``.<name>.staging``); only a complete set is moved into ``out_dir``, file by file with
    atomic renames, ``data.js`` last. A process killed while staging leaves the previous export
    whole (the next export discards the stale staging folder); one killed while publishing leaves
    each file whole, and the next export rewrites them all.
    """
    final = Path(out_dir) if out_dir is not None else Path(platform.paths.exports)
    final.mkdir(parents=True, exist_ok=True)
    target = final.parent / f".{final.name}.staging"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    documents = build_documents(
        export_context(platform, now=now), max_bars_per_symbol=max_bars_per_symbol, top_anomalies=top_anomalies
    )
    files: dict[str, Path] = {}
    for i, (kind, doc) in enumerate(documents.items()):
        path = target / f"{kind}.json"
        write_json(path, doc)
        files[kind] = final / path.name
        if i == len(documents) // 2:
            crashpoint("export.mid_files")
    data_js = target / "data.js"
    tmp = data_js.with_name(".data.js.tmp")
    payload = json.dumps(documents, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    tmp.write_text(
        "// Generated by `fin-mlops dashboard` from the lakehouse tables; do not edit.\n"
        f"window.FIN_MLOPS_DATA = {payload};\n",
        encoding="utf-8",
    )
    tmp.replace(data_js)
    files["data.js"] = final / "data.js"
    index: Path | None = None
    source = (Path(site_dir) if site_dir is not None else dashboard_source_dir()) if copy_site else None
    if source is not None and not (source / "index.html").is_file():
        raise FileNotFoundError(f"no dashboard page at {source / 'index.html'}")
    if source is not None:
        for name in ("index.html", "app.js", "alerts.js", "collection.js", "styles.css"):
            shutil.copyfile(source / name, target / name)
        vendor = source / "vendor"
        if vendor.is_dir():
            shutil.copytree(vendor, final / "vendor", dirs_exist_ok=True)  # static assets: not staged
        index = final / "index.html"
    elif copy_site:
        log.warning("dashboard/ page not found; wrote data only (set FIN_MLOPS_DASHBOARD_DIR)")
    crashpoint("export.before_publish")
    _publish(target, final)
    return ExportResult(final, files, index, documents)


def _publish(staging: Path, final: Path) -> None:
    """Move the staged files into ``final`` (atomic renames, ``data.js`` last), then drop the staging folder."""
    staged = sorted((p for p in staging.iterdir() if p.is_file()), key=lambda p: p.name == "data.js")
    for path in staged:
        os.replace(path, final / path.name)
    shutil.rmtree(staging)
