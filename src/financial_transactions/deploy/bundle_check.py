"""``fin-mlops bundle-check``: validate the Databricks bundle offline.

``databricks bundle validate`` needs a workspace and credentials; this runs
anywhere (laptop, CI without secrets) and catches what breaks deployments
before they reach a workspace: schema errors, undefined variables and resource
references, missing scripts, cyclic task graphs, bad Quartz cron, deprecated
fields, unset catalogs, unpaused schedules outside prd, and also the UC setup
SQL, the GitHub workflows and the SOPS rules.
"""

from __future__ import annotations

import os
from pathlib import Path

from financial_transactions.deploy.context import Ctx, RuleInputs, rel
from financial_transactions.deploy.findings import BundleCheckReport, CheckResult, Finding
from financial_transactions.deploy.loader import BundleLoadError, load_bundle
from financial_transactions.deploy.rules import RULES
from financial_transactions.deploy.schema import BundleSchema, SchemaUnavailable, load_schema
from financial_transactions.deploy.schema_check import check_schema
from financial_transactions.deploy.secret_scan import scan_repository
from financial_transactions.deploy.sops import check_sops
from financial_transactions.deploy.sql_check import check_sql
from financial_transactions.deploy.workflows import INSTALL_HINT, find_actionlint, unpinned_actions, workflow_files

UC_SQL = "setup_uc_infrastructure.sql"
ENTRYPOINTS = Path(__file__).resolve().parent.parent / "entrypoints.py"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder (from ``start`` up) holding ``databricks.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "databricks.yml").is_file():
            return folder
    raise FileNotFoundError(f"no databricks.yml in {here} or any parent folder; pass --root")


def check_bundle(
    root: Path,
    *,
    schema_path: str | os.PathLike[str] | None = None,
    require_schema: bool = False,
    require_actionlint: bool = False,
    sql: bool = True,
    workflows: bool = True,
    sops: bool = True,
    secrets: bool = False,
) -> BundleCheckReport:
    """Run every offline check; ``report.ok`` is False when any error was found."""
    root = root.resolve()
    report = BundleCheckReport(root)
    report.results.extend(_bundle_results(root, schema_path, require_schema))
    if sql:
        report.results.append(_sql_result(root))
    if workflows:
        report.results.append(_workflow_result(root, require_actionlint))
    if sops:
        report.results.append(_sops_result(root))
    if secrets:
        report.results.append(_secrets_result(root))
    return report


def _bundle_results(root: Path, schema_path: str | os.PathLike[str] | None, require_schema: bool) -> list[CheckResult]:
    try:
        bundle = load_bundle(root)
    except BundleLoadError as exc:
        where = rel(root, exc.file)
        finding = Finding("load", "error", exc.message, where, exc.line or None)
        return [CheckResult("load", "Load databricks.yml + includes", [finding])]
    load = CheckResult("load", "Load databricks.yml + includes", detail=f"{len(bundle.files)} files")
    results = [load]

    schema: BundleSchema | None = None
    schema_result = CheckResult("schema", "JSON schema (databricks bundle schema)")
    try:
        schema = load_schema(root, schema_path)
    except SchemaUnavailable as exc:
        if require_schema:
            schema_result.findings.append(Finding("schema", "error", str(exc)))
        else:
            schema_result.skipped = str(exc)
    results.append(schema_result)

    ctx = Ctx(bundle)
    if schema is not None:
        count = check_schema(ctx, schema)
        schema_result.findings.extend(ctx.findings)
        schema_result.detail = f"{schema.path.name}: {count} error(s)"
        ctx.findings.clear()

    inputs = RuleInputs(schema=schema, project_config=root / "project_config.yml", entrypoints=ENTRYPOINTS)
    for rule in RULES:  # one report row per rule family, in the order of RULES
        rule.check(ctx, inputs)
        results.append(CheckResult(rule.name, rule.title, list(ctx.findings)))
        ctx.findings.clear()
    jobs = sum(1 for _ in bundle.iter_resources("jobs"))
    pipelines = sum(1 for _ in bundle.iter_resources("pipelines"))
    targets = bundle.config.get("targets")
    load.detail = (
        f"{len(bundle.files)} files, {jobs} jobs, {pipelines} pipelines, "
        f"targets: {', '.join(targets) if isinstance(targets, dict) else 'none'}"
    )
    return results


def _sql_result(root: Path) -> CheckResult:
    result = CheckResult("sql", f"{UC_SQL} parses (sqlglot, databricks)")
    path = root / UC_SQL
    if not path.is_file():
        result.findings.append(Finding("sql", "error", f"{UC_SQL} is missing", UC_SQL))
        return result
    sql_report = check_sql(path)
    for line, message in sql_report.errors:
        result.findings.append(Finding("sql", "error", message, UC_SQL, line or None))
    result.detail = (
        f"{sql_report.statements} statements ({len(sql_report.commands)} kept as generic commands; "
        f"{sql_report.grants} GRANTs, volumes and masks checked against the UC grammar)"
    )
    return result


def _workflow_result(root: Path, require_actionlint: bool) -> CheckResult:
    result = CheckResult("workflows", "GitHub workflows: actionlint + SHA-pinned actions")
    files = workflow_files(root)
    if not files:
        result.findings.append(Finding("workflows", "error", "no workflow files in .github/workflows"))
        return result
    for path in files:
        relative = rel(root, path)
        for line, uses in unpinned_actions(path):
            result.findings.append(
                Finding("workflows", "error", f"action {uses!r} is not pinned to a commit SHA", relative, line or None)
            )
    linter = find_actionlint(root)
    if linter is None:
        message = f"actionlint not available: {INSTALL_HINT}"
        if require_actionlint:
            result.findings.append(Finding("workflows", "error", message))
        else:
            result.detail = f"{len(files)} files; pins checked; actionlint skipped: {INSTALL_HINT}"
        return result
    try:
        issues = linter.run(files)
    except (RuntimeError, OSError, ValueError) as exc:
        result.findings.append(Finding("workflows", "error", f"could not run actionlint: {exc}"))
        return result
    for issue in issues:
        result.findings.append(
            Finding("workflows", "error", f"[{issue.kind}] {issue.message}", rel(root, issue.file), issue.line)
        )
    result.detail = f"{len(files)} files; {linter.description}"
    return result


def _sops_result(root: Path) -> CheckResult:
    result = CheckResult("sops", ".sops.yaml covers secrets/*.enc.yaml with age recipients")
    sops_report = check_sops(root)
    result.findings += [Finding("sops", "error", m, ".sops.yaml") for m in sops_report.errors]
    result.findings += [Finding("sops", "warning", m, ".sops.yaml") for m in sops_report.warnings]
    result.detail = f"{sops_report.rules} creation rule(s)"
    return result


def _secrets_result(root: Path) -> CheckResult:
    result = CheckResult("secret-scan", "No secret-like strings in the git tree")
    try:
        hits = scan_repository(root)
    except (OSError, ValueError) as exc:
        result.skipped = f"git is not available here: {exc}"
        return result
    except Exception as exc:  # subprocess.CalledProcessError: not a git checkout
        result.skipped = f"not a git checkout ({exc})"
        return result
    result.findings += [Finding("secret-scan", "error", f"{h.rule}: {h.excerpt}", h.file, h.line) for h in hits]
    return result
