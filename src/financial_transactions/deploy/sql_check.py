"""``setup_uc_infrastructure.sql``: it must parse (sqlglot, databricks dialect) and be re-runnable.

sqlglot models most statements; a few Unity Catalog ones (``CREATE CATALOG``,
``CREATE VOLUME``, ``GRANT ... ON CATALOG``, ``SET MASK``) it keeps as generic
commands, which still have to be well-formed at the statement level and
idempotent (``IF NOT EXISTS`` / ``OR REPLACE``).

Those Unity Catalog statements are then checked against a small grammar of their own,
so that a typo fails here rather than half-way through "Run all" in a workspace:

* ``GRANT <privileges> ON <securable> <name> TO `<principal>```: every privilege is a
  Unity Catalog privilege that applies to that securable type, the name has the
  securable's depth and was created earlier in the file, and the principal is one of
  the groups the file's ``-- Groups`` header declares (also for ``is_account_group_member``);
* ``CREATE CATALOG`` / ``CREATE VOLUME``: the statement shape and a three-part volume name
  inside a schema the file creates;
* ``ALTER TABLE t ALTER COLUMN c SET MASK f``: ``t`` and ``f`` are created earlier in the
  file and ``c`` is one of ``t``'s declared columns.
"""

from __future__ import annotations

import difflib
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


#: Unity Catalog privilege -> securable types it can be granted on.
_ALL = frozenset({"CATALOG", "SCHEMA", "TABLE", "VIEW", "MATERIALIZED VIEW", "VOLUME", "FUNCTION"})
_CONTAINERS = frozenset({"CATALOG", "SCHEMA"})
PRIVILEGES: dict[str, frozenset[str]] = {
    "ALL PRIVILEGES": _ALL,
    "MANAGE": _ALL,
    "APPLY TAG": _ALL - {"FUNCTION"},
    "BROWSE": frozenset({"CATALOG"}),
    "USE CATALOG": frozenset({"CATALOG"}),
    "USE SCHEMA": _CONTAINERS,
    "CREATE SCHEMA": frozenset({"CATALOG"}),
    "CREATE TABLE": _CONTAINERS,
    "CREATE VOLUME": _CONTAINERS,
    "CREATE FUNCTION": _CONTAINERS,
    "CREATE MATERIALIZED VIEW": _CONTAINERS,
    "CREATE MODEL": _CONTAINERS,
    "SELECT": _CONTAINERS | {"TABLE", "VIEW", "MATERIALIZED VIEW"},
    "MODIFY": _CONTAINERS | {"TABLE"},
    "REFRESH": _CONTAINERS | {"MATERIALIZED VIEW"},
    "EXECUTE": _CONTAINERS | {"FUNCTION"},
    "READ VOLUME": _CONTAINERS | {"VOLUME"},
    "WRITE VOLUME": _CONTAINERS | {"VOLUME"},
}
#: Name depth of each securable type (catalog.schema.object).
_DEPTH = {"CATALOG": 1, "SCHEMA": 2}
_NAME = r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*"
_GRANT = re.compile(
    rf"^GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<type>CATALOG|SCHEMA|TABLE|MATERIALIZED\s+VIEW|VIEW|VOLUME|FUNCTION)"
    rf"\s+(?P<name>{_NAME})\s+TO\s+(?P<principal>`[^`]+`|[\w.@-]+)$",
    re.IGNORECASE | re.DOTALL,
)
_CREATE_CATALOG = re.compile(
    r"^CREATE\s+CATALOG\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[A-Za-z_]\w*)"
    r"(?:\s+MANAGED\s+LOCATION\s+'[^']*')?(?:\s+COMMENT\s+'(?:[^'\\]|\\.)*')?$",
    re.IGNORECASE | re.DOTALL,
)
_CREATE_VOLUME = re.compile(
    rf"^CREATE\s+(?:EXTERNAL\s+)?VOLUME\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})"
    r"(?:\s+LOCATION\s+'[^']*')?(?:\s+COMMENT\s+'(?:[^'\\]|\\.)*')?$",
    re.IGNORECASE | re.DOTALL,
)
_SET_MASK = re.compile(
    rf"^ALTER\s+TABLE\s+(?P<table>{_NAME})\s+ALTER\s+COLUMN\s+`?(?P<column>\w+)`?\s+SET\s+MASK\s+(?P<function>{_NAME})"
    r"(?:\s+USING\s+COLUMNS\s*\([^)]*\))?$",
    re.IGNORECASE | re.DOTALL,
)
_GROUP_MEMBER = re.compile(r"is_account_group_member\(\s*'([^']+)'\s*\)", re.IGNORECASE)


@dataclass
class SqlReport:
    path: Path
    statements: int = 0
    commands: list[str] = field(default_factory=list)  # kept as generic commands
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    kinds: dict[str, int] = field(default_factory=dict)
    grants: int = 0  # GRANT statements checked against the grammar
    #: securable type -> names created in the file (``TABLE`` -> its declared columns in ``columns``)
    declared: dict[str, set[str]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)


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


def split_statements(sql: str) -> list[tuple[int, str]]:
    """``(first line, text)`` of each statement: ``;`` outside quotes, backticks and ``--`` comments."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start_line: int | None = None
    line = 1
    i, n = 0, len(sql)
    quote: str | None = None
    while i < n:
        ch = sql[i]
        if quote is None and ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "\n":
            line += 1
        if quote is not None:
            buf.append(ch)
            if ch == "\\" and quote == "'" and i + 1 < n:
                buf.append(sql[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch == ";":
            text = "".join(buf).strip()
            if text:
                out.append((start_line or line, text))
            buf, start_line = [], None
            i += 1
            continue
        if ch in ("'", "`", '"'):
            quote = ch
        if start_line is None and not ch.isspace():
            start_line = line
        buf.append(ch)
        i += 1
    text = "".join(buf).strip()
    if text:
        out.append((start_line or line, text))
    return out


def declared_groups(sql: str) -> set[str]:
    """The groups listed under the file's ``-- Groups`` header comment (``--   name   description``)."""
    groups: set[str] = set()
    in_block = False
    for raw in sql.splitlines():
        if not raw.startswith("--"):
            if in_block:
                break
            continue
        body = raw[2:]
        if body.strip().lower().startswith("groups"):
            in_block = True
            continue
        if in_block:
            match = re.match(r"^\s{2,}([A-Za-z0-9][\w.@-]*)\s{2,}\S", body)
            if match is None:
                break
            groups.add(match.group(1))
    return groups


def _suggest(value: str, choices: set[str] | list[str]) -> str:
    close = difflib.get_close_matches(value, sorted(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _norm(text: str) -> str:
    return " ".join(text.split())


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
    parsed = [stmt for stmt in statements if stmt is not None]
    raw_statements = split_statements(sql)
    exact = len(raw_statements) == len(parsed)  # else fall back to locating statements by their words
    cursor = _Cursor(sql)
    groups = declared_groups(sql)
    for index, stmt in enumerate(parsed):
        report.statements += 1
        kind = type(stmt).__name__
        if isinstance(stmt, exp.Command):
            raw = f"{stmt.this} {stmt.expression}" if stmt.expression is not None else str(stmt.this)
        else:
            raw = stmt.sql(dialect="databricks")
        line = raw_statements[index][0] if exact else cursor.line_of(raw)
        text = raw_statements[index][1] if exact else raw
        if isinstance(stmt, exp.Create):
            kind = f"CREATE {stmt.args.get('kind', '')}".strip()
            if not (stmt.args.get("exists") or stmt.args.get("replace")):
                report.errors.append((line, f"{kind} is not idempotent: add IF NOT EXISTS or OR REPLACE"))
            _declare(report, stmt)
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
        if exact:
            for message in _check_uc_statement(report, text, groups):
                report.errors.append((line, message))
        report.kinds[kind] = report.kinds.get(kind, 0) + 1
    if report.statements == 0:
        report.errors.append((0, "no SQL statements"))
    return report


def _declare(report: SqlReport, stmt: exp.Create) -> None:
    """Remember what a parsed CREATE made (tables with their columns)."""
    kind = str(stmt.args.get("kind", "")).upper()
    target = stmt.this
    if isinstance(target, exp.Schema):  # CREATE TABLE t (columns)
        name = target.this.sql(dialect="databricks") if target.this is not None else ""
        report.columns[name] = [c.name for c in target.expressions if isinstance(c, exp.ColumnDef)]
    elif isinstance(target, exp.UserDefinedFunction):
        name = target.this.sql(dialect="databricks") if isinstance(target.this, exp.Expression) else str(target.this)
    else:
        name = target.sql(dialect="databricks") if target is not None else ""
    report.declared.setdefault(kind, set()).add(name.replace("`", ""))


def _check_uc_statement(report: SqlReport, text: str, groups: set[str]) -> list[str]:
    """Grammar and reference checks of the Unity Catalog statements sqlglot cannot model."""
    head = _norm(text).upper()
    errors: list[str] = []
    if head.startswith("GRANT "):
        report.grants += 1
        errors += _check_grant(report, _norm(text), groups)
    elif head.startswith("CREATE CATALOG "):
        match = _CREATE_CATALOG.match(text.strip())
        if match is None:
            errors.append(
                "CREATE CATALOG does not follow CREATE CATALOG IF NOT EXISTS <name> "
                "[MANAGED LOCATION '<url>'] [COMMENT '<text>']"
            )
        else:
            report.declared.setdefault("CATALOG", set()).add(match.group("name"))
    elif head.startswith(("CREATE VOLUME ", "CREATE EXTERNAL VOLUME ")):
        match = _CREATE_VOLUME.match(text.strip())
        if match is None:
            errors.append(
                "CREATE VOLUME does not follow CREATE VOLUME IF NOT EXISTS <catalog.schema.volume> [COMMENT '<text>']"
            )
        else:
            name = match.group("name")
            schema = name.rsplit(".", 1)[0]
            if name.count(".") != 2:
                errors.append(f"volume {name!r} needs a three-part name <catalog>.<schema>.<volume>")
            elif schema not in report.declared.get("SCHEMA", set()):
                errors.append(f"volume {name!r} is in schema {schema!r}, which this file does not create")
            report.declared.setdefault("VOLUME", set()).add(name)
    elif head.startswith("ALTER TABLE ") and " SET MASK " in head:
        match = _SET_MASK.match(_norm(text))
        if match is None:
            errors.append("SET MASK does not follow ALTER TABLE <table> ALTER COLUMN <column> SET MASK <function>")
        else:
            table, column, function = match.group("table", "column", "function")
            if table not in report.columns:
                hint = _suggest(table, list(report.columns))
                errors.append(f"SET MASK on table {table!r}, which this file does not create{hint}")
            elif column not in report.columns[table]:
                hint = _suggest(column, report.columns[table])
                errors.append(f"SET MASK on column {column!r}, which {table} does not declare{hint}")
            functions = report.declared.get("FUNCTION", set())
            if function not in functions:
                errors.append(f"mask function {function!r} is not created in this file{_suggest(function, functions)}")
    if groups:
        for group in _GROUP_MEMBER.findall(text):
            if group not in groups:
                errors.append(f"is_account_group_member({group!r}): not a declared group{_suggest(group, groups)}")
    return errors


def _check_grant(report: SqlReport, text: str, groups: set[str]) -> list[str]:
    match = _GRANT.match(text)
    if match is None:
        return ["GRANT does not follow GRANT <privilege>[, ...] ON <securable type> <name> TO `<principal>`"]
    errors: list[str] = []
    securable = _norm(match.group("type")).upper()
    name = match.group("name")
    for privilege in (_norm(p).upper() for p in match.group("privileges").split(",")):
        if privilege not in PRIVILEGES:
            errors.append(f"unknown privilege {privilege!r}{_suggest(privilege, list(PRIVILEGES))}")
        elif securable not in PRIVILEGES[privilege]:
            allowed = ", ".join(sorted(PRIVILEGES[privilege]))
            errors.append(f"{privilege} cannot be granted on a {securable} (only on {allowed})")
    depth = _DEPTH.get(securable, 3)
    declared = report.declared.get("VIEW" if securable == "MATERIALIZED VIEW" else securable, set())
    if name.count(".") + 1 != depth:
        errors.append(f"{securable} name {name!r} should have {depth} part(s)")
    elif name not in declared:
        errors.append(
            f"GRANT on {securable} {name!r}, which this file does not create before it{_suggest(name, declared)}"
        )
    principal = match.group("principal").strip("`")
    if groups and principal not in groups:
        errors.append(
            f"principal `{principal}` is not one of the groups declared at the top{_suggest(principal, groups)}"
        )
    return errors
