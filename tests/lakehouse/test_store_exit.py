"""A process that reads a local Delta table and exits at once exits cleanly.

deltalake's default dataset reads through a Python file handler on Arrow's I/O threads;
one still prefetching at interpreter exit aborted the process (exit -6, "terminate called
without an active exception") after its work was done: about one exit in four on this
machine, so a CLI command failed at random. Twenty fresh processes make a miss unlikely
(0.75 ** 20 < 0.5 %).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from financial_transactions.lakehouse import LocalDeltaStore

FQN = "main.exit_check.trades"

SCRIPT = f"""
import sys
from financial_transactions.lakehouse import LocalDeltaStore
store = LocalDeltaStore(sys.argv[1])
assert store.count("{FQN}") == 5000
assert store.read_arrow("{FQN}", columns=["symbol"]).num_rows == 5000
"""


def test_reading_a_table_then_exiting_never_aborts(tmp_path: Path) -> None:
    store = LocalDeltaStore(tmp_path)
    for part in range(4):  # several files: several prefetches in flight
        rows = range(part * 1250, (part + 1) * 1250)
        store.append(FQN, pa.table({"symbol": [f"S{i % 7}" for i in rows], "price": [float(i) for i in rows]}))
    codes = [
        subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120)
        for _ in range(20)
    ]
    failed = [(c.returncode, c.stderr[-300:]) for c in codes if c.returncode != 0]
    assert failed == []
