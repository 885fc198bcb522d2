"""Unit tests of the pieces behind bundle-check: Quartz cron, \\p{..} rewriting, YAML loading, SQL, SOPS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from financial_transactions.deploy.cron import CronError, validate_quartz
from financial_transactions.deploy.loader import BundleLoadError, load_bundle, load_yaml
from financial_transactions.deploy.schema import translate_pattern
from financial_transactions.deploy.sops import check_sops
from financial_transactions.deploy.sql_check import check_sql

from .bundle_fixture import PROJECT_ROOT

VAR_PATTERN = r"\$\{(var(\.\p{L}+([-_]*[\p{L}\p{N}]+)*(\[[0-9]+\])*)+)\}"


@pytest.mark.parametrize(
    "expr",
    ["0 0 0 * * ?", "0 */30 * * * ?", "0 15 10 ? * MON-FRI", "0 0 12 L * ?", "0 0 8 ? * 6#3", "0 0 0 1 JAN ? 2030",
     "0 0/5 14,18 * * ?", "0 0 9 15W * ?", "0 0 0 ? * 2L"],
)  # fmt: skip
def test_valid_quartz(expr: str) -> None:
    validate_quartz(expr)


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("0 0 * * *", "has 5 fields (Unix cron)"),
        ("0 0 0 * * * *  *", "has 8 fields"),
        ("0 0 24 * * ?", "hours value 24 is outside 0-23"),
        ("60 0 0 * * ?", "seconds value 60 is outside 0-59"),
        ("0 0 0 * * *", "exactly one of day-of-month ('*') and day-of-week ('*') must be '?'"),
        ("0 0 0 ? * ?", "exactly one of day-of-month ('?') and day-of-week ('?') must be '?'"),
        ("0 0 0 * FOO ?", "month value 'FOO' is not a number or a name"),
        ("0 */0 * * * ?", "minutes step '0' must be a positive integer"),
        ("0 ? 0 * * ?", "'?' is only allowed in day-of-month or day-of-week, not in minutes"),
        ("0 0 0 ? * 9#1", "day-of-week value 9 is outside 1-7"),
        ("", "the expression is empty"),
    ],
)
def test_invalid_quartz(expr: str, fragment: str) -> None:
    with pytest.raises(CronError) as info:
        validate_quartz(expr)
    assert fragment in str(info.value)


def test_unicode_property_classes_are_rewritten_for_python_re() -> None:
    with pytest.raises(re.error):
        re.compile(VAR_PATTERN)
    rewritten = re.compile(translate_pattern(VAR_PATTERN))
    for ok in ("${var.catalog}", "${var.git_sha}", "${var.node-type}", "${var.café}", "${var.a.b[0]}", "${var.x2}"):
        assert rewritten.search(ok), ok
    for bad in ("${var.}", "${var.1abc}", "${bundle.target}", "${var.a_}", "${var._a}"):
        assert not rewritten.fullmatch(bad), bad
    # \p{N} inside a class keeps non-ASCII digits; \p{L} does not take digits
    assert re.fullmatch(translate_pattern(r"[\p{N}]+"), "١٢٣")
    assert not re.fullmatch(translate_pattern(r"\p{L}"), "7")
    with pytest.raises(ValueError, match="unsupported Unicode property"):
        translate_pattern(r"\p{Lu}")


def test_yaml_loader_keeps_lines_and_rejects_duplicates(tmp_path: Path) -> None:
    doc = tmp_path / "x.yml"
    doc.write_text("a:\n  b: 1\n  c:\n    - d: 2\n", encoding="utf-8")
    data = load_yaml(doc)
    assert data.loc("a") == (doc, 1)
    assert data["a"].loc("c") == (doc, 3)
    assert data["a"]["c"].loc(0) == (doc, 4)
    doc.write_text("a: 1\na: 2\n", encoding="utf-8")
    with pytest.raises(BundleLoadError, match="duplicate key 'a'") as info:
        load_yaml(doc)
    assert info.value.line == 2


def test_include_merges_resources_and_rejects_a_resource_defined_twice(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "databricks.yml").write_text("bundle: {name: b}\ninclude: [resources/*.yml]\n", encoding="utf-8")
    (tmp_path / "resources" / "a.yml").write_text("resources:\n  jobs:\n    j1: {name: one}\n", encoding="utf-8")
    (tmp_path / "resources" / "b.yml").write_text("resources:\n  jobs:\n    j2: {name: two}\n", encoding="utf-8")
    bundle = load_bundle(tmp_path)
    assert sorted(bundle.config["resources"]["jobs"]) == ["j1", "j2"]
    assert bundle.resource_files[("jobs", "j2")].name == "b.yml"
    (tmp_path / "resources" / "c.yml").write_text("resources:\n  jobs:\n    j1: {name: again}\n", encoding="utf-8")
    with pytest.raises(BundleLoadError, match=r"resource resources.jobs.j1 is already defined at .*a.yml:3"):
        load_bundle(tmp_path)


def test_uc_setup_sql_parses_and_is_idempotent() -> None:
    report = check_sql(PROJECT_ROOT / "setup_uc_infrastructure.sql")
    assert report.errors == []
    assert report.kinds["CREATE CATALOG"] == 3
    assert report.kinds["CREATE SCHEMA"] == 3
    assert report.kinds["CREATE VOLUME"] == 18  # landing, checkpoints, wheels, exports, reports, state x 3 envs
    assert report.kinds["CREATE FUNCTION"] == 3  # the masking function of the masked view, per env
    assert report.kinds["CREATE VIEW"] == 6  # the masked view and the auditors' restricted view, per env
    text = (PROJECT_ROOT / "setup_uc_infrastructure.sql").read_text(encoding="utf-8")
    assert "SET MASK" not in text and "ROW FILTER" not in text  # masks live in views: the jobs read the history
    for env in ("dev", "acc", "prd"):
        prefix = f"mlops_{env}.financial_transactions"
        assert f"{prefix}.mask_anomaly_score(score) AS score" in text  # the masked view
        assert f"GRANT SELECT ON VIEW {prefix}.synthesized_predictions_v TO `financial-mlops-analysts`;" in text
        assert "TO `financial-mlops-auditors`;" in text
        for group in ("financial-mlops-analysts", "financial-mlops-oncall", "financial-mlops-auditors"):
            assert f"SELECT ON TABLE {prefix}.synthesized_predictions TO `{group}`" not in text
            assert not [
                line for line in text.splitlines() if "SELECT" in line and f"SCHEMA {prefix} TO `{group}`" in line
            ]


def test_sql_check_flags_non_idempotent_and_unparsable_statements(tmp_path: Path) -> None:
    sql = tmp_path / "s.sql"
    sql.write_text("CREATE SCHEMA a.b;\nCREATE VOLUME a.b.c;\n", encoding="utf-8")
    report = check_sql(sql)
    assert [(line, msg.split(":")[0]) for line, msg in report.errors] == [
        (1, "CREATE SCHEMA is not idempotent"),
        (2, "CREATE VOLUME is not idempotent"),
    ]
    sql.write_text("CREATE TABLE IF NOT EXISTS a.b.t (x INT;\n", encoding="utf-8")
    assert check_sql(sql).errors[0][1].startswith("does not parse")


def test_sops_rules(tmp_path: Path) -> None:
    real = check_sops(PROJECT_ROOT)
    assert real.errors == [] and real.rules == 3
    (tmp_path / "secrets").mkdir()
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: ^secrets/dev\\.enc\\.yaml$\n"
        "    age: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
        encoding="utf-8",
    )
    (tmp_path / "secrets" / "dev.enc.yaml").write_text("finnhub-api-key: plain\n", encoding="utf-8")
    (tmp_path / "secrets" / "prd.yaml").write_text("x: 1\n", encoding="utf-8")
    report = check_sops(tmp_path)
    assert report.warnings == []
    assert report.errors == [
        "secrets/dev.enc.yaml is not SOPS-encrypted (run `sops -e -i secrets/dev.enc.yaml`)",
        "secrets/prd.yaml: only *.enc.yaml (encrypted) files belong in secrets/",
    ]
