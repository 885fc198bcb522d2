"""The runtime seam: no platform check outside ``runtime/``, and each runtime's answers.

Every platform difference is a method or attribute of ``platform.runtime``. The first
tests parse the wheel and the job scripts and fail, naming file:line, on any module
outside ``src/financial_transactions/runtime/`` that asks which platform it is on. The
rest pin what :class:`LocalRuntime` and :class:`DatabricksRuntime` answer, with the
Databricks REST calls made through databricks-sdk against the recording stub.
"""

from __future__ import annotations

import ast
import base64
import importlib
import threading
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from typer.testing import CliRunner

from financial_transactions.config import CredentialRef, ProjectConfig
from financial_transactions.lakehouse import LocalDeltaStore, SparkDeltaStore
from financial_transactions.runtime import DatabricksRuntime, LocalRuntime, NotOnThisRuntime, Platform, detect_runtime
from financial_transactions.runtime.launchers import DatabricksJobLauncher, LaunchResult, TaskValueOnly
from financial_transactions.runtime.serving_endpoint import ServingError
from tests.support.rest_stub import RestStub

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = PROJECT_ROOT / "src" / "financial_transactions"
SEAM = PACKAGE / "runtime"

#: Names that ask "am I on Databricks?" and strings only the seam may spell.
FORBIDDEN_NAMES = frozenset({"is_databricks", "is_databricks_runtime"})
FORBIDDEN_STRINGS = ("DATABRICKS_RUNTIME_VERSION", "databricks-uc")


# -- enforcement ----------------------------------------------------------------------------------------
def platform_checks(source: str, filename: str) -> list[str]:
    """``file:line: what`` for every platform check in ``source`` (a Python module), in line order."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        line = getattr(node, "lineno", 0)
        names: list[str] = []
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.alias):
            names.extend([node.name.rsplit(".", 1)[-1], node.asname or ""])
        elif isinstance(node, ast.keyword) and node.arg:
            names.append(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.extend((line, f"{filename}:{line}: spells {s!r}") for s in FORBIDDEN_STRINGS if s in node.value)
        found.extend((line, f"{filename}:{line}: references {n}") for n in names if n in FORBIDDEN_NAMES)
    return [text for _line, text in sorted(found)]


def modules_outside_the_seam() -> list[Path]:
    files = [*PACKAGE.rglob("*.py"), *(PROJECT_ROOT / "scripts").rglob("*.py")]
    return sorted(f for f in files if SEAM not in f.parents)


def test_the_checker_finds_every_kind_of_platform_check() -> None:
    source = "\n".join(
        [
            "import os",
            "from financial_transactions.lakehouse.engine import is_databricks_runtime",
            "on = bool(os.environ.get('DATABRICKS_RUNTIME_VERSION'))",
            "if platform.is_databricks:",
            "    uri = 'databricks-uc'",
            "p = Platform(config=c, lakehouse_root=r, is_databricks=True)",
            "ok = platform.runtime.auto_loader",
        ]
    )
    assert platform_checks(source, "m.py") == [
        "m.py:2: references is_databricks_runtime",
        "m.py:3: spells 'DATABRICKS_RUNTIME_VERSION'",
        "m.py:4: references is_databricks",
        "m.py:5: spells 'databricks-uc'",
        "m.py:6: references is_databricks",
    ]


def test_no_module_outside_the_runtime_asks_which_platform_it_is_on() -> None:
    modules = modules_outside_the_seam()
    assert len(modules) > 100  # the whole wheel and the job scripts, not an empty glob
    assert PACKAGE / "monitoring" / "stage.py" in modules and SEAM / "select.py" not in modules
    found = [hit for path in modules for hit in platform_checks(path.read_text(), str(path.relative_to(PROJECT_ROOT)))]
    assert found == [], "platform checks outside runtime/ (ask platform.runtime instead):\n" + "\n".join(found)
    assert not hasattr(Platform, "is_databricks")  # the question itself is gone


# -- picking the runtime ----------------------------------------------------------------------------------
def test_the_runtime_is_picked_once_from_the_environment(
    config: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert type(detect_runtime({})) is LocalRuntime
    assert type(detect_runtime({"DATABRICKS_RUNTIME_VERSION": ""})) is LocalRuntime
    assert type(detect_runtime({"DATABRICKS_RUNTIME_VERSION": "16.4"})) is DatabricksRuntime
    assert type(Platform.create(config).runtime) is LocalRuntime
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    assert type(Platform.create(config).runtime) is DatabricksRuntime
    chosen = LocalRuntime()
    assert Platform.create(config, runtime=chosen).runtime is chosen  # an explicit runtime wins


def _pair(config: ProjectConfig, root: Path, workspace: Any = None) -> tuple[Platform, Platform]:
    local = Platform.create(config, lakehouse_root=root, runtime=LocalRuntime())
    databricks = Platform.create(config, lakehouse_root=root, runtime=DatabricksRuntime(workspace))
    return local, databricks


# -- compute, storage, tracking, reports --------------------------------------------------------------
def test_engine_store_and_paths(config: ProjectConfig, tmp_path: Path) -> None:
    local, databricks = _pair(config, tmp_path)
    assert local.engine == "embedded (local[*])" and databricks.engine == "databricks"
    assert Platform.create(config, spark_remote="sc://h:15002", runtime=LocalRuntime()).engine == (
        "spark-connect (sc://h:15002)"
    )
    assert isinstance(local.store, LocalDeltaStore)
    session: Any = object()
    databricks._spark = session  # the cluster's session: the store is built on it
    assert isinstance(databricks.store, SparkDeltaStore) and databricks.store.spark is session
    assert local.paths.landing == tmp_path / "Volumes" / "mlops_dev" / "financial_transactions" / "landing"
    assert databricks.paths.landing == Path("/Volumes/mlops_dev/financial_transactions/landing")
    assert local.paths.state_dir == tmp_path / "_state"
    assert databricks.paths.state_dir == Path("/Volumes/mlops_dev/financial_transactions/state")


def test_experiment_location(config: ProjectConfig, tmp_path: Path) -> None:
    local, databricks = _pair(config, tmp_path)
    db = f"sqlite:///{tmp_path / '_state' / 'mlflow' / 'mlflow.db'}"
    assert (local.mlflow.tracking_uri, local.mlflow.registry_uri) == (db, db)
    assert local.mlflow.artifact_location == (tmp_path / "_state" / "mlflow" / "artifacts").as_uri()
    assert local.mlflow.experiment_name == "financial-anomaly-tournament"
    assert (databricks.mlflow.tracking_uri, databricks.mlflow.registry_uri) == ("databricks", "databricks-uc")
    assert databricks.mlflow.artifact_location is None
    assert databricks.mlflow.experiment_name == "/Shared/financial-ai-mlops/dev/financial-anomaly-tournament"


def test_reports_dir(config: ProjectConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    local, databricks = _pair(config, tmp_path / "lakehouse")
    # the report follows the lakehouse root (--lakehouse-root), never the working directory
    assert local.reports_dir == tmp_path / "lakehouse" / "Volumes" / "mlops_dev" / "financial_transactions" / "reports"
    assert databricks.reports_dir == Path("/Volumes/mlops_dev/financial_transactions/reports")


def test_default_drift_window_and_lakehouse_monitors() -> None:
    assert (LocalRuntime.default_drift_window, DatabricksRuntime.default_drift_window) == ("replay", "recent")
    assert (LocalRuntime.lakehouse_monitors, DatabricksRuntime.lakehouse_monitors) == (False, True)


def _module_importing(name: str, script: Path) -> str:
    """The module ``script`` imports ``name`` from, so the test patches what the script really calls."""
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == name for a in node.names):
            return node.module
    raise LookupError(f"{script} does not import {name}")


@pytest.mark.parametrize(
    ("databricks", "mode", "windows"),
    [
        (False, "auto", "replay 1 vs 2"),
        (True, "auto", "recent"),
        (True, "replay", "replay 1 vs 2"),
        (False, "recent", "recent"),
    ],
)
def test_the_drift_job_compares_the_runtimes_default_windows(
    databricks: bool,
    mode: str,
    windows: str,
    project_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import runpy
    import sys
    import types

    script = project_root / "scripts" / "financial" / "detect_drift.py"
    cycle = importlib.import_module(_module_importing("run_cycle", script))
    compared: list[tuple[str, str]] = []

    def run_cycle(platform: Platform, reference: str, current: str, **_kw: Any) -> Any:
        compared.append((reference, current))
        drift = types.SimpleNamespace(reason="stub")
        return types.SimpleNamespace(drift=drift, summary=lambda: {"runtime": platform.runtime.name})

    monkeypatch.setattr(cycle, "recent_windows", lambda _p: ("recent", "recent"))
    monkeypatch.setattr(cycle, "all_ground_truth", lambda _p: [])
    monkeypatch.setattr(cycle, "replay_window", lambda _p, w: f"replay {w}")
    monkeypatch.setattr(cycle, "ground_truth_path", lambda _p, w: tmp_path / str(w))
    monkeypatch.setattr(cycle, "run_cycle", run_cycle)
    if databricks:
        monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    argv = ["--env", "dev", "--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", [str(script), *argv, "--mode", mode])
    runpy.run_path(str(script), run_name="__main__")
    assert [" vs ".join(pair) for pair in compared] == [
        {"recent": "recent vs recent", "replay 1 vs 2": "replay 1 vs replay 2"}[windows]
    ]
    assert f"runtime: {'databricks' if databricks else 'local'}" in capsys.readouterr().out


# -- secrets and task values ----------------------------------------------------------------------------
def _stub_workspace(stub: RestStub) -> WorkspaceClient:
    return WorkspaceClient(host=stub.url, token="test-token", auth_type="pat")


def test_secrets_come_from_the_environment_then_the_runtime_secret_store(
    config: ProjectConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = CredentialRef(env="FIN_SEAM_KEY", secret_scope="fin-mlops", secret_key="finnhub")
    monkeypatch.delenv("FIN_SEAM_KEY", raising=False)
    with RestStub() as stub:
        value = base64.b64encode(b"from-the-scope").decode()
        stub.route("GET", "/api/2.0/secrets/get", json={"key": "finnhub", "value": value})
        local, databricks = _pair(config, tmp_path, workspace=lambda: _stub_workspace(stub))
        assert local.secret(ref) is None  # no secret scope on a laptop
        assert stub.requests == []
        assert databricks.secret(ref) == "from-the-scope"
        (asked,) = stub.calls("GET", "/api/2.0/secrets/get")
        assert asked.query == {"scope": ["fin-mlops"], "key": ["finnhub"]}
        monkeypatch.setenv("FIN_SEAM_KEY", "from-the-env")
        assert local.secret(ref) == databricks.secret(ref) == "from-the-env"  # the environment comes first
        assert len(stub.calls("GET", "/api/2.0/secrets/get")) == 1
    assert ref.resolve() == "from-the-env"  # no reader: the environment only


class RecordingTaskValues:
    def __init__(self) -> None:
        self.values: list[tuple[str, Any]] = []

    def set(self, key: str, value: Any) -> None:
        self.values.append((key, value))


def test_task_values(tmp_path: Path) -> None:
    values = RecordingTaskValues()
    assert LocalRuntime().set_task_value("retrain", False) is False  # no job run on a laptop
    assert LocalRuntime().set_task_value("retrain", False, values) is True
    assert DatabricksRuntime().set_task_value("promoted", True, values) is True
    assert values.values == [("retrain", False), ("promoted", True)]
    assert DatabricksRuntime().set_task_value("promoted", True) is False  # not inside a job run: no dbutils


# -- the pipeline engine ---------------------------------------------------------------------------------
def test_pipeline_engine(config: ProjectConfig, tmp_path: Path) -> None:
    pipeline = config.pipeline.model_copy(
        update={
            "streaming": config.pipeline.streaming.model_copy(update={"max_files_per_trigger": 17}),
            "autoloader": config.pipeline.autoloader.model_copy(update={"max_files_per_trigger": 250}),
        }
    )
    local, databricks = LocalRuntime(), DatabricksRuntime()
    assert (local.auto_loader, databricks.auto_loader) == (False, True)
    assert (local.max_files_per_trigger(pipeline), databricks.max_files_per_trigger(pipeline)) == (17, 250)
    assert local.fixed_landing(config) is None
    assert databricks.fixed_landing(config) == "/Volumes/mlops_dev/financial_transactions/landing"

    databricks.ensure_dir(tmp_path / "volume" / "checkpoints")
    assert not (tmp_path / "volume").exists()  # volumes are Unity Catalog objects
    local.ensure_dir(tmp_path / "volume" / "checkpoints")
    assert (tmp_path / "volume" / "checkpoints").is_dir()

    local.check_declarative()
    with pytest.raises(NotOnThisRuntime, match=r"the bundle's Lakeflow pipeline runs dlt_pipeline\.py"):
        databricks.check_declarative()

    lakehouse = tmp_path / "lakehouse"
    (lakehouse / "_state").mkdir(parents=True)
    with pytest.raises(NotOnThisRuntime, match="only the embedded engine's local lakehouse can be deleted"):
        databricks.reset_lakehouse(lakehouse)
    assert lakehouse.is_dir()
    (lakehouse / "_state" / "journal.json").write_text("{}", encoding="utf-8")
    left = tmp_path / "lakehouse.old-deadbeef"  # a tree a previous reset left half-deleted
    (left / "x").mkdir(parents=True)
    local.reset_lakehouse(lakehouse)
    assert not lakehouse.exists() and not left.exists()  # empty at once; the leftover went too
    for thread in [t for t in threading.enumerate() if t.name == "lakehouse-reset"]:
        thread.join(timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("lakehouse")) == []  # the old tree is gone
    local.reset_lakehouse(lakehouse)  # nothing to delete is fine


def test_fresh_and_declarative_are_refused_on_databricks(
    project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from financial_transactions.cli import app

    (tmp_path / "lakehouse").mkdir()
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path / "lakehouse")]
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    fresh = CliRunner().invoke(app, [*base, "run", "--fresh"], terminal_width=200)
    assert fresh.exit_code == 2 and "--fresh only applies to the embedded engine" in fresh.output
    assert (tmp_path / "lakehouse").is_dir()
    declarative = CliRunner().invoke(app, [*base, "pipeline", "--declarative"], terminal_width=200)
    assert declarative.exit_code == 2
    assert "on Databricks the bundle's Lakeflow pipeline runs dlt_pipeline.py" in declarative.output


# -- retraining, serving, features ------------------------------------------------------------------------
class InProcess:
    name = "in-process"

    def launch(self, event_id: str, reason: str) -> LaunchResult:
        return LaunchResult("launched", self.name, run_id=event_id)


def test_retraining_launcher(config: ProjectConfig) -> None:
    in_process = InProcess()
    run_now = config.retraining.model_copy(update={"launch": "run_now"})
    by_task_value = config.retraining.model_copy(update={"launch": "task_value", "task_value_key": "retrain"})
    assert LocalRuntime().retraining_launcher(run_now, in_process=lambda: in_process) is in_process

    client: Any = object()
    built: list[object] = []

    def workspace() -> Any:
        built.append(client)
        return client

    databricks = DatabricksRuntime(workspace)
    values = RecordingTaskValues()
    flag = databricks.retraining_launcher(by_task_value, in_process=lambda: in_process, task_values=values)
    assert isinstance(flag, TaskValueOnly) and flag.key == "retrain" and built == []  # no workspace needed
    assert flag.launch("e1", "drift") == LaunchResult(
        "launched", "task-value", detail="task value retrain=true: the workflow's condition_task starts it"
    )
    assert values.values == [("retrain", True)]
    job = databricks.retraining_launcher(run_now, in_process=lambda: in_process)
    assert isinstance(job, DatabricksJobLauncher) and job.client is client and job.cfg is run_now
    assert built == [client]


def test_the_drift_stage_retrains_through_the_runtime_launcher(platform: Platform) -> None:
    from rich.console import Console

    from financial_transactions.monitoring.retraining_trigger import LocalTrainingLauncher, default_launcher

    console = Console()
    launcher = default_launcher(platform, console=console)
    assert isinstance(launcher, LocalTrainingLauncher)
    assert (launcher.platform, launcher.console) == (platform, console)  # trains here, printing to the run's console

    client: Any = object()
    cfg = platform.config.model_copy(
        update={"retraining": platform.config.retraining.model_copy(update={"launch": "run_now"})}
    )
    databricks = Platform.create(cfg, lakehouse_root=platform.lakehouse_root, runtime=DatabricksRuntime(lambda: client))
    job = default_launcher(databricks, console=console)
    assert isinstance(job, DatabricksJobLauncher) and job.client is client


class RecordingEndpoint:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[int, float]] = []

    def deploy(self, *, champion: int, wait_seconds: float) -> Any:
        self.calls.append((champion, wait_seconds))
        if self.fail:
            raise ServingError("update UPDATE_FAILED")
        return type("Deployed", (), {"describe": lambda _self: f"endpoint: updated · anomaly_model-{champion} 100%"})()


def test_serving_updater(config: ProjectConfig) -> None:
    endpoint = RecordingEndpoint()
    local = LocalRuntime().serve_champion(config, 7, manager=endpoint)  # type: ignore[arg-type]
    assert not local.deployed and local.detail == (
        "endpoint financial-anomaly-endpoint not updated: not on Databricks "
        "(the local API, fin-mlops serve, follows the champion alias by itself)"
    )
    assert endpoint.calls == []
    served = DatabricksRuntime().serve_champion(config, 7, manager=endpoint)  # type: ignore[arg-type]
    assert served.deployed and served.detail == "endpoint: updated · anomaly_model-7 100%"
    assert endpoint.calls == [(7, config.serving.endpoint_wait_seconds)]
    with pytest.raises(ServingError, match="UPDATE_FAILED"):
        DatabricksRuntime().serve_champion(config, 8, manager=RecordingEndpoint(fail=True))  # type: ignore[arg-type]


def test_feature_store_client() -> None:
    built: list[str] = []

    def factory() -> str:
        built.append("client")
        return "fe-client"

    assert LocalRuntime().feature_client(factory) is None and built == []  # plain Delta tables locally
    assert DatabricksRuntime().feature_client(factory) == "fe-client" and built == ["client"]
