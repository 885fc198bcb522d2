"""PSI + JS drift on 1,000,000 reference + 1,000,000 current rows x 20 features.

Prints the DriftDetector's time (target: at most 1.0 s on 2 cores) and, in the
same run on the same data, Evidently's ``DataDriftPreset(method="psi")`` for
the ratio (target: at least 40x). Evidently needs ``pandas<3`` and pulls in a
large dependency tree, so it runs in its own small virtual environment
(``--evidently-venv``, default /tmp/fin-mlops-evidently-venv), created with
pip on first use; when that is impossible (offline, no pip) the Evidently half
is skipped with a message and the DriftDetector figure is still printed.

The data: seeded mixtures that look like the gold features (normal returns,
lognormal volatility/volume, zero-inflated ratios, small integer counts, 0/1
flags); the current window shifts a third of them. Timings exclude data
generation; both tools get pandas DataFrames already in memory.

Usage: python benchmarks/drift.py [--rows N] [--features F] [--repeats R] [--skip-evidently]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from financial_transactions.config.monitoring import DriftConfig
from financial_transactions.monitoring.drift_detector import DriftDetector

EVIDENTLY_SPEC = ["evidently>=0.7,<0.8", "pandas>=2.2,<3", "pyarrow>=16"]
TARGET_SECONDS = 1.0
TARGET_RATIO = 40.0

EVIDENTLY_RUNNER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])
repeats = int(sys.argv[3])
times = []
for _ in range(repeats):
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset(method="psi")]).run(current_data=cur, reference_data=ref)
    result = snapshot.dict()
    times.append(time.perf_counter() - start)
drifted = None
for metric in result.get("metrics", []):
    value = metric.get("value")
    if str(metric.get("metric_name", "")).startswith("DriftedColumnsCount") and isinstance(value, dict):
        drifted = int(value["count"])
import evidently
print(json.dumps({"times": times, "drifted": drifted, "version": evidently.__version__}))
"""


def make_windows(rows: int, features: int, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}
    for i in range(features):
        shift = i % 3 == 0
        kind = i % 5
        if kind == 0:  # returns
            ref[f"f{i:02d}"] = rng.normal(0, 1e-3, rows)
            cur[f"f{i:02d}"] = rng.normal(0, 3e-3 if shift else 1e-3, rows)
        elif kind == 1:  # volatility / volume
            ref[f"f{i:02d}"] = rng.lognormal(0, 0.5, rows)
            cur[f"f{i:02d}"] = rng.lognormal(0.7 if shift else 0, 0.5, rows)
        elif kind == 2:  # zero-inflated ratio
            ref[f"f{i:02d}"] = np.where(rng.random(rows) < 0.7, 0.0, rng.random(rows))
            cur[f"f{i:02d}"] = np.where(rng.random(rows) < (0.5 if shift else 0.7), 0.0, rng.random(rows))
        elif kind == 3:  # small counts
            ref[f"f{i:02d}"] = rng.poisson(3, rows).astype(np.float64)
            cur[f"f{i:02d}"] = rng.poisson(4 if shift else 3, rows).astype(np.float64)
        else:  # bounded oscillator (RSI-like)
            ref[f"f{i:02d}"] = rng.beta(5, 5, rows) * 100
            cur[f"f{i:02d}"] = rng.beta(6 if shift else 5, 5, rows) * 100
    return pd.DataFrame(ref), pd.DataFrame(cur)


def time_detector(ref: pd.DataFrame, cur: pd.DataFrame, repeats: int, threads: int) -> tuple[list[float], int]:
    detector = DriftDetector(DriftConfig(threads=threads))
    detector.compare(ref.head(10_000), cur.head(10_000))  # warm-up: imports, thread pool
    times = []
    drifted = 0
    for _ in range(repeats):
        start = time.perf_counter()
        report = detector.compare(ref, cur)
        times.append(time.perf_counter() - start)
        drifted = len(report.drifted_features)
    return times, drifted


def evidently_python(venv: Path, install: bool) -> tuple[Path | None, str]:
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import evidently, pandas; assert int(pandas.__version__.split('.')[0]) < 3"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, "ready"
    if not install:
        return None, f"no Evidently environment at {venv} (run without --no-install to create it)"
    print(f"creating {venv} with {' '.join(EVIDENTLY_SPEC)} (first run only) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *EVIDENTLY_SPEC],
            check=True,
            capture_output=True,
            timeout=1800,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        tail = detail.decode(errors="replace").strip().splitlines()[-1:] if detail else []
        return None, f"could not install Evidently ({type(exc).__name__}{': ' + tail[0] if tail else ''})"
    if subprocess.run(check, capture_output=True).returncode != 0:
        return None, "Evidently installed but does not import"
    return python, "installed"


def time_evidently(python: Path, ref: pd.DataFrame, cur: pd.DataFrame, repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        ref_path, cur_path = Path(tmp) / "ref.parquet", Path(tmp) / "cur.parquet"
        ref.to_parquet(ref_path)
        cur.to_parquet(cur_path)
        runner = Path(tmp) / "run_evidently.py"
        runner.write_text(EVIDENTLY_RUNNER, encoding="utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        out = subprocess.run(
            [str(python), str(runner), str(ref_path), str(cur_path), str(repeats)],
            capture_output=True,
            text=True,
            env=env,
            timeout=3600,
        )
    if out.returncode != 0:
        raise RuntimeError(f"Evidently run failed: {out.stderr.strip().splitlines()[-1:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per window")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5, help="DriftDetector repeats (best and median shown)")
    parser.add_argument("--evidently-repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="DriftDetector feature threads (drift.threads)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--no-install", action="store_true", help="never create the Evidently venv")
    parser.add_argument("--evidently-venv", type=Path, default=Path(tempfile.gettempdir()) / "fin-mlops-evidently-venv")
    args = parser.parse_args()

    print(f"data: {args.rows:,} reference + {args.rows:,} current rows x {args.features} features (float64)")
    ref, cur = make_windows(args.rows, args.features)
    times, drifted = time_detector(ref, cur, args.repeats, args.threads)
    best, median = min(times), statistics.median(times)
    verdict = "meets" if best <= TARGET_SECONDS else "MISSES"
    print(
        f"DriftDetector PSI+JS ({args.threads} threads): best {best:.3f} s, median {median:.3f} s "
        f"over {args.repeats} runs; {drifted}/{args.features} features drifted "
        f"-> {verdict} the {TARGET_SECONDS:.1f} s target (cores available: {os.cpu_count()})"
    )
    if args.skip_evidently:
        print("Evidently: skipped (--skip-evidently)")
        return
    python, status = evidently_python(args.evidently_venv, install=not args.no_install)
    if python is None:
        print(f"Evidently: skipped - {status}")
        return
    result = time_evidently(python, ref, cur, args.evidently_repeats)
    ev_times = [float(t) for t in result["times"]]  # type: ignore[attr-defined]
    ev_best = min(ev_times)
    ratio = ev_best / best
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"Evidently {result['version']} DataDriftPreset(method='psi'): best {ev_best:.2f} s over "
        f"{len(ev_times)} run(s); drifted columns reported: {result['drifted']}"
    )
    print(f"ratio Evidently / DriftDetector: {ratio:.1f}x -> {verdict} the {TARGET_RATIO:.0f}x target")


if __name__ == "__main__":
    main()
