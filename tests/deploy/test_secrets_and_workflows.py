"""The secret scan over the git tree, SHA pinning and actionlint on the workflows, and the CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from financial_transactions.cli import deploy as cli_deploy
from financial_transactions.cli.main import app
from financial_transactions.deploy.schema import SCHEMA_ENV
from financial_transactions.deploy.secret_scan import scan_repository, scan_text
from financial_transactions.deploy.workflows import INSTALL_HINT, find_actionlint, unpinned_actions, workflow_files

from .bundle_fixture import PROJECT_ROOT, edit, schema_path_or_skip


def test_git_tree_has_no_secret_like_strings() -> None:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout: the secret scan reads `git ls-files`")
    hits = scan_repository(PROJECT_ROOT)
    assert hits == [], "\n".join(f"{h.file}:{h.line}: {h.rule} {h.excerpt}" for h in hits)


def test_secret_scanner_finds_each_kind_and_redacts() -> None:
    # Built at run time so this file itself holds no secret-shaped literal.
    samples = {
        "aws-access-key-id": "AKIA" + "Q7X2" * 4,
        "databricks-token": "dapi" + "0123456789abcdef" * 2,
        "github-token": "ghp_" + "aB3dE5fG7h" * 4,
        "private-key": "-----BEGIN " + "RSA PRIVATE KEY-----",
        "age-secret-key": "AGE-SECRET-KEY-1" + "QZ3" * 19 + "Q",
        "slack-webhook": "https://hooks.slack.com/services/" + "T0AB12CD3/B0EF45GH6/" + "x9Y8w7V6u5T4s3R2q1",
        "high-entropy-assignment": 'api_key = "' + "k3Jx9Q2mZp7L" + "vB4nR8tW" + '"',
    }
    for rule, value in samples.items():
        hits = scan_text(f"line one\nconfig: {value}\n", "f.txt")
        assert [(h.rule, h.line) for h in hits] == [(rule, 2)], (rule, hits)
        assert value not in hits[0].excerpt  # never echo the secret
    example = 'password = "' + "your-password-" + 'here-please"'  # split: the tree itself holds no such literal
    for harmless in ('api_key = "${FINNHUB_API_KEY}"', 'token: "{{secrets/financial-mlops/finnhub-api-key}}"',
                     example, "api_key: {env: FINNHUB_API_KEY}"):  # fmt: skip
        assert scan_text(harmless) == [], harmless
    encrypted = "finnhub-api-key: ENC[AES256_GCM,data:" + "Zm9v" * 8 + ",type:str]\nsops:\n    age: []\n"
    assert scan_text(encrypted) == []


def test_every_action_is_pinned_to_a_commit_sha(tmp_path: Path) -> None:
    files = workflow_files(PROJECT_ROOT)
    assert {f.name for f in files} == {"ci.yml", "cd.yml", "model_validation.yml"}
    for path in files:
        assert unpinned_actions(path) == [], path.name
    bad = tmp_path / "w.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - uses: ./local-action\n",
        encoding="utf-8",
    )
    assert unpinned_actions(bad) == [(6, "actions/checkout@v4")]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme
    assert "run: make test" in ci
    for job in ("lint-and-test:", "security-scan:", "bundle-validate:", "build-wheel:"):
        assert f"\n  {job}" in ci


def test_ci_gives_the_tests_a_bundle_schema_without_committing_it() -> None:
    ci = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    steps = ci["jobs"]["lint-and-test"]["steps"]
    runs = [str(step.get("run", "")) for step in steps]
    uses = [str(step.get("uses", "")) for step in steps]
    make_test = runs.index("make test")
    setup = next(i for i, u in enumerate(uses) if u.startswith("databricks/setup-cli@"))
    schema = next(i for i, r in enumerate(runs) if "databricks bundle schema >" in r)
    assert setup < schema < make_test
    assert steps[setup]["with"]["version"] == "${{ steps.cli.outputs.version }}"  # .databricks-cli-version
    assert '"$RUNNER_TEMP/bundle_schema.json"' in runs[schema]
    assert f'echo "{SCHEMA_ENV}=$RUNNER_TEMP/bundle_schema.json" >> "$GITHUB_ENV"' in runs[schema]
    if shutil.which("git") is not None and (PROJECT_ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
        assert not [f for f in tracked.stdout.splitlines() if f.endswith("bundle_schema.json")]


def test_schema_env_var_is_used_and_a_broken_one_fails(
    bundle_schema: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "bundle_schema.json"
    shutil.copyfile(bundle_schema, copy)
    monkeypatch.setenv(SCHEMA_ENV, str(copy))
    assert schema_path_or_skip() == copy.resolve()
    monkeypatch.setenv(SCHEMA_ENV, str(tmp_path / "absent.json"))
    with pytest.raises(pytest.fail.Exception, match=f"{SCHEMA_ENV} is set but the schema cannot be used"):
        schema_path_or_skip()


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """(The real workflows pass actionlint in test_real_bundle_passes_every_check.)"""
    linter = find_actionlint(PROJECT_ROOT)
    if linter is None:
        pytest.skip(f"actionlint is not installed here: {INSTALL_HINT}")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n",
        encoding="utf-8",
    )
    issues = linter.run([broken])
    assert [(i.line, i.kind) for i in issues] == [(6, "expression")]
    assert 'property "nope" is not defined' in issues[0].message


def test_cli_bundle_check_exit_codes(bundle_copy: Path, bundle_schema: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_deploy.console, "width", 250)  # one finding per line, unwrapped
    runner = CliRunner()
    args = ["bundle-check", "--root", str(bundle_copy), "--schema", str(bundle_schema)]
    # the copy has no workflows/SQL/SOPS files: bring the real ones along
    shutil.copytree(PROJECT_ROOT / ".github", bundle_copy / ".github")
    shutil.copy2(PROJECT_ROOT / "setup_uc_infrastructure.sql", bundle_copy)
    shutil.copy2(PROJECT_ROOT / ".sops.yaml", bundle_copy)
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert "bundle OK" in ok.output
    edit(bundle_copy / "resources" / "retraining_workflow.yml", "0 0 0 * * ?", "0 0 0 * * * *")
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1
    assert "1 error(s)" in bad.output
    assert "resources/retraining_workflow.yml" in bad.output
    assert "exactly one of day-of-month ('*') and day-of-week ('*') must be '?'" in bad.output
