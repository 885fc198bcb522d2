"""Where files live: one layout, mirrored between a laptop and Unity Catalog volumes.

Locally everything sits under one lakehouse root so a run is self-contained and
deletable; on Databricks the same names resolve to ``/Volumes/<catalog>/<schema>/<volume>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
