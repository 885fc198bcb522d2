"""``fin-mlops tables show|history``: the RUNBOOK's local SELECT and DESCRIBE HISTORY, on a real Delta lakehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from financial_transactions.cli import app
from financial_transactions.runtime import Platform


def _cli(project_root: Path, platform: Platform, *args: str) -> Result:
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    return CliRunner().invoke(app, [*base, *args], terminal_width=200)


@pytest.fixture
def audit(platform: Platform) -> str:
    """A three-row ``rollback_audit``-like table in two commits, then RESTOREd to the first."""
    fqn = platform.config.table("rollback_audit")
    rows = pd.DataFrame(
        {
            "rollback_id": ["a", "b", "c"],
            "status": ["done", "failed", "done"],
            "to_version": [1, 2, 3],
            "rolled_back_at": pd.to_datetime(["2026-03-02", "2026-03-04", "2026-03-03"], utc=True),
            "aliases_after": ['{"champion": 1}', None, '{"champion": 3}'],
        }
    )
    platform.store.overwrite(fqn, rows.iloc[:2])
    platform.store.overwrite(fqn, rows)
    platform.store.restore(fqn, 0)
    platform.store.overwrite(fqn, rows)
    return fqn


def test_show_filters_sorts_newest_first_and_limits_like_sql(
    project_root: Path, platform: Platform, audit: str
) -> None:
    result = _cli(
        project_root, platform, "tables", "show", "rollback_audit", "--columns", "rollback_id,to_version,aliases_after",
        "--where", "status=done", "--sort", "rolled_back_at", "--limit", "5", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "rows": [
            {"rollback_id": "c", "to_version": 3, "aliases_after": '{"champion": 3}'},
            {"rollback_id": "a", "to_version": 1, "aliases_after": '{"champion": 1}'},
        ]
    }
    text = _cli(project_root, platform, "tables", "show", audit, "--sort", "to_version", "--limit", "1").stdout
    assert "1 of 3 row(s)" in text and "rolled_back_at" in text
    old = _cli(project_root, platform, "tables", "show", "rollback_audit", "--version", "0", "--json")
    assert [r["rollback_id"] for r in json.loads(old.stdout)["rows"]] == ["a", "b"]


def test_show_of_a_table_nothing_wrote_yet_says_so_and_has_no_rows(project_root: Path, platform: Platform) -> None:
    result = _cli(project_root, platform, "tables", "show", "silver_trades_quarantine")
    assert result.exit_code == 0, result.output
    assert result.stdout == "mlops_dev.financial_transactions.silver_trades_quarantine does not exist yet: no rows\n"
    as_json = _cli(project_root, platform, "tables", "show", "silver_trades_quarantine", "--json")
    assert json.loads(as_json.stdout) == {"rows": []}


def test_history_lists_commits_newest_first_with_the_restore(
    project_root: Path, platform: Platform, audit: str
) -> None:
    result = _cli(project_root, platform, "tables", "history", "rollback_audit", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["history"]
    assert [(r["version"], r["operation"]) for r in rows] == [(3, "WRITE"), (2, "RESTORE"), (1, "WRITE")]
    assert json.loads(rows[1]["parameters"])["version"] == "0"  # Delta keeps operation parameters as text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "nope"], "tables: no table 'nope' in "),
        (["history", "trade_features"], "tables: mlops_dev.financial_transactions.trade_features does not exist yet"),
        (["show", "rollback_audit", "--columns", "status,nope"], "has no column 'nope' (columns: rollback_id, status"),
        (["show", "rollback_audit", "--where", "status"], "tables: --where 'status': expected COLUMN=VALUE"),
    ],
)
def test_a_wrong_table_column_or_filter_is_one_line_exit_2(
    project_root: Path, platform: Platform, audit: str, args: list[str], message: str
) -> None:
    result = _cli(project_root, platform, "tables", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
