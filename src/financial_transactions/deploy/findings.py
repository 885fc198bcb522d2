"""Findings and the report that ``fin-mlops bundle-check`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]
Status = Literal["passed", "failed", "warned", "skipped"]


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str
    file: str | None = None  # relative to the project root when inside it
    line: int | None = None
    path: str | None = None  # config path, e.g. resources.jobs.x.tasks[0]

    @property
    def where(self) -> str:
        if self.file is None:
            return self.path or ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def render(self) -> str:
        where = self.where
        at = f" ({self.path})" if self.path and self.file else ""
        return f"{self.severity}: {where}{at}: {self.message}" if where else f"{self.severity}: {self.message}"


@dataclass
class CheckResult:
    name: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None  # why the check could not run
    detail: str = ""

    @property
    def status(self) -> Status:
        if self.skipped is not None:
            return "skipped"
        if any(f.severity == "error" for f in self.findings):
            return "failed"
        if self.findings:
            return "warned"
        return "passed"


@dataclass
class BundleCheckReport:
    root: Path
    results: list[CheckResult] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def result(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)
