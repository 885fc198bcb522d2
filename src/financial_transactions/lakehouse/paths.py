"""Where files live: one layout, mirrored between a laptop and Unity Catalog volumes.

Locally everything sits under one lakehouse root so a run is self-contained and
deletable; on Databricks the same names resolve to ``/Volumes/<catalog>/<schema>/<volume>``.

Every path the platform shares between a writer and its readers is spelled here once:

* the landing zone and, inside it, the replay's ground truth:
  ``<landing>/_ground_truth/<window>/anomalies.ndjson`` with ``coverage.json`` and
  ``asset_classes.json`` beside it
  (folders starting with ``_`` are never bronze input);
* the replay windows' names (``window1``, ``window2``, ...) and their trading days;
* the volumes for checkpoints, exports and reports, and the engine's private state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from financial_transactions.market.calendar import trading_days

if TYPE_CHECKING:
    from financial_transactions.config.collectors import ReplayConfig

#: Folder of the landing zone holding each replay window's ground truth.
GROUND_TRUTH_DIR = "_ground_truth"
#: One line per anomalous trade the replay injected.
GROUND_TRUTH_FILE = "anomalies.ndjson"
#: Per symbol, the span of trades the window's ground truth judges (beside ``GROUND_TRUTH_FILE``).
COVERAGE_FILE = "coverage.json"
#: ``{"start_ms","end_ms"}`` of the market a replay window played (a user's file has its own dates)
WINDOW_SPAN_FILE = "span.json"
#: ``{symbol: asset_class}`` of the market a replay window played: how silver learns that a user's
#: file declared a symbol a future (``--asset-class``), which no vendor message says
ASSET_CLASSES_FILE = "asset_classes.json"


def window_name(window: int | str) -> str:
    """The folder name of replay window ``window`` (1-based); a name is returned unchanged."""
    return window if isinstance(window, str) else f"window{window}"


def window_days(cfg: ReplayConfig, window: int) -> list[date]:
    """Trading days of replay window ``window`` (1-based): consecutive blocks of ``trading_days``."""
    days = trading_days(cfg.start_date, cfg.trading_days * window)
    return days[cfg.trading_days * (window - 1) :]


def ground_truth_dir(landing: Path | str, window: int | str) -> Path:
    """``<landing>/_ground_truth/<window>``: the window's ground truth, coverage and markers."""
    return Path(landing) / GROUND_TRUTH_DIR / window_name(window)


def ground_truth_file(landing: Path | str, window: int | str) -> Path:
    """``<landing>/_ground_truth/<window>/anomalies.ndjson``."""
    return ground_truth_dir(landing, window) / GROUND_TRUTH_FILE


def ground_truth_files(landing: Path | str) -> list[Path]:
    """Every window's ground-truth file that exists under ``landing`` (labels that have arrived), sorted."""
    return sorted((Path(landing) / GROUND_TRUTH_DIR).glob(f"*/{GROUND_TRUTH_FILE}"))


def asset_class_files(landing: Path | str) -> list[Path]:
    """Every replay window's ``asset_classes.json`` under ``landing``, sorted by window."""
    return sorted((Path(landing) / GROUND_TRUTH_DIR).glob(f"*/{ASSET_CLASSES_FILE}"))


@dataclass(frozen=True)
class LakehousePaths:
    root: Path
    catalog: str
    schema: str
    databricks: bool = False

    def volume(self, name: str) -> Path:
        base = Path("/Volumes") if self.databricks else self.root / "Volumes"
        return base / self.catalog / self.schema / name

    @property
    def state_dir(self) -> Path:
        """Engine-private state (MLflow SQLite, manifests); a volume on Databricks."""
        return self.volume("state") if self.databricks else self.root / "_state"

    @property
    def landing(self) -> Path:
        return self.volume("landing")

    @property
    def checkpoints(self) -> Path:
        return self.volume("checkpoints")

    @property
    def exports(self) -> Path:
        return self.volume("exports")

    @property
    def reports(self) -> Path:
        return self.volume("reports")

    @property
    def run_journal(self) -> Path:
        """``fin-mlops run``'s journal: the stages an interrupted run already finished (see runtime.journal)."""
        return self.state_dir / "run_journal.json"

    def checkpoint(self, name: str) -> Path:
        """A stream checkpoint or schema location (``pipeline.streaming.checkpoint_name`` and friends)."""
        return self.checkpoints / name

    @property
    def ground_truth_root(self) -> Path:
        """``<landing>/_ground_truth``."""
        return self.landing / GROUND_TRUTH_DIR

    def ground_truth_dir(self, window: int | str) -> Path:
        return ground_truth_dir(self.landing, window)

    def ground_truth(self, window: int | str) -> Path:
        """``<landing>/_ground_truth/<window>/anomalies.ndjson`` of replay window ``window`` (number or name)."""
        return ground_truth_file(self.landing, window)

    def coverage(self, window: int | str) -> Path:
        """The ``coverage.json`` beside window ``window``'s ground truth."""
        return self.ground_truth_dir(window) / COVERAGE_FILE

    def ground_truth_files(self) -> list[Path]:
        """Every window's ground-truth file that exists (labels that have arrived), sorted by path."""
        return ground_truth_files(self.landing)
