"""Subprocess body for the crashed-ingest test: run the ingest stage, SIGKILL itself mid-ingest.

Usage: python ingest_worker.py <lakehouse_root> <kill_at_file>
The process dies with SIGKILL (no flush, no cleanup) while writing its
``kill_at_file``-th landing data file: the temporary file is on disk, the
rename never happens, and no ``_SUCCESS.json`` is written.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from financial_transactions.config import ProjectConfig
from financial_transactions.ingest import landing as landing_module
from financial_transactions.replay.window import ingest_window
from financial_transactions.runtime import Platform
from tests.support.ingest import small_replay, with_replay

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The replay settings of the crashed run and of the re-run (the same window fingerprint).
REPLAY = {"start_grace_seconds": 0.5, "collect_flush_max_records": 300}


def platform_for(root: str | Path) -> Platform:
    cfg = ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", "dev")
    return Platform.create(with_replay(cfg, small_replay(**REPLAY)), lakehouse_root=root)


def main() -> None:
    root, kill_at = sys.argv[1], int(sys.argv[2])
    platform = platform_for(root)
    real_write = landing_module.write_atomic
    lock = threading.Lock()
    written = [0]

    def dying_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
        is_data = "_quarantine" not in path.parts
        with lock:
            if is_data and written[0] + 1 == kill_at:
                tmp = path.parent / f".{path.name}.tmp"
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_bytes(data[: len(data) // 2])  # half-written, never renamed
                print(f"killed while writing {path}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            real_write(path, data, fsync=fsync)
            if is_data:
                written[0] += 1

    landing_module.write_atomic = dying_write  # what LandingWriter / QuarantineWriter call
    ingest_window(platform, 1)
    print("finished without being killed", flush=True)


if __name__ == "__main__":
    main()
