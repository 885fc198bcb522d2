"""The table DDL of ``setup_uc_infrastructure.sql``, generated from the table catalogue.

Every table of ``project_config.yml``'s ``tables`` gets a Unity Catalog comment, where its kind
(:class:`~financial_transactions.lakehouse.catalog.TableKind`) says:

* job-owned tables are created up front here (``CREATE TABLE IF NOT EXISTS``) with the
  catalogue's columns, comment, column comments and table properties. The jobs append to them
  with schema merge on, so a declaration never blocks a write; tests keep the catalogue equal
  to what the real writers write;
* pipeline datasets get their comments from ``comment=`` in ``scripts/financial/dlt_pipeline.py``:
  a table created here first would stop the pipeline from publishing them;
* feature tables are created by Databricks Feature Engineering (``FeatureStoreManager``) with
  their primary and timestamp keys; created here first, they would lack the keys;
* local-only tables are written by the embedded runner only.

Each catalog's block sits between ``-- BEGIN generated tables (<catalog>)`` and ``-- END
generated tables (<catalog>)``; everything else in the file (catalogs, volumes, grants, masks,
views) is written by hand. ``python -m financial_transactions.deploy.uc_tables --write``
regenerates the blocks; ``--check`` exits 1 when the file is stale (``tests/deploy/test_uc_sql.py``
fails on the same condition).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from financial_transactions.config import ProjectConfig
from financial_transactions.deploy.generated import write_or_check
from financial_transactions.lakehouse.catalog import TableKind, TableSpec, specs_of

SQL_PATH = Path("setup_uc_infrastructure.sql")
ENVS = ("dev", "acc", "prd")
BEGIN = "-- BEGIN generated tables ({catalog})"
END = "-- END generated tables ({catalog})"


def sql_type(arrow_type: pa.DataType) -> str:
    """The Databricks SQL type Delta stores for an Arrow column of this type."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP" if arrow_type.tz is not None else "TIMESTAMP_NTZ"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"ARRAY<{sql_type(arrow_type.value_type)}>"
    simple = {
        pa.int64(): "BIGINT",
        pa.int32(): "INT",
        pa.int16(): "SMALLINT",
        pa.int8(): "TINYINT",
        pa.float64(): "DOUBLE",
        pa.float32(): "FLOAT",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
        pa.binary(): "BINARY",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    raise ValueError(f"no Databricks SQL type for Arrow type {arrow_type}")


def columns_of(schema: pa.Schema) -> list[tuple[str, str]]:
    """``(name, SQL type)`` of every column, in order."""
    return [(f.name, sql_type(f.type)) for f in schema]


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_table_sql(fqn: str, table: TableSpec, schema: pa.Schema) -> str:
    """One idempotent ``CREATE TABLE`` with the spec's comment, column comments and properties."""
    notes = table.column_comments
    lines = []
    for f in schema:
        not_null = "" if f.nullable else " NOT NULL"
        comment = f" COMMENT {_quote(notes[f.name])}" if f.name in notes else ""
        lines.append(f"  `{f.name}` {sql_type(f.type)}{not_null}{comment}")
    out = f"CREATE TABLE IF NOT EXISTS {fqn} (\n" + ",\n".join(lines) + "\n) USING DELTA\n"
    out += f"  COMMENT {_quote(table.comment)}"
    if table.properties:
        props = ", ".join(f"{_quote(k)} = {_quote(v)}" for k, v in table.properties.items())
        out += f"\n  TBLPROPERTIES ({props})"
    return out + ";"


def _keys(kind: TableKind) -> str:
    return ", ".join(s.key for s in specs_of(kind))


def table_block(cfg: ProjectConfig) -> str:
    """The generated block of one catalog: what it declares and why, then one ``CREATE TABLE`` per job table."""
    catalog = cfg.catalog
    head = f"""{BEGIN.format(catalog=catalog)}: `python -m financial_transactions.deploy.uc_tables --write` from
-- the table catalogue (src/financial_transactions/lakehouse/catalog.py); do not edit by hand.
-- Tables ({catalog}). Every table in project_config.yml `tables` gets a comment:
--   * the tables below are created up front with the columns their writers produce and a comment; the
--     jobs append to them with schema merge, so this never blocks a write (tests keep the catalogue equal
--     to what the real writers write);
--   * {_keys(TableKind.PIPELINE)} belong to the
--     Lakeflow pipeline, which sets their comments (comment= in scripts/financial/dlt_pipeline.py); a table
--     created here would stop the pipeline from publishing them;
--   * {_keys(TableKind.FEATURE)} are created by Databricks Feature Engineering (FeatureStoreManager)
--     with their primary/timestamp keys and a description; created here, they would lack the keys;
--   * {_keys(TableKind.LOCAL)} is written by the embedded runner only (on Databricks: the pipeline's event log).
"""
    tables = [
        create_table_sql(f"{catalog}.{cfg.schema_name}.{getattr(cfg.tables, s.key)}", s, s.schema_for(cfg))
        for s in specs_of(TableKind.JOB)
    ]
    return head + "\n\n".join(tables) + "\n" + END.format(catalog=catalog)


def sync_sql(text: str, configs: Sequence[ProjectConfig]) -> str:
    """``text`` with each catalog's generated block replaced by what the catalogue gives now."""
    for cfg in configs:
        begin, end = BEGIN.format(catalog=cfg.catalog), END.format(catalog=cfg.catalog)
        spans = list(re.finditer(re.escape(begin) + r".*?" + re.escape(end), text, re.DOTALL))
        if len(spans) != 1:
            raise ValueError(f"{SQL_PATH}: expected one '{begin}' ... '{end}' block, found {len(spans)}")
        text = text[: spans[0].start()] + table_block(cfg) + text[spans[0].end() :]
    return text


def env_configs(config_path: Path | str = "project_config.yml") -> list[ProjectConfig]:
    return [ProjectConfig.from_yaml(config_path, env) for env in ENVS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the table DDL of setup_uc_infrastructure.sql")
    parser.add_argument("--config", default="project_config.yml")
    parser.add_argument("--sql", default=str(SQL_PATH))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the generated blocks of the SQL file")
    mode.add_argument("--check", action="store_true", help="exit 1 when the SQL file's blocks are stale")
    args = parser.parse_args(argv)
    configs = env_configs(args.config)
    if not (args.write or args.check):
        for cfg in configs:
            print(table_block(cfg) + "\n")
        return 0
    path = Path(args.sql)
    wanted = sync_sql(path.read_text(encoding="utf-8"), configs)
    return write_or_check(path, wanted, check=args.check, module="financial_transactions.deploy.uc_tables")


if __name__ == "__main__":
    raise SystemExit(main())
