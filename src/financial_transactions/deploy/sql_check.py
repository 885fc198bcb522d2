"""``setup_uc_infrastructure.sql``: it must parse (sqlglot, databricks dialect) and be re-runnable.

sqlglot models most statements; a few Unity Catalog ones (``CREATE CATALOG``,
``CREATE VOLUME``, ``GRANT ... ON CATALOG``, ``SET MASK``) it keeps as generic
commands, which still have to be well-formed at the statement level and
idempotent (``IF NOT EXISTS`` / ``OR REPLACE``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

#: Statement openings Databricks SQL accepts that sqlglot keeps as commands.
_KNOWN_COMMANDS = re.compile(
    r"^\s*(CREATE\s+(CATALOG|VOLUME|EXTERNAL\s+VOLUME)|ALTER\s+(TABLE|VOLUME|CATALOG|SCHEMA|VIEW)|"
    r"GRANT\s|REVOKE\s|SET\s+TAG|UNSET\s+TAG)",
    re.IGNORECASE,
)


@dataclass
class SqlReport:
    path: Path
    statements: int = 0
    commands: list[str] = field(default_factory=list)  # kept as generic commands
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    kinds: dict[str, int] = field(default_factory=dict)


class _Cursor:
    """Finds each statement's line by scanning forward (statements come in file order)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.pos = 0

    def line_of(self, fragment: str) -> int:
        words = fragment.split()[:4]
        if not words:
            return 0
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
        match = pattern.search(self.sql, self.pos)
        if match is None:
            return 0
        self.pos = match.end()
        return self.sql.count("\n", 0, match.start()) + 1


def check_sql(path: Path) -> SqlReport:
    report = SqlReport(path)
    sql = path.read_text(encoding="utf-8")
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the "falling back to Command" notes are expected here
    try:
        statements = sqlglot.parse(sql, read="databricks", error_level=sqlglot.ErrorLevel.RAISE)
    except ParseError as exc:
        for err in exc.errors or [{"line": 0, "description": str(exc)}]:
            report.errors.append((int(err.get("line") or 0), f"does not parse: {err.get('description')}"))
        return report
    finally:
        logger.setLevel(level)
    cursor = _Cursor(sql)
    for stmt in statements:
        if stmt is None:
            continue
        report.statements += 1
        kind = type(stmt).__name__
        if isinstance(stmt, exp.Command):
            raw = f"{stmt.this} {stmt.expression}" if stmt.expression is not None else str(stmt.this)
        else:
            raw = stmt.sql(dialect="databricks")
        line = cursor.line_of(raw)
        if isinstance(stmt, exp.Create):
            kind = f"CREATE {stmt.args.get('kind', '')}".strip()
            if not (stmt.args.get("exists") or stmt.args.get("replace")):
                report.errors.append((line, f"{kind} is not idempotent: add IF NOT EXISTS or OR REPLACE"))
        elif isinstance(stmt, exp.Command):
            first = raw.strip().split("\n", 1)[0]
            report.commands.append(first[:100])
            kind = " ".join(first.split()[:2]).upper()
            if not _KNOWN_COMMANDS.match(raw):
                report.errors.append((line, f"unrecognised statement: {first[:80]!r}"))
            elif re.match(r"^\s*CREATE\s", raw, re.IGNORECASE) and not re.search(
                r"IF\s+NOT\s+EXISTS|OR\s+REPLACE", raw, re.IGNORECASE
            ):
                report.errors.append((line, f"{kind} is not idempotent: add IF NOT EXISTS"))
            if raw.count("(") != raw.count(")") or raw.count("'") % 2:
                report.errors.append((line, f"unbalanced parentheses or quotes in {first[:60]!r}"))
        report.kinds[kind] = report.kinds.get(kind, 0) + 1
    if report.statements == 0:
        report.errors.append((0, "no SQL statements"))
    return report
