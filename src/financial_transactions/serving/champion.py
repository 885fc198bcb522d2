"""The served champion: loaded from the registry, swapped atomically when the alias moves.

A request takes one reference to the current :class:`LoadedModel` and uses it to the end,
so a reload never interrupts or mixes versions inside a request: the new model is fully
loaded off the request path first, then published with a single assignment. A failed
registry check or load leaves the current model serving (and is counted).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform
from financial_transactions.serving.metrics import Metrics

log = logging.getLogger(__name__)


class ChampionSource(Protocol):
    """Where champions come from (the MLflow / Unity Catalog registry in production)."""

    name: str

    def champion_version(self) -> int | None: ...

    def load(self, version: int) -> Any: ...


class RegistryChampionSource:
    """``models:/<cfg.model_name>@champion`` through :class:`~financial_transactions.models.registry.ModelRegistry`."""

    def __init__(self, platform: Platform) -> None:
        self.registry = ModelRegistry.from_platform(platform)
        self.name = platform.config.model_name

    def champion_version(self) -> int | None:
        if not self.registry.exists():
            return None
        return self.registry.champion_version()

    def load(self, version: int) -> Any:
        return self.registry.load(version)


@dataclass(frozen=True)
class LoadedModel:
    """One loaded champion version and what scoring needs to know about it."""

    name: str
    version: str
    pyfunc: Any
    input_columns: list[str]
    threshold: float | None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the project pyfunc's scoring core (``None`` for any other pyfunc flavour)
    scorer: Any = field(default=None, repr=False)
    #: whether the scorer takes a thread count (models logged before it was added do not)
    scorer_threads: bool = field(default=False, repr=False)

    @classmethod
    def from_pyfunc(cls, name: str, version: int, pyfunc: Any) -> LoadedModel:
        python_model = _python_model(pyfunc)
        scorer = getattr(python_model, "scorer", None)
        columns: list[str] | None = list(scorer.columns) if scorer is not None else None
        if columns is None:
            schema = pyfunc.metadata.get_input_schema()
            if schema is None:
                raise ValueError(f"{name} v{version} has no input signature: cannot validate requests")
            columns = list(schema.input_names())
        threshold = float(scorer.threshold) if scorer is not None else None
        threads = scorer is not None and "threads" in inspect.signature(scorer.score_matrix).parameters
        return cls(name, str(version), pyfunc, columns, threshold, scorer=scorer, scorer_threads=threads)

    def score_rows(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """``(score, label)`` arrays for validated feature rows, through the champion's own scoring code.

        The project pyfunc's scorer takes the feature matrix straight from the rows (no
        DataFrame: a request of one row costs microseconds, not a DataFrame's fixed cost);
        any other pyfunc goes through :meth:`predict`. ``None`` becomes NaN, which the
        scorer fills with the training median exactly as it does for a DataFrame.
        """
        scorer = self.scorer
        if scorer is None:
            frame = pd.DataFrame.from_records(rows, columns=self.input_columns)
            scored = self.predict(frame)
            return scored["score"].to_numpy(dtype=np.float64), scored["label"].to_numpy(dtype=np.int64)
        columns = self.input_columns
        matrix = np.array([[row[c] for c in columns] for row in rows], dtype=np.float64)
        scores = scorer.score_matrix(matrix)
        return scores, (scores >= scorer.threshold).astype(np.int64)

    def score_matrix(self, matrix: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(score, label)`` of a float64 matrix in :attr:`input_columns` order (NaN = missing).

        ``threads`` (0: every core) overrides the estimator's own thread count where its scorer can.
        """
        scorer = self.scorer
        if scorer is None:
            scored = self.predict(pd.DataFrame(matrix, columns=self.input_columns))
            return scored["score"].to_numpy(dtype=np.float64), scored["label"].to_numpy(dtype=np.int64)
        if threads is None or not self.scorer_threads:
            scores = scorer.score_matrix(matrix)
        else:
            scores = scorer.score_matrix(matrix, threads=threads)
        return scores, (scores >= scorer.threshold).astype(np.int64)

    def score_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(score, label)`` of gold rows: :meth:`predict`'s columns without building its output frame."""
        scorer = self.scorer
        if scorer is None:
            scored = self.predict(frame)
            return scored["score"].to_numpy(dtype=np.float64), scored["label"].to_numpy(dtype=np.int64)
        scores = np.asarray(scorer.score(frame), dtype=np.float64)
        return scores, (scores >= scorer.threshold).astype(np.int64)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """score / label / model_version per row, through the champion pyfunc's own model code.

        The project pyfunc (``CustomModel``) is called directly: requests are validated
        against its feature columns here, and its feature preparation fills missing
        values, which MLflow's generic signature enforcement would reject first.
        """
        python_model = _python_model(self.pyfunc)
        if python_model is not None:
            return python_model.predict(None, frame)  # type: ignore[no-any-return]
        return self.pyfunc.predict(frame)  # type: ignore[no-any-return]


def _python_model(pyfunc: Any) -> Any | None:
    try:
        model = pyfunc.unwrap_python_model()
    except Exception:  # not a PythonModel-based pyfunc
        return None
    return model if hasattr(model, "scorer") else None


class ChampionHolder:
    """Holds the current champion; ``refresh()`` follows the alias, a daemon thread calls it periodically."""

    def __init__(self, source: ChampionSource, *, interval_seconds: float, metrics: Metrics) -> None:
        self.source = source
        self.interval = interval_seconds
        self.metrics = metrics
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self.last_check: datetime | None = None
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Load the champion if the alias points at another version; True when a new model was published."""
        with self._refresh_lock:
            self.last_check = datetime.now(UTC)
            try:
                version = self.source.champion_version()
                if version is None:
                    self.last_error = f"{self.source.name} has no champion alias"
                    return False
                current = self.current
                if current is not None and current.version == str(version):
                    self.last_error = None
                    return False
                started = time.perf_counter()
                loaded = LoadedModel.from_pyfunc(self.source.name, version, self.source.load(version))
            except Exception as exc:  # keep serving the current model; report why not ready/not reloaded
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.metrics.inc("model_reload_failures_total")
                log.warning("champion refresh failed (serving %s): %s", self._describe(), self.last_error)
                return False
            self.current = loaded  # the one atomic publish
            self.last_error = None
            self.metrics.inc("model_reloads_total")
            self.metrics.clear_gauge("model_info")
            self.metrics.set("model_info", 1, model=loaded.name, version=loaded.version)
            self.metrics.set("model_loaded", 1)
            log.info("serving %s v%s (loaded in %.2fs)", loaded.name, loaded.version, time.perf_counter() - started)
            return True

    def _describe(self) -> str:
        return f"v{self.current.version}" if self.current else "nothing"

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="champion-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
