"""Entry point for racing triggers in separate processes (spawned, so each has its own Delta client)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from financial_transactions.config import ProjectConfig
from financial_transactions.monitoring.retraining_trigger import LaunchResult, RetrainingTrigger, TriggerSignals
from financial_transactions.runtime import Platform


class RecordingLauncher:
    """Counts launches instead of training (the race is about decisions, not models)."""

    name = "recording"

    def __init__(self) -> None:
        self.launched: list[str] = []

    def launch(self, event_id: str, reason: str) -> LaunchResult:
        self.launched.append(event_id)
        return LaunchResult("launched", self.name, run_id=event_id)


def race(
    config_path: str, lakehouse_root: str, overrides: dict[str, Any], now_iso: str, barrier: Any, queue: Any
) -> None:
    cfg = ProjectConfig.from_yaml(Path(config_path), "dev")
    cfg = cfg.model_copy(update={"retraining": cfg.retraining.model_copy(update=overrides)})
    platform = Platform.create(cfg, lakehouse_root=lakehouse_root)
    launcher = RecordingLauncher()
    now = datetime.fromisoformat(now_iso).astimezone(UTC)
    trigger = RetrainingTrigger(platform, launcher=launcher, clock=lambda: now)
    signals = TriggerSignals(drift_detected=True, drift_run_id="race", drifted_share=0.5, drifted_features=("a", "b"))
    barrier.wait()
    try:
        result = trigger.evaluate(signals)
        queue.put((result.event_id, result.decision, result.commit_attempts, launcher.launched))
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put(("error", f"{type(exc).__name__}: {exc}", 0, []))
