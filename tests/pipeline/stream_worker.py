"""Subprocess body for the kill-and-restart test: run the stream, SIGKILL itself mid-batch.

Usage: python stream_worker.py <lakehouse_root> <checkpoint> <kill_event> <kill_batch>
The process dies with SIGKILL (no cleanup, no flush) right after ``kill_event``
of micro-batch ``kill_batch``, exactly like a crashed driver.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from financial_transactions.config import ProjectConfig
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

    StreamProcessor(
        platform, trigger="availableNow", max_files_per_trigger=4, checkpoint=checkpoint, observer=observer
    ).run()
    print("finished without being killed", flush=True)


if __name__ == "__main__":
    main()
