"""``setup_uc_infrastructure.sql``: every table commented, declared columns equal to what the code writes,
and the Unity Catalog statements sqlglot cannot model (GRANT, volumes, masks) checked by grammar."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from financial_transactions.config import ProjectConfig
from financial_transactions.config.project import TablesConfig
from financial_transactions.deploy import uc_tables
from financial_transactions.deploy.sql_check import check_sql
from financial_transactions.deploy.uc_tables import columns_of, env_configs, sync_sql
from financial_transactions.lakehouse.catalog import CATALOG, TableKind, specs_of
from tests.support.writer_schemas import writer_schemas

from .bundle_fixture import PROJECT_ROOT, edit, line_of

SQL = PROJECT_ROOT / "setup_uc_infrastructure.sql"
ENVS = ("dev", "acc", "prd")


def declared_tables() -> dict[str, list[tuple[str, str]]]:
    """fqn -> [(column, type)] of every CREATE TABLE in the file."""
    out = {}
    for stmt in sqlglot.parse(SQL.read_text(encoding="utf-8"), read="databricks"):
        if isinstance(stmt, exp.Create) and isinstance(stmt.this, exp.Schema):
            name = stmt.this.this.sql(dialect="databricks")
            cols = [(c.name, c.args["kind"].sql(dialect="databricks")) for c in stmt.this.expressions]
            out[name] = cols
    return out


def _config(env: str) -> ProjectConfig:
    return ProjectConfig.from_yaml(PROJECT_ROOT / "project_config.yml", env)


def test_every_table_is_commented_one_way() -> None:
    assert set(CATALOG) == set(TablesConfig.model_fields)  # a new table must be placed
    job = [s.key for s in specs_of(TableKind.JOB)]
    declared = declared_tables()
    for env in ENVS:
        cfg = _config(env)
        mine = {fqn for fqn in declared if fqn.startswith(f"{cfg.catalog}.{cfg.schema_name}.")}
        assert mine == {cfg.table(key) for key in job}, env
    text = SQL.read_text(encoding="utf-8")
    for key in job:
        escaped = CATALOG[key].comment.replace("'", "\\'")
        assert text.count(f"  COMMENT '{escaped}'") == len(ENVS), key
    # the pipeline's datasets carry their comments in the pipeline source: the catalogue's, word for word
    tree = ast.parse((PROJECT_ROOT / "scripts" / "financial" / "dlt_pipeline.py").read_text(encoding="utf-8"))
    decorated = [
        d
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for d in node.decorator_list
        if isinstance(d, ast.Call) and getattr(d.func, "attr", "") in ("table", "materialized_view")
    ]
    comments = {
        ast.unparse(k.value): ast.literal_eval(c.value)
        for d in decorated
        for k in d.keywords
        if k.arg == "name"
        for c in d.keywords
        if c.arg == "comment"
    }
    key_of = {  # BRONZE = settings.table_name("bronze_trades"), ...
        node.targets[0].id: node.value.args[0].value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "attr", "") in ("table_name", "published_name")  # gold: the MV jobs snapshot
        and isinstance(node.value.args[0], ast.Constant)
    }
    assert {key_of[name]: comment for name, comment in comments.items()} == {
        s.key: s.comment for s in specs_of(TableKind.PIPELINE)
    }


def test_checked_in_sql_is_what_the_catalogue_generates() -> None:
    text = SQL.read_text(encoding="utf-8")
    assert sync_sql(text, env_configs(PROJECT_ROOT / "project_config.yml")) == text, (
        "setup_uc_infrastructure.sql is stale: run `python -m financial_transactions.deploy.uc_tables --write`"
    )
    assert uc_tables.main(["--config", str(PROJECT_ROOT / "project_config.yml"), "--sql", str(SQL), "--check"]) == 0


def test_a_hand_edited_table_block_is_reported_stale_and_rewritten(sql_copy: Path) -> None:
    config = str(PROJECT_ROOT / "project_config.yml")
    edit(sql_copy, "  `alert_id` STRING,\n  `sent_at` TIMESTAMP,", "  `alert_id` STRING,")  # first (mlops_dev) block
    assert uc_tables.main(["--config", config, "--sql", str(sql_copy), "--check"]) == 1
    assert uc_tables.main(["--config", config, "--sql", str(sql_copy), "--write"]) == 0
    assert sql_copy.read_text(encoding="utf-8") == SQL.read_text(encoding="utf-8")
    edit(sql_copy, "-- END generated tables (mlops_acc)", "-- end of the acc tables")
    with pytest.raises(ValueError, match=r"expected one '-- BEGIN generated tables \(mlops_acc\)'.*found 0"):
        sync_sql(sql_copy.read_text(encoding="utf-8"), env_configs(config))


def test_declared_columns_are_the_catalogue_schemas() -> None:
    declared = declared_tables()
    for env in ENVS:
        cfg = _config(env)
        for table in specs_of(TableKind.JOB):
            got = declared[cfg.table(table.key)]
            assert got == columns_of(table.schema_for(cfg)), f"{cfg.table(table.key)}: update the SQL (see its header)"


@pytest.fixture(scope="module")
def written() -> dict[str, pa.Schema]:
    """The Delta schemas the real writers give predictions, backtests and the decision matrix."""
    schemas = writer_schemas()  # one run of the real writers per test process, shared with tests/reporting
    return {key: schemas[key] for key in ("synthesized_predictions", "backtest_results", "decision_matrix")}


def test_declared_columns_are_what_the_writers_write(written: dict[str, pa.Schema]) -> None:
    declared = declared_tables()
    for env in ENVS:
        cfg = _config(env)
        for key, schema in written.items():
            assert declared[cfg.table(key)] == columns_of(schema), f"{cfg.table(key)}: update the SQL (see its header)"


def test_sql_declares_the_volumes_the_platform_uses_and_checks_every_grant() -> None:
    report = check_sql(SQL)
    assert report.errors == []
    readable = [s.key for s in specs_of(TableKind.JOB) if s.key != "synthesized_predictions"]
    # per env: 14 on catalog, schema, volumes and the auditors' view / engineers' base table; the masked view to
    # analysts and on-call (2); their SELECT on every job table but the one whose score is masked
    assert report.grants == (14 + 2 + 2 * len(readable)) * len(ENVS)
    text = SQL.read_text(encoding="utf-8")
    for env in ENVS:
        cfg = _config(env)
        for key in readable:  # a new job table needs its two grants: no schema-wide SELECT reaches it
            for group in ("financial-mlops-analysts", "financial-mlops-oncall"):
                assert f"GRANT SELECT ON TABLE {cfg.table(key)} TO `{group}`;" in text, (key, group)
    for env in ENVS:
        cfg = _config(env)
        prefix = f"{cfg.catalog}.{cfg.schema_name}"
        for volume in ("landing", "checkpoints", "exports", "reports", "state", "wheels"):
            assert f"{prefix}.{volume}" in report.declared["VOLUME"], (env, volume)
        assert cfg.catalog in report.declared["CATALOG"] and prefix in report.declared["SCHEMA"]


@pytest.fixture
def sql_copy(tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "setup_uc_infrastructure.sql"
    shutil.copyfile(SQL, copy)
    yield copy


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "GRANT SELECT ON TABLE mlops_acc.financial_transactions.drift_monitoring TO `financial-mlops-analysts`;",
            "GRANT SELCT ON TABLE mlops_acc.financial_transactions.drift_monitoring TO `financial-mlops-analysts`;",
            "unknown privilege 'SELCT'; did you mean 'SELECT'?",
        ),
        (
            "GRANT READ VOLUME ON VOLUME mlops_dev.financial_transactions.exports TO `financial-mlops-analysts`;",
            "GRANT READ VOLUME ON VOLUME mlops_dev.financial_transactions.exports TO `financial-mlops-analyst`;",
            "principal `financial-mlops-analyst` is not one of the groups declared at the top; "
            "did you mean 'financial-mlops-analysts'?",
        ),
        (
            "GRANT SELECT ON TABLE mlops_prd.financial_transactions.synthesized_predictions TO",
            "GRANT READ VOLUME ON TABLE mlops_prd.financial_transactions.synthesized_predictions TO",
            "READ VOLUME cannot be granted on a TABLE (only on CATALOG, SCHEMA, VOLUME)",
        ),
        (
            "GRANT SELECT ON TABLE mlops_dev.financial_transactions.synthesized_predictions TO",
            "GRANT SELECT ON TABLE mlops_dev.financial_transactions.synthesized_prediction TO",
            "GRANT on TABLE 'mlops_dev.financial_transactions.synthesized_prediction', which this file does not "
            "create before it; did you mean 'mlops_dev.financial_transactions.synthesized_predictions'?",
        ),
        (
            "GRANT USE CATALOG ON CATALOG mlops_acc TO `financial-mlops-oncall`;",
            "GRANT USE CATALOG ON CATALOG mlops_acc `financial-mlops-oncall`;",
            "GRANT does not follow GRANT <privilege>[, ...] ON <securable type> <name> TO `<principal>`",
        ),
        (
            "GRANT SELECT ON VIEW mlops_acc.financial_transactions.synthesized_predictions_v TO",
            "GRANT SELECT ON VIEW mlops_acc.financial_transactions.synthesized_prediction_v TO",
            "GRANT on VIEW 'mlops_acc.financial_transactions.synthesized_prediction_v', which this file does not "
            "create before it; did you mean 'mlops_acc.financial_transactions.synthesized_predictions_v'?",
        ),
        (
            "CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transactions.state",
            "CREATE VOLUME IF NOT EXISTS mlops_prd.financial_transaction.state",
            "volume 'mlops_prd.financial_transaction.state' is in schema 'mlops_prd.financial_transaction', "
            "which this file does not create",
        ),
        (
            "WHEN is_account_group_member('financial-mlops-engineers')",  # the first (mlops_dev) masking function
            "WHEN is_account_group_member('financial-mlops-engineer')",
            "is_account_group_member('financial-mlops-engineer'): not a declared group; "
            "did you mean 'financial-mlops-engineers'?",
        ),
    ],
)
def test_a_uc_statement_typo_gives_one_error_on_its_line(sql_copy: Path, old: str, new: str, message: str) -> None:
    edit(sql_copy, old, new)
    report = check_sql(sql_copy)
    lines = sql_copy.read_text(encoding="utf-8").splitlines()
    line = line_of(sql_copy, new)
    while not lines[line - 1].startswith(("GRANT", "CREATE", "ALTER")):  # reported on the statement's first line
        line -= 1
    assert report.errors == [(line, message)]
