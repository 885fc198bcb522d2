"""Build exactly one project wheel per build, with a version no earlier deploy used.

The bundle's artifact build command and ``make build`` both run this file (standard library only,
so the Databricks CLI can run it with a bare ``python3`` before anything is installed):

1. ``dist/`` is emptied of wheels first, so ``../dist/*.whl`` in the bundle matches one file
   (after a version bump it used to match two, and jobs installed both);
2. the wheel is built (``pip wheel --no-deps``);
3. its version gets a per-build PEP 440 local label, ``<version>+<UTC yyyymmddHHMMSS>``.

Step 3 replaces the bundle's ``dynamic_version``: the CLI applies that to job libraries and job
environments only, never to a pipeline's environment dependencies
(``bundle/libraries/switch_to_patched_wheels.go``, CLI 1.13.0), so a serverless pipeline kept
installing the unchanged ``0.1.0`` wheel it had cached. With the label in the file itself, jobs
and the pipeline install the same, new wheel on every deploy.
https://docs.databricks.com/aws/en/dev-tools/bundles/settings#artifacts
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

#: ``<distribution>-<version>(-<build>)?-<python>-<abi>-<platform>.whl`` (PEP 427).
_WHEEL = re.compile(r"^(?P<dist>[^-]+)-(?P<version>[^-]+)(?P<tags>(-[^-]+){3,4})\.whl$")
_LOCAL = re.compile(r"^[a-z0-9]+(\.[a-z0-9]+)*$")


def clean_dist(dist: Path) -> list[Path]:
    """Delete every wheel in ``dist`` (creating it when missing); returns what was deleted."""
    dist.mkdir(parents=True, exist_ok=True)
    removed = sorted(dist.glob("*.whl"))
    for wheel in removed:
        wheel.unlink()
    return removed


def build_label(now: datetime | None = None) -> str:
    """The per-build local version label: the UTC build time to the second."""
    return (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def stamp_wheel(wheel: Path, label: str, out_dir: Path) -> Path:
    """Copy ``wheel`` into ``out_dir`` as ``<version>+<label>`` (file name, METADATA, dist-info, RECORD).

    An existing local label is replaced, as the CLI's own wheel patching does.
    """
    if not _LOCAL.match(label):
        raise ValueError(f"local version label {label!r} must be lowercase letters and digits separated by dots")
    match = _WHEEL.match(wheel.name)
    if match is None:
        raise ValueError(f"{wheel.name} is not a wheel file name")
    dist, version, tags = match.group("dist"), match.group("version"), match.group("tags")
    new_version = f"{version.split('+', 1)[0]}+{label}"
    old_info, new_info = f"{dist}-{version}.dist-info/", f"{dist}-{new_version}.dist-info/"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{dist}-{new_version}{tags}.whl"
    with zipfile.ZipFile(wheel) as src:
        names = src.namelist()
        if f"{old_info}METADATA" not in names or f"{old_info}RECORD" not in names:
            raise ValueError(f"{wheel.name} has no {old_info}METADATA or RECORD")
        contents = {name: src.read(name) for name in names}
        infos = {name: src.getinfo(name) for name in names}
    metadata = contents[f"{old_info}METADATA"].decode("utf-8")
    metadata, count = re.subn(rf"(?m)^Version: {re.escape(version)}$", f"Version: {new_version}", metadata)
    if count != 1:
        raise ValueError(f"{wheel.name}: METADATA does not state Version: {version}")
    renamed: dict[str, bytes] = {}
    for name, data in contents.items():
        new_name = new_info + name[len(old_info) :] if name.startswith(old_info) else name
        renamed[new_name] = metadata.encode("utf-8") if name == f"{old_info}METADATA" else data
    record_name = f"{new_info}RECORD"
    rows = [f"{name},{_record_hash(data)},{len(data)}" for name, data in renamed.items() if name != record_name]
    renamed[record_name] = ("\n".join([*rows, f"{record_name},,"]) + "\n").encode("utf-8")
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name, data in renamed.items():
            old = old_info + name[len(new_info) :] if name.startswith(new_info) else name
            info = zipfile.ZipInfo(name, date_time=infos[old].date_time)
            info.external_attr = infos[old].external_attr
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data)
    return target


def build(project: Path, dist: Path, label: str | None = None) -> Path:
    """Empty ``dist``, build the project's wheel and stamp it; returns the one wheel in ``dist``."""
    clean_dist(dist)
    with tempfile.TemporaryDirectory(prefix="fin-mlops-wheel-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp, str(project)],
            check=True,
        )
        built = sorted(Path(tmp).glob("*.whl"))
        if len(built) != 1:
            raise RuntimeError(f"pip wheel built {len(built)} wheels, expected one: {[w.name for w in built]}")
        wheel = stamp_wheel(built[0], label or build_label(), dist)
    leftovers = sorted(p.name for p in dist.glob("*.whl") if p != wheel)
    if leftovers:  # another build wrote into dist/ meanwhile
        raise RuntimeError(f"dist/ holds more than this build's wheel: {leftovers}")
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build one project wheel with a per-build version into dist/")
    parser.add_argument("--project", type=Path, default=Path(__file__).resolve().parents[3], help="project root")
    parser.add_argument("--dist", type=Path, default=None, help="output folder (default: <project>/dist)")
    parser.add_argument("--label", default=None, help="local version label (default: the UTC build time)")
    args = parser.parse_args(argv)
    wheel = build(args.project, args.dist or args.project / "dist", args.label)
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
