"""Scan the files git knows about for secret-like strings.

Secrets belong in Databricks secret scopes, CI secrets or SOPS-encrypted files
(``secrets/*.enc.yaml``); a value that looks like a token, key or credential
anywhere else in the tree is a finding. Run: ``python -m financial_transactions.deploy.secret_scan``.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 2_000_000
#: (rule, pattern) for well-known credential formats.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws-access-key-id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("databricks-token", re.compile(r"\bdapi[0-9a-f]{32}(?:-\d)?\b")),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b")),
    ("slack-token", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}\b")),
    ("slack-webhook", re.compile(r"https://hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/[0-9A-Za-z]{16,}")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("private-key", re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----")),
    ("age-secret-key", re.compile(r"\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b")),
    ("url-credentials", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s:@'\"$<{]{6,}@[\w.-]+")),
)
#: ``api_key = "..."``-style assignments of a long, random-looking literal.
ASSIGNMENT = re.compile(
    r"(?i)\b[\w-]*(?:api[_-]?key|secret|token|password|passwd|client[_-]?secret|access[_-]?key)[\w-]*\b"
    r"""["']?\s*[:=]\s*["']([^"'\s]{16,})["']"""
)
_PLACEHOLDER = re.compile(r"(?i)^(?:<.*>|\$\{.*\}|\{\{.*\}\}|x{6,}|\*{6,}|your[_-].*|example.*|dummy.*|test.*|fake.*)$")


@dataclass(frozen=True)
class SecretHit:
    file: str
    line: int
    rule: str
    excerpt: str  # redacted


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = {ch: text.count(ch) for ch in set(text)}
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _redact(value: str) -> str:
    return value[:4] + "…" + f"({len(value)} chars)" if len(value) > 8 else "…"


def is_sops_encrypted(text: str) -> bool:
    return "\nsops:" in text and "ENC[" in text


def scan_text(text: str, name: str = "<text>") -> list[SecretHit]:
    hits: list[SecretHit] = []
    if is_sops_encrypted(text):
        return hits
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > 1000:  # minified vendor code
            continue
        for rule, pattern in RULES:
            for match in pattern.finditer(line):
                hits.append(SecretHit(name, number, rule, _redact(match.group(0))))
        for match in ASSIGNMENT.finditer(line):
            value = match.group(1)
            if _PLACEHOLDER.match(value) or value.startswith(("os.environ", "env.", "secrets.")):
                continue
            if entropy(value) >= 3.5 and re.search(r"\d", value) and re.search(r"[A-Za-z]", value):
                hits.append(SecretHit(name, number, "high-entropy-assignment", _redact(value)))
    return hits


def tracked_files(root: Path) -> list[Path]:
    """Files git tracks plus untracked files it does not ignore (what a commit could pick up)."""
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    return [root / p for p in sorted(set(proc.stdout.decode("utf-8", "replace").split("\0"))) if p]


def scan_files(root: Path, files: Iterable[Path]) -> list[SecretHit]:
    hits: list[SecretHit] = []
    for path in files:
        try:
            if not path.is_file() or path.stat().st_size > MAX_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue  # binary
        name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        hits.extend(scan_text(data.decode("utf-8", "replace"), name))
    return hits


def scan_repository(root: Path) -> list[SecretHit]:
    return scan_files(root, tracked_files(root))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else ".").resolve()
    hits = scan_repository(root)
    for hit in hits:
        print(f"{hit.file}:{hit.line}: {hit.rule}: {hit.excerpt}")
    print(f"secret scan: {len(hits)} finding(s) in {root}")
    return 1 if hits else 0


if __name__ == "__main__":
    raise SystemExit(main())
