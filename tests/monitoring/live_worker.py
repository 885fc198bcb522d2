"""Subprocess body for the live-scoring kill-and-restart test: stream + scoring, SIGKILL itself mid-batch.

Usage: python live_worker.py <lakehouse_root> <checkpoint> <kill_event> <kill_batch>
(the webhook URL comes from FIN_MLOPS_ALERT_WEBHOOK_URL). The process dies with SIGKILL right
after the stream's or the scorer's ``kill_event`` of micro-batch ``kill_batch``, like a crashed driver.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from financial_transactions.config import ProjectConfig
from financial_transactions.monitoring.live_scoring import LiveScorer
from financial_transactions.pipeline.stream import StreamProcessor
from financial_transactions.runtime import Platform

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    root, checkpoint, kill_event, kill_batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=root)

    def observer(event: str, batch_id: int) -> None:
        print(f"{event} {batch_id}", flush=True)
        if event == kill_event and batch_id == kill_batch:
            os.kill(os.getpid(), signal.SIGKILL)

    scorer = LiveScorer(platform, observer=observer)
    StreamProcessor(
        platform, trigger="availableNow", max_files_per_trigger=1, checkpoint=checkpoint, observer=observer,
        on_gold=scorer,
    ).run()  # fmt: skip
    print("finished without being killed", flush=True)


if __name__ == "__main__":
    main()
