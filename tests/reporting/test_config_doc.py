"""docs/CONFIGURATION.md is generated from the pydantic models and must match them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from financial_transactions.config import ProjectConfig
from financial_transactions.reporting.config_doc import generate, main


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel) and ann.__name__ != "CredentialRef":
            out += _leaf_paths(ann, path)
        else:
            out.append(path)
    return out


def test_committed_doc_matches_the_models(project_root: Path) -> None:
    committed = (project_root / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    assert committed == generate(), (
        "docs/CONFIGURATION.md is stale: run `.venv/bin/python -m financial_transactions.reporting.config_doc --write`"
    )


def test_every_field_is_documented_with_default_and_bounds() -> None:
    text = generate()
    for path in _leaf_paths(ProjectConfig):
        if path.split(".")[0] in ("env", "environment"):
            continue
        assert f"| `{path}` |" in text, path
    assert "| `drift.bins` | integer | `10` | [2, 1000] |" in text
    assert "| `split.test_fraction` | number | `0.2` | (0, 0.9) |" in text
    assert "| `replay.speed` | number | `0.0` | [0.0, 1 000 000] | 0 = as fast as possible |" in text
    assert "| `environments.<env>.catalog` | string | *required* |" in text
    assert "| `decision.criteria.<name>.bands[].score` | integer | *required* | [1, 5] |" in text
    assert "`FIN_MLOPS_FINNHUB_WS_URL` | `collectors.finnhub.ws_url`" in text


def test_check_mode_reports_staleness(tmp_path: Path) -> None:
    stale = tmp_path / "CONFIGURATION.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert main(["--check", "--path", str(stale)]) == 1
    assert main(["--write", "--path", str(stale)]) == 0
    assert main(["--check", "--path", str(stale)]) == 0
