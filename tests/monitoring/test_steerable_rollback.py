"""A steerable rollback (issue 20): list the versions, warn about a rejected target, keep the aliases consistent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from financial_transactions.cli import app
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.monitoring.rollback import ModelRollback, RollbackRefused
from financial_transactions.runtime import Platform


def _gate(platform: Platform, version: int, decision: str, reason: str) -> None:
    row = {
        "decision_id": f"gate-v{version}",
        "decided_at": datetime(2026, 3, 9, 12, version, tzinfo=UTC),
        "decision": decision,
        "reason": reason,
        "challenger_version": version,
        "supersedes": None,
    }
    platform.store.append(platform.config.table("champion_challenger_audit"), pa.Table.from_pylist([row]))


def _cli(platform: Platform, project_root: Path, *args: str):  # type: ignore[no-untyped-def]
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    return CliRunner().invoke(app, [*base, *args], terminal_width=200)


def test_models_lists_every_version_with_aliases_and_the_gate_decision(
    platform: Platform, registry: ModelRegistry, project_root: Path
) -> None:
    _gate(platform, 4, "REJECT", "recall guardrail")
    result = _cli(platform, project_root, "models", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    by_version = {row["version"]: row for row in doc["versions"]}
    assert sorted(by_version) == [1, 2, 3, 4]
    assert by_version[3]["aliases"] == ["champion"] and by_version[2]["aliases"] == ["previous-champion"]
    assert by_version[4]["aliases"] == ["challenger", "latest-model"]
    assert by_version[4]["gate_decision"] == "REJECT" and by_version[4]["gate_reason"] == "recall guardrail"
    assert by_version[1]["gate_decision"] is None and by_version[1]["created"]
    table = _cli(platform, project_root, "models")
    assert table.exit_code == 0 and "REJECT (recall" in table.output and "v4" in table.output
    assert "…" not in table.output  # at 80 columns the cells wrap, never truncate


def test_a_target_the_gate_rejected_is_warned_about_and_needs_force(
    platform: Platform, registry: ModelRegistry, project_root: Path
) -> None:
    _gate(platform, 4, "REJECT", "recall guardrail")
    dry = _cli(platform, project_root, "rollback", "--to-version", "4", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "WARNING: the gate decided REJECT for v4" in dry.output and "recall guardrail" in dry.output

    refused = _cli(platform, project_root, "rollback", "--to-version", "4")
    assert refused.exit_code == 2 and "--force" in refused.output
    assert registry.aliases()["champion"] == 3  # nothing changed

    forced = _cli(platform, project_root, "rollback", "--to-version", "4", "--force")
    assert forced.exit_code == 0, forced.output
    aliases = registry.aliases()
    assert aliases["champion"] == 4 and "challenger" not in aliases  # never both champion and challenger


@pytest.mark.parametrize("to_version", [None, 4])
def test_no_version_holds_both_champion_and_challenger_after_a_rollback(
    platform: Platform, registry: ModelRegistry, to_version: int | None
) -> None:
    if to_version is None:
        registry.apply_aliases({"champion": 3, "previous-champion": 2, "challenger": 2, "latest-model": 4})
    ModelRollback(platform).run(to_version)
    aliases = registry.aliases()
    assert aliases.get("challenger") != aliases["champion"]


def test_a_promoted_target_has_no_warning(platform: Platform, registry: ModelRegistry) -> None:
    _gate(platform, 2, "PROMOTE", "better on every metric")
    assert ModelRollback(platform).plan().warnings == []
    _gate(platform, 1, "VALIDATION_FAILED", "leakage check")
    with pytest.raises(RollbackRefused, match="VALIDATION_FAILED"):
        ModelRollback(platform).run(1)


def _script(platform: Platform, project_root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """scripts/financial/rollback_model.py's main(), parsing ``args`` as the Databricks job passes them."""
    import runpy

    script = runpy.run_path(str(project_root / "scripts/financial/rollback_model.py"), run_name="rollback_job")
    base = ["--env", "dev", "--config", str(project_root / "project_config.yml")]
    monkeypatch.setattr(
        "sys.argv", ["rollback_model.py", *base, "--lakehouse-root", str(platform.lakehouse_root), *args]
    )
    return int(script["main"]())


def test_the_rollback_job_script_refuses_a_rejected_target_without_force(
    platform: Platform,
    registry: ModelRegistry,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _gate(platform, 4, "REJECT", "recall guardrail")
    assert _script(platform, project_root, monkeypatch, "--to-version", "4") == 2
    refused = capsys.readouterr()
    assert refused.err.startswith("rollback refused: ") and "--force" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert registry.aliases()["champion"] == 3  # nothing changed

    assert _script(platform, project_root, monkeypatch, "--to-version", "4", "--force", "--reason", "drill") == 0
    forced = capsys.readouterr().out
    assert "WARNING: the gate decided REJECT for v4" in forced
    aliases = registry.aliases()
    assert aliases["champion"] == 4 and "challenger" not in aliases


def test_the_rollback_plan_at_80_columns_and_as_json(
    platform: Platform, registry: ModelRegistry, project_root: Path
) -> None:
    _gate(platform, 4, "REJECT", "recall guardrail")
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(platform.lakehouse_root)]
    runner = CliRunner()
    shown = runner.invoke(app, [*base, "rollback", "--to-version", "4", "--dry-run"], env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    assert max(len(line.rstrip()) for line in shown.stdout.splitlines()) <= 80 and "…" not in shown.stdout
    piped = runner.invoke(app, [*base, "rollback", "--to-version", "4", "--dry-run", "--json"])
    assert piped.exit_code == 0, piped.output
    doc = json.loads(piped.stdout)
    assert doc["result"] == []  # a dry run changes nothing
    steps = [row["step"] for row in doc["plan"]]
    assert [row["warning"] for row in doc["plan"]] == [s.startswith("WARNING") for s in steps]
    assert ModelRollback(platform).plan(4).describe() == steps
    warning = next(s for s in steps if s.startswith("WARNING"))
    assert warning.startswith("WARNING: the gate decided REJECT for v4")
    # every step is shown whole at 80 columns: wrapped over lines, never cut
    shown_text = " ".join(shown.stdout.translate(str.maketrans("│┃", "  ")).split())
    assert all(" ".join(step.split()) in shown_text for step in steps)
    assert shown.stdout.rstrip().endswith("dry run: nothing changed")
