"""Generated files kept in the repository: write them, or say they are stale (CI's ``--check``)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, wanted: str, *, check: bool, module: str) -> int:
    """``check``: exit status 1 (and the command that fixes it) when ``path`` differs from ``wanted``.

    Otherwise rewrite ``path`` when it differs. Returns the exit status for ``main``.
    """
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if check:
        if current != wanted:
            print(f"{path} is stale: run `python -m {module} --write`", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        path.write_text(wanted, encoding="utf-8")
        print(f"wrote {path}")
    return 0
