"""The crash-consistency matrix: SIGKILL ``fin-mlops run`` at every registered crash point, rerun it,
and compare with an uninterrupted run of the same seed.

    nice -n 19 .venv/bin/python scripts/crash_matrix.py [--points a,b,...] [--work DIR] [--frozen]

For each point of ``runtime.crashpoints.CRASH_POINTS`` (or ``--points``): a fresh lakehouse, one
``fin-mlops run`` with ``FIN_MLOPS_CRASH_AT=<point>`` (it must die by SIGKILL), one plain ``fin-mlops
run`` on the same lakehouse (it resumes), then :func:`tests.support.crash.diff` against the
uninterrupted baseline. Two baselines are run first: the difference between them is the run's own
nondeterminism, reported as such (a point is only judged on what the baselines agree on).

``--frozen`` copies ``src/`` once and runs every process on that copy (PYTHONPATH), so edits made in
the working tree while the matrix runs cannot change the code under test.

Prints a table: kill point, killed, converged (yes / no), and the differences of a point that did not.
Exit code 0 when every point converged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from financial_transactions.runtime.crashpoints import CRASH_POINTS  # noqa: E402
from tests.support.crash import (  # noqa: E402
    ROLLBACK_ARGS,
    Snapshot,
    copy_lake,
    diff,
    prepare_rollback,
    run_fin_mlops,
    small_config,
    snapshot,
)


def _baseline(config: Path, work: Path, name: str) -> Snapshot:
    """An uninterrupted run (reused when ``work/name`` already holds a finished one)."""
    journal = work / name / "lake" / "_state" / "run_journal.json"
    if journal.is_file() and json.loads(journal.read_text(encoding="utf-8")).get("finished"):
        print(f"{name}: reusing the finished run in {work / name}", flush=True)
        return snapshot(config, work / name / "lake")
    done = run_fin_mlops(config, work / name / "lake", work / name, ["run"], log_name="run")
    if done.returncode != 0:
        raise SystemExit(f"baseline {name} failed (exit {done.returncode}); log: {done.log}")
    return snapshot(config, work / name / "lake")


def _rows_of(problems: list[str], ignored: set[str]) -> list[str]:
    """The differences not already present between the two baselines (the run's own nondeterminism)."""
    kept, header = [], ""
    for line in problems:
        if not line.startswith("  "):
            header = line.split(":")[0]
        if header not in ignored:
            kept.append(line)
    return kept


def _rollback_baseline(config: Path, work: Path, base: Path) -> Snapshot:
    """An uninterrupted rollback of a second promotion on a copy of baseline 1's lakehouse."""
    folder = work / "rollback-baseline"
    copy_lake(base / "baseline-1" / "lake", folder / "lake")
    prepare_rollback(config, folder / "lake")
    done = run_fin_mlops(config, folder / "lake", folder, ROLLBACK_ARGS, log_name="rollback")
    if done.returncode != 0:
        raise SystemExit(f"baseline rollback failed (exit {done.returncode}); log: {done.log}")
    return snapshot(config, folder / "lake")


def _rollback_case(
    config: Path, work: Path, base: Path, point: str, expected: Snapshot, noisy: set[str]
) -> tuple[str, str, str, list[str]]:
    """The same rollback killed at ``point``, then ``fin-mlops rollback`` again (it finishes the first)."""
    folder = work / point
    lake = folder / "lake"
    copy_lake(base / "baseline-1" / "lake", lake)
    prepare_rollback(config, lake)
    killed = run_fin_mlops(config, lake, folder, ROLLBACK_ARGS, crash_at=point, log_name="killed")
    if not killed.killed:
        return point, f"no (exit {killed.returncode})", "n/a", [f"not killed; log {killed.log}"]
    rerun = run_fin_mlops(config, lake, folder, ROLLBACK_ARGS, log_name="rerun")
    if rerun.returncode != 0:
        return point, "yes", "no", [f"rerun exit {rerun.returncode}; log {rerun.log}"]
    problems = _rows_of(diff(expected, snapshot(config, lake)), noisy)
    return point, "yes", "yes" if not problems else "no", problems


def _rejudge(
    config: Path, folder: Path, point: str, run_expected: Snapshot, rollback_expected: Snapshot | None, noisy: set[str]
) -> tuple[str, str, str, list[str]]:
    """A case already run (killed, then rerun to the end): compared again with the current normalisation."""
    rerun = folder / "rerun.log"
    if not rerun.is_file() or not (folder / "lake").is_dir():
        return point, "n/a", "not run", []
    expected = rollback_expected if point.startswith("rollback.") and rollback_expected is not None else run_expected
    problems = _rows_of(diff(expected, snapshot(config, folder / "lake")), noisy)
    return point, "yes", "yes" if not problems else "no", problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="", help="comma-separated crash points (default: all registered)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temp dir, kept)")
    parser.add_argument("--frozen", action="store_true", help="run every process on a copy of src/ taken now")
    parser.add_argument("--code", type=Path, default=None, help="run every process on this copy of src/ (workers)")
    parser.add_argument(
        "--rejudge", action="store_true", help="run nothing: compare the finished cases under --work again"
    )
    parser.add_argument(
        "--baselines", type=Path, default=None, help="folder of finished baseline-1/2 runs to reuse (default: --work)"
    )
    args = parser.parse_args()
    points = [p for p in args.points.split(",") if p] or list(CRASH_POINTS)
    unknown = [p for p in points if p not in CRASH_POINTS]
    if unknown:
        print(f"unknown crash point(s): {', '.join(unknown)}; known: {', '.join(CRASH_POINTS)}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="crash-matrix-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.frozen or args.code is not None:
        frozen = args.code or work / "src"
        if args.code is None:
            if frozen.exists():
                shutil.rmtree(frozen)
            shutil.copytree(ROOT / "src", frozen, ignore=shutil.ignore_patterns("__pycache__"))
        os.environ["PYTHONPATH"] = os.pathsep.join([str(frozen), os.environ.get("PYTHONPATH", "")])
        print(f"code under test: frozen copy {frozen}")
    base = args.baselines or work
    shared = base / "project_config.yml"  # reused baselines: their configuration, whatever the checkout holds now
    reuse = args.baselines is not None and shared.is_file()
    config = shared if reuse else small_config(ROOT, work / "project_config.yml")
    print(f"work folder {work}; {len(points)} crash point(s); load {os.getloadavg()[0]:.1f}", flush=True)
    started = time.perf_counter()
    first = _baseline(config, base, "baseline-1")
    second = _baseline(config, base, "baseline-2")
    own = diff(first, second)
    noisy = {p.split(":")[0] for p in own if not p.startswith("  ")}
    print(f"baselines: {'identical' if not own else f'{len(own)} difference(s) between two uninterrupted runs'}")
    for line in own:
        print(f"  nondeterministic: {line}")
    rollback_expected: Snapshot | None = None
    if any(p.startswith("rollback.") for p in points):
        folder = work / "rollback-baseline"
        if args.rejudge and (folder / "lake").is_dir():
            rollback_expected = snapshot(config, folder / "lake")
        else:
            rollback_expected = _rollback_baseline(config, work, base)
    rows: list[tuple[str, str, str, list[str]]] = []
    for point in points:
        folder = work / point
        lake = folder / "lake"
        if args.rejudge:
            rows.append(_rejudge(config, folder, point, first, rollback_expected, noisy))
            print(f"{point}: {rows[-1][2]}", flush=True)
            continue
        if folder.exists():
            shutil.rmtree(folder)
        if point.startswith("rollback.") and rollback_expected is not None:
            rows.append(_rollback_case(config, work, base, point, rollback_expected, noisy))
            print(f"{point}: {'converged' if rows[-1][2] == 'yes' else 'DIVERGED'}", flush=True)
            continue
        killed = run_fin_mlops(config, lake, folder, ["run"], crash_at=point, log_name="killed")
        if not killed.killed:
            rows.append((point, f"no (exit {killed.returncode})", "n/a", [f"not killed; log {killed.log}"]))
            print(f"{point}: not killed (exit {killed.returncode}); log {killed.log}", flush=True)
            continue
        rerun = run_fin_mlops(config, lake, folder, ["run"], log_name="rerun")
        if rerun.returncode != 0:
            rows.append((point, "yes", "no", [f"rerun exit {rerun.returncode}; log {rerun.log}"]))
            print(f"{point}: rerun failed (exit {rerun.returncode}); log {rerun.log}", flush=True)
            continue
        problems = _rows_of(diff(first, snapshot(config, lake)), noisy)
        rows.append((point, "yes", "yes" if not problems else "no", problems))
        print(f"{point}: killed, {'converged' if not problems else 'DIVERGED'}", flush=True)
    print()
    print(f"{'kill point':<28} {'killed':<10} {'converged':<10} difference")
    for point, was_killed, converged, problems in rows:
        print(f"{point:<28} {was_killed:<10} {converged:<10} {problems[0] if problems else ''}")
        for line in problems[1:12]:
            print(f"{'':<50} {line}")
    converged = sum(1 for r in rows if r[2] == "yes")
    minutes = (time.perf_counter() - started) / 60
    print(f"\n{converged}/{len(rows)} converged in {minutes:.1f} min (load {os.getloadavg()[0]:.1f}); work {work}")
    if own:
        print(f"baselines differed in: {', '.join(sorted(noisy))} (not judged)")
    return 0 if converged == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
