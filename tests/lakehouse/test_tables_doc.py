"""docs/TABLES.md is generated from the table catalogue and must match it."""

from __future__ import annotations

from pathlib import Path

from financial_transactions.deploy.tables_doc import generate, main
from financial_transactions.lakehouse.catalog import CATALOG, KIND_TEXT

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG = PROJECT_ROOT / "project_config.yml"


def test_committed_doc_matches_the_catalogue() -> None:
    committed = (PROJECT_ROOT / "docs" / "TABLES.md").read_text(encoding="utf-8")
    assert committed == generate(CONFIG), (
        "docs/TABLES.md is stale: run `.venv/bin/python -m financial_transactions.deploy.tables_doc --write`"
    )


def test_every_table_has_a_row_and_a_section_with_its_columns() -> None:
    text = generate(CONFIG)
    for key, table in CATALOG.items():
        assert (
            f"| `{key}` | {KIND_TEXT[table.kind]} | `{table.owner.removeprefix('financial_transactions.')}` |" in text
        )
        section = text.split(f"### `{key}`\n", 1)[1].split("\n### ", 1)[0]
        assert table.comment in section
        for name in table.schema.names:
            assert f"| `{name}` |" in section, (key, name)
    assert "| `retraining_audit` | job-owned | `monitoring.retraining_trigger.RetrainingTrigger` | `event_id` |" in text
    assert "| `bronze_trades` | pipeline-published | `pipeline` | none (append-only) |" in text
    assert "- table properties: `delta.enableChangeDataFeed` = `true`" in text
    assert "| `score` | DOUBLE | Anomaly score in [0, 1] (masked outside engineers/service). |" in text
    assert "| `_source_file` | STRING | NOT NULL |" in text
    # config-following columns are marked, with the configured windows of project_config.yml
    assert "| `sma_10_dev` | DOUBLE | from the configuration |" in text
    assert "| `trend_score` | BIGINT | from the configuration |" in text


def test_check_mode_fails_on_a_stale_doc_and_write_fixes_it(tmp_path: Path) -> None:
    out = tmp_path / "TABLES.md"
    out.write_text(generate(CONFIG).replace("| `event_id` |", "| `event_key` |", 1), encoding="utf-8")
    assert main(["--config", str(CONFIG), "--out", str(out), "--check"]) == 1
    assert main(["--config", str(CONFIG), "--out", str(out), "--write"]) == 0
    assert main(["--config", str(CONFIG), "--out", str(out), "--check"]) == 0
    assert out.read_text(encoding="utf-8") == generate(CONFIG)
