"""Generate ``docs/TABLES.md`` (who writes and who reads each table, and its columns) from the table catalogue.

Like ``docs/CONFIGURATION.md``, the document is derived from the code rather than written by
hand: ``tests/lakehouse/test_tables_doc.py`` fails when the committed file differs from what
this module generates. Regenerate with ``python -m financial_transactions.deploy.tables_doc --write``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from financial_transactions.config import ProjectConfig
from financial_transactions.deploy.generated import write_or_check
from financial_transactions.deploy.uc_tables import sql_type
from financial_transactions.lakehouse.catalog import CATALOG, KIND_TEXT, TableSpec

DOC_PATH = Path("docs") / "TABLES.md"
_PACKAGE = "financial_transactions."

HEADER = """# Tables

<!-- Generated from the table catalogue (src/financial_transactions/lakehouse/catalog.py) by
     `python -m financial_transactions.deploy.tables_doc --write`; do not edit by hand.
     tests/lakehouse/test_tables_doc.py fails when this file is stale. -->

Every table of `project_config.yml`'s `tables`, named `<catalog>.<schema>.<table>`
(in `{env}`: `{example}`). Each has one spec in the table catalogue: its columns, the columns that
identify a row, its kind, the code that writes it and the code that reads it, its Unity Catalog
comment and properties.
The writers take their schema from the catalogue, the table DDL of `setup_uc_infrastructure.sql` is
generated from it, and tests keep each spec equal to what its real writer writes.

Kinds:

- **pipeline-published**: datasets of the declarative pipeline (the embedded runner locally, the Lakeflow
  pipeline `scripts/financial/dlt_pipeline.py` on Databricks), which creates them and sets their comments;
- **job-owned**: appended to or merged into by a job; `setup_uc_infrastructure.sql` creates them up front
  with these columns, comment and properties;
- **feature table**: created by Databricks Feature Engineering (`FeatureStoreManager`) with their primary
  and timestamp keys;
- **local-only**: written by the embedded runner only (on Databricks, the pipeline's event log).

Module paths below are relative to `financial_transactions`.
"""


def _short(dotted: str) -> str:
    return dotted.removeprefix(_PACKAGE)


def _key_text(table: TableSpec) -> str:
    if not table.merge_keys:
        return "none (append-only)"
    return " + ".join(f"`{k}`" for k in table.merge_keys)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _who_table() -> str:
    rows = ["| table | kind | written by | key | read by |", "|---|---|---|---|---|"]
    for t in CATALOG.values():
        readers = ", ".join(f"`{_short(r)}`" for r in t.readers) or "none"
        rows.append(f"| `{t.key}` | {KIND_TEXT[t.kind]} | `{_short(t.owner)}` | {_key_text(t)} | {readers} |")
    return "\n".join(rows)


def _columns(table: TableSpec, cfg: ProjectConfig) -> str:
    fixed = set(table.schema.names)
    rows = ["| column | type | note |", "|---|---|---|"]
    for f in table.schema_for(cfg):
        notes = []
        if f.name in table.merge_keys:
            notes.append("key")
        if not f.nullable:
            notes.append("NOT NULL")
        if f.name not in fixed:
            notes.append("from the configuration")
        if f.name in table.column_comments:
            notes.append(table.column_comments[f.name])
        rows.append(f"| `{f.name}` | {sql_type(f.type)} | {_cell('; '.join(notes))} |")
    return "\n".join(rows)


def _section(table: TableSpec, cfg: ProjectConfig) -> str:
    lines = [f"### `{table.key}`", "", _cell(table.comment), ""]
    lines.append(f"- kind: {KIND_TEXT[table.kind]}; written by `{_short(table.owner)}`; key: {_key_text(table)}")
    if table.properties:
        props = ", ".join(f"`{k}` = `{v}`" for k, v in table.properties.items())
        lines.append(f"- table properties: {props}")
    if table.follows_config:
        lines.append(f"- columns follow the configuration: the fixed columns, {table.config_rule}")
        lines.append(f"  (shown: `project_config.yml`, env `{cfg.env}`)")
    return "\n".join([*lines, "", _columns(table, cfg)])


def generate(config_path: Path | str = "project_config.yml", env: str = "dev") -> str:
    """The whole document for ``config_path``'s ``env`` (the names and config-following columns shown)."""
    cfg = ProjectConfig.from_yaml(config_path, env)
    header = HEADER.format(example=f"{cfg.catalog}.{cfg.schema_name}.<table>", env=env)
    parts = [header, "## Who writes, who reads", "", _who_table(), "", "## Columns"]
    for table in CATALOG.values():
        parts += ["", _section(table, cfg)]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/TABLES.md from the table catalogue")
    parser.add_argument("--config", default="project_config.yml")
    parser.add_argument("--out", default=str(DOC_PATH))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the document")
    mode.add_argument("--check", action="store_true", help="exit 1 when the committed document is stale")
    args = parser.parse_args(argv)
    text = generate(args.config)
    path = Path(args.out)
    if args.check or args.write:
        return write_or_check(path, text, check=args.check, module="financial_transactions.deploy.tables_doc")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
