"""Databricks Model Serving through databricks-sdk against the recording REST stub (exact requests)."""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from databricks.sdk import WorkspaceClient
from typer.testing import CliRunner

from financial_transactions.config import ProjectConfig
from financial_transactions.models.deployment import DeploymentError, deploy_champion, update_serving_endpoint
from financial_transactions.runtime import DatabricksRuntime, Platform
from financial_transactions.runtime.serving_endpoint import ModelServingManager, ServingError
from tests.support.rest_stub import RecordedRequest, RestStub

ENDPOINT = "financial-anomaly-endpoint"
MODEL = "mlops_dev.financial_transactions.anomaly_model"
EP_PATH = f"/api/2.0/serving-endpoints/{ENDPOINT}"
CONFIG_PATH = f"{EP_PATH}/config"
CREATE_PATH = "/api/2.0/serving-endpoints"
UC_PATH = f"/api/2.1/unity-catalog/models/{MODEL}"
GET_EP, GET_UC, CREATE, UPDATE = ("GET", EP_PATH), ("GET", UC_PATH), ("POST", CREATE_PATH), ("PUT", CONFIG_PATH)


@dataclass
class Workspace:
    """The server side of the stub: one endpoint (or none) and the UC model's aliases.

    Like Databricks, a create or a config update goes to ``pending_config`` with
    ``config_update = IN_PROGRESS``; after ``polls_to_finish`` more GETs it ends with
    ``outcome``: NOT_UPDATING (the pending config is served, READY) or UPDATE_FAILED (the
    previous config keeps serving).
    """

    aliases: dict[str, int]
    config: dict[str, Any] | None = None
    exists: bool = False
    ready: str = "READY"
    config_update: str = "NOT_UPDATING"
    pending: dict[str, Any] | None = None
    polls_to_finish: int = 0
    outcome: str = "NOT_UPDATING"
    fail_alias: bool = False
    conflicts: int = 0  # the next N config updates answer 409 (another update got there first)
    update_error: tuple[int, dict[str, str]] | None = None
    create_error: tuple[int, dict[str, str]] | None = None
    _countdown: int = 0

    def endpoint_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": ENDPOINT, "state": {"ready": self.ready, "config_update": self.config_update}}
        if self.config is not None:
            body["config"] = self.config
        if self.pending is not None:
            body["pending_config"] = self.pending
        return body

    def _begin(self, config: dict[str, Any]) -> None:
        self.pending = config
        self.config_update = "IN_PROGRESS"
        self._countdown = self.polls_to_finish

    def _tick(self) -> None:
        if self.config_update != "IN_PROGRESS":
            return
        if self._countdown > 0:
            self._countdown -= 1
            return
        self.config_update = self.outcome
        if self.outcome == "NOT_UPDATING":
            self.config, self.ready = self.pending, "READY"
        self.pending = None

    def serving(self) -> dict[str, int]:
        """served entity name -> traffic of the config actually served."""
        routes = (self.config or {}).get("traffic_config", {}).get("routes", [])
        return {r["served_entity_name"]: r["traffic_percentage"] for r in routes}

    def install(self, stub: RestStub) -> None:
        def get_endpoint(_req: RecordedRequest) -> tuple[int, Any]:
            if not self.exists:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Endpoint '{ENDPOINT}' not found"}
            self._tick()
            return 200, self.endpoint_json()

        def create(req: RecordedRequest) -> tuple[int, Any]:
            if self.create_error is not None:
                return self.create_error
            self.exists, self.ready = True, "NOT_READY"
            self._begin({k: v for k, v in req.body["config"].items() if k != "name"})
            return 200, self.endpoint_json()

        def update(req: RecordedRequest) -> tuple[int, Any]:
            if self.update_error is not None:
                return self.update_error
            if self.conflicts > 0 or self.config_update == "IN_PROGRESS":
                self.conflicts = max(0, self.conflicts - 1)
                return 409, {"error_code": "RESOURCE_CONFLICT", "message": "Endpoint is currently being updated"}
            self._begin({k: v for k, v in req.body.items() if k != "name"})
            return 200, self.endpoint_json()

        def get_model(_req: RecordedRequest) -> tuple[int, Any]:
            return 200, {
                "full_name": MODEL,
                "aliases": [{"alias_name": a, "version_num": v} for a, v in sorted(self.aliases.items())],
            }

        def alias_handler(alias: str) -> Any:
            def handle(req: RecordedRequest) -> tuple[int, Any]:
                if self.fail_alias:
                    return 403, {"error_code": "PERMISSION_DENIED", "message": "User lacks MANAGE on the model"}
                if req.method == "DELETE":
                    self.aliases.pop(alias, None)
                    return 200, {}
                self.aliases[alias] = int(req.body["version_num"])
                return 200, {"alias_name": alias, "version_num": req.body["version_num"]}

            return handle

        stub.route("GET", EP_PATH, handler=get_endpoint)
        stub.route("POST", CREATE_PATH, handler=create)
        stub.route("PUT", CONFIG_PATH, handler=update)
        stub.route("GET", UC_PATH, handler=get_model)
        for alias in ("champion", "challenger", "previous-champion"):
            for method in ("PUT", "DELETE"):
                stub.route(method, f"{UC_PATH}/aliases/{alias}", handler=alias_handler(alias))


@pytest.fixture
def stub() -> Iterator[RestStub]:
    with RestStub() as s:
        yield s


def manager(stub: RestStub, config: ProjectConfig, *, wait_seconds: float = 5.0) -> ModelServingManager:
    client = WorkspaceClient(host=stub.url, token="dapi-test-token")
    return ModelServingManager(client, config, poll_seconds=0.01, wait_seconds=wait_seconds)


def entity(version: int) -> dict[str, Any]:
    return {
        "name": f"anomaly_model-{version}",
        "entity_name": MODEL,
        "entity_version": str(version),
        "workload_size": "Small",
        "scale_to_zero_enabled": True,
    }


def routes(**split: int) -> dict[str, Any]:
    """``routes(v3=90, v4=10)``: the traffic_config the SDK sends for that split."""
    return {
        "routes": [{"served_entity_name": f"anomaly_model-{v[1:]}", "traffic_percentage": p} for v, p in split.items()]
    }


def api_requests(stub: RestStub) -> list[RecordedRequest]:
    """The REST API calls (the SDK's own host-metadata discovery is config plumbing, not ours)."""
    return [r for r in stub.requests if not r.path.startswith("/.well-known/")]


def calls(stub: RestStub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in api_requests(stub)]


def test_first_deploy_creates_the_endpoint_with_a_canary_and_waits(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3, "challenger": 4, "latest-model": 4}, polls_to_finish=2)
    ws.install(stub)
    result = manager(stub, config).deploy()
    assert result.action == "created"
    assert (result.champion_version, result.challenger_version) == (3, 4)
    assert result.traffic == {"anomaly_model-3": 90, "anomaly_model-4": 10}
    # create, then poll until the pending config is served: 2 GETs still IN_PROGRESS, the 3rd READY
    assert calls(stub) == [GET_UC, GET_EP, CREATE, GET_EP, GET_EP, GET_EP]
    assert result.state is not None and result.state.ready == "READY" and not result.state.updating
    assert api_requests(stub)[0].query == {"include_aliases": ["true"]}
    assert api_requests(stub)[2].body == {
        "name": ENDPOINT,
        "config": {"name": ENDPOINT, "served_entities": [entity(3), entity(4)], "traffic_config": routes(v3=90, v4=10)},
    }
    assert api_requests(stub)[2].headers["Authorization"] == "Bearer dapi-test-token"
    assert ws.serving() == {"anomaly_model-3": 90, "anomaly_model-4": 10}
    assert result.describe() == f"{ENDPOINT}: created · anomaly_model-3 90%, anomaly_model-4 10%; READY"


def test_redeploy_updates_then_is_idempotent(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3})
    ws.install(stub)
    mgr = manager(stub, config)
    assert mgr.deploy().action == "created"
    ws.aliases["challenger"] = 5
    stub.requests.clear()
    result = mgr.deploy()
    assert result.action == "updated"
    assert calls(stub) == [GET_UC, GET_EP, UPDATE, GET_EP]
    assert api_requests(stub)[2].body == {
        "served_entities": [entity(3), entity(5)],
        "traffic_config": routes(v3=90, v5=10),
    }
    stub.requests.clear()
    assert mgr.deploy().action == "unchanged"
    assert calls(stub) == [GET_UC, GET_EP, GET_EP]  # nothing written; readiness confirmed
    assert mgr.deploy(wait_seconds=0).state is None

    state = mgr.state()
    assert state.exists and state.ready == "READY" and state.config_update == "NOT_UPDATING"
    assert [s.version for s in state.served] == ["3", "5"]
    assert state.traffic == {"anomaly_model-3": 90, "anomaly_model-5": 10}


def test_deploy_right_after_create_waits_for_the_update_in_progress(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 2}, polls_to_finish=3)
    ws.install(stub)
    mgr = manager(stub, config)
    assert mgr.deploy(wait_seconds=0).action == "created"  # not waited for: still IN_PROGRESS
    assert ws.config_update == "IN_PROGRESS" and ws.config is None
    ws.aliases["champion"] = 6
    stub.requests.clear()
    result = mgr.deploy()
    # read (busy) -> 3 more polls until the create finished -> apply ours -> READY
    assert calls(stub) == [GET_UC, GET_EP, GET_EP, GET_EP, GET_EP, UPDATE, GET_EP, GET_EP, GET_EP, GET_EP]
    assert result.action == "updated" and result.traffic == {"anomaly_model-6": 100}
    assert api_requests(stub)[5].body == {"served_entities": [entity(6)], "traffic_config": routes(v6=100)}
    assert ws.serving() == {"anomaly_model-6": 100} and result.state is not None and result.state.ready == "READY"

    # an update that never finishes within the bound: a clear error, nothing written
    ws.polls_to_finish = 10_000
    ws._begin(ws.config or {})
    stub.requests.clear()
    with pytest.raises(ServingError, match=r"update IN_PROGRESS.*: a config update is still in progress after 0s"):
        manager(stub, config, wait_seconds=0.05).deploy(champion=7)
    assert UPDATE not in calls(stub)


def test_update_conflict_is_waited_out_once(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 1})
    ws.install(stub)
    mgr = manager(stub, config)
    mgr.deploy()
    ws.conflicts = 1  # another update starts between our read and our write
    stub.requests.clear()
    assert mgr.deploy(champion=2).action == "updated"
    assert calls(stub) == [GET_UC, GET_EP, UPDATE, GET_EP, UPDATE, GET_EP]
    assert ws.serving() == {"anomaly_model-2": 100}
    ws.conflicts = 2  # busy again right after the wait: no endless retrying
    with pytest.raises(ServingError, match=r"updating serving endpoint .* to anomaly_model-3 100% failed: "):
        mgr.deploy(champion=3)
    assert ws.serving() == {"anomaly_model-2": 100}


def test_raw_sdk_errors_become_clear_serving_errors(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 4})
    ws.install(stub)
    mgr = manager(stub, config)
    ws.create_error = (400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "Workload size Small is not allowed"})
    with pytest.raises(ServingError) as created:
        mgr.deploy()
    assert str(created.value) == (
        f"creating serving endpoint {ENDPOINT} (anomaly_model-4 100%) failed: "
        "InvalidParameterValue INVALID_PARAMETER_VALUE: Workload size Small is not allowed"
    )
    ws.create_error = None
    mgr.deploy()
    ws.update_error = (403, {"error_code": "PERMISSION_DENIED", "message": "User lacks CAN_MANAGE on the endpoint"})
    with pytest.raises(ServingError) as updated:
        mgr.deploy(champion=5)
    message = str(updated.value)  # (the SDK appends its redacted auth config to permission errors)
    assert message.startswith(
        f"updating serving endpoint {ENDPOINT} to anomaly_model-5 100% failed: "
        "PermissionDenied PERMISSION_DENIED: User lacks CAN_MANAGE on the endpoint"
    )
    assert message.endswith("; it keeps serving its previous config") and "dapi-test-token" not in message
    assert ws.serving() == {"anomaly_model-4": 100}


def test_deploy_that_fails_to_become_ready(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 1}, outcome="UPDATE_FAILED", polls_to_finish=1)
    ws.install(stub)
    with pytest.raises(ServingError, match=r"NOT_READY, update UPDATE_FAILED; no routes: the config update failed"):
        manager(stub, config).deploy()
    ws.outcome, ws.ready, ws.config_update = "NOT_UPDATING", "NOT_READY", "NOT_UPDATING"
    with pytest.raises(ServingError, match="not ready after 0s"):
        manager(stub, config, wait_seconds=0.05).wait_ready(0.05)


def test_promote_waits_for_the_endpoint_then_moves_the_aliases(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3, "challenger": 5})
    ws.install(stub)
    mgr = manager(stub, config)
    mgr.deploy()
    ws.polls_to_finish = 2
    stub.requests.clear()
    result = mgr.promote_to_production()
    assert result.champion_version == 5 and result.traffic == {"anomaly_model-5": 100}
    assert calls(stub) == [
        GET_UC,
        GET_EP,
        UPDATE,
        GET_EP,  # IN_PROGRESS
        GET_EP,  # IN_PROGRESS
        GET_EP,  # READY: only now do the aliases move
        ("PUT", f"{UC_PATH}/aliases/champion"),
        ("PUT", f"{UC_PATH}/aliases/previous-champion"),
        ("DELETE", f"{UC_PATH}/aliases/challenger"),
    ]
    assert api_requests(stub)[2].body == {"served_entities": [entity(5)], "traffic_config": routes(v5=100)}
    assert api_requests(stub)[6].body == {"version_num": 5}
    assert api_requests(stub)[7].body == {"version_num": 3}
    assert ws.aliases == {"champion": 5, "previous-champion": 3}
    assert mgr.state().traffic == {"anomaly_model-5": 100}


def test_a_failed_promotion_update_leaves_the_aliases(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3, "challenger": 5})
    ws.install(stub)
    mgr = manager(stub, config)
    mgr.deploy()
    ws.outcome, ws.polls_to_finish = "UPDATE_FAILED", 1
    stub.requests.clear()
    with pytest.raises(ServingError) as failed:
        mgr.promote_to_production()
    assert str(failed.value) == (
        f"promotion of {MODEL} v5 stopped: {ENDPOINT}: READY, update UPDATE_FAILED; anomaly_model-3 90%, "
        "anomaly_model-5 10%: the config update failed; aliases unchanged (champion v3, challenger v5)"
    )
    assert calls(stub) == [GET_UC, GET_EP, UPDATE, GET_EP, GET_EP]  # no alias request at all
    assert ws.aliases == {"champion": 3, "challenger": 5}
    assert ws.serving() == {"anomaly_model-3": 90, "anomaly_model-5": 10}  # the previous config still serves

    ws.outcome, ws.polls_to_finish = "NOT_UPDATING", 10_000  # an update slower than the bound
    with pytest.raises(ServingError, match=r"not ready after 0s; aliases unchanged \(champion v3, challenger v5\)"):
        manager(stub, config, wait_seconds=0.05).promote_to_production()
    assert ws.aliases == {"champion": 3, "challenger": 5}
    with pytest.raises(ValueError, match="wait_seconds must be > 0"):
        mgr.promote_to_production(wait_seconds=0)


def test_promotion_without_challenger_or_with_failing_aliases(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3})
    ws.install(stub)
    mgr = manager(stub, config)
    with pytest.raises(ServingError, match="no 'challenger' alias"):
        mgr.promote_to_production()
    assert UPDATE not in calls(stub) and not ws.exists
    ws.aliases["challenger"] = 4
    ws.fail_alias = True
    with pytest.raises(ServingError, match=r"now serves .* v4 at 100%, but moving the aliases failed \(PermissionDen"):
        mgr.promote_to_production()
    assert ws.aliases == {"champion": 3, "challenger": 4}  # untouched: the operator is told exactly what to fix


def test_deploy_refuses_without_champion_and_canary_config(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"challenger": 2})
    ws.install(stub)
    with pytest.raises(ServingError, match="no 'champion' alias: nothing to serve"):
        manager(stub, config).deploy()
    assert CREATE not in calls(stub)
    ws.aliases["champion"] = 1
    canary = config.serving.canary.model_copy(update={"champion_percent": 100, "challenger_percent": 0})
    no_canary = config.model_copy(update={"serving": config.serving.model_copy(update={"canary": canary})})
    assert manager(stub, no_canary).deploy().traffic == {"anomaly_model-1": 100}


def _cli_env(stub: RestStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("DATABRICKS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("DATABRICKS_HOST", stub.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-cli")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))


def test_endpoint_cli(stub: RestStub, project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from financial_transactions.cli.main import app

    ws = Workspace(aliases={"champion": 7, "challenger": 8})
    ws.install(stub)
    _cli_env(stub, tmp_path, monkeypatch)
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path / "lh")]
    runner = CliRunner()
    status = runner.invoke(app, [*base, "endpoint", "status"])
    assert status.exit_code == 0, status.output
    assert "does not exist" in status.output
    deploy = runner.invoke(app, [*base, "endpoint", "deploy"])
    assert deploy.exit_code == 0, deploy.output
    assert f"{ENDPOINT}: created · anomaly_model-7 90%, anomaly_model-8 10%; READY" in " ".join(deploy.output.split())
    shown = runner.invoke(app, [*base, "endpoint", "status"], env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    assert max(len(line.rstrip()) for line in shown.stdout.splitlines()) <= 80 and "…" not in shown.stdout
    assert "anomaly_model-7" in shown.stdout.split() and "anomaly_model-8" in shown.stdout.split()
    piped = runner.invoke(app, [*base, "endpoint", "status", "--json"])
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["served"] == [
        {"served_entity": "anomaly_model-7", "model": MODEL, "version": "7", "traffic_percent": 90},
        {"served_entity": "anomaly_model-8", "model": MODEL, "version": "8", "traffic_percent": 10},
    ]
    # promote waits by default: an update that fails leaves the aliases and exits 1 without a traceback
    ws.outcome = "UPDATE_FAILED"
    failed = runner.invoke(app, [*base, "endpoint", "promote"])
    assert failed.exit_code == 1 and "the config update failed; aliases unchanged" in " ".join(failed.output.split())
    assert "Traceback" not in failed.output and ws.aliases == {"champion": 7, "challenger": 8}
    ws.outcome = "NOT_UPDATING"
    promote = runner.invoke(app, [*base, "endpoint", "promote"])
    assert promote.exit_code == 0, promote.output
    assert "champion is now v8 at 100% (updated, READY)" in " ".join(promote.output.split())
    assert ws.aliases == {"champion": 8, "previous-champion": 7}
    again = runner.invoke(app, [*base, "endpoint", "promote"])
    assert again.exit_code == 1 and "no 'challenger' alias" in again.output
    assert runner.invoke(app, [*base, "endpoint", "promote", "--wait", "0"]).exit_code == 2  # promotion always waits
    ws.update_error = (403, {"error_code": "PERMISSION_DENIED", "message": "no [CAN_MANAGE] on the endpoint"})
    ws.aliases["challenger"] = 9
    denied = runner.invoke(app, [*base, "endpoint", "deploy"])
    assert denied.exit_code == 1 and "Traceback" not in denied.output
    assert "PermissionDenied PERMISSION_DENIED: no [CAN_MANAGE] on the endpoint" in " ".join(denied.output.split())
    monkeypatch.delenv("DATABRICKS_HOST")
    unconfigured = runner.invoke(app, [*base, "endpoint", "status"])
    assert unconfigured.exit_code == 1 and "cannot reach a Databricks workspace" in unconfigured.output


# -- the deploy step ------------------------------------------------------------------------------------
@pytest.fixture
def served_platform(tmp_path: Path, config: ProjectConfig) -> tuple[Platform, int]:
    """A local lakehouse with a registered champion and a test_set to smoke-score."""
    from tests.support.gold import gold_frame, synthetic_trades, train_champion, write_gold

    platform = Platform.create(config, lakehouse_root=tmp_path / "lh")
    gold = gold_frame(platform, synthetic_trades({"AAPL": 190.0}, 120, seed=3))
    write_gold(platform, gold)
    version = train_champion(platform, gold, n_estimators=5)
    holdout = gold.drop(columns=["trade_date", "bar_end"]).assign(label=np.int64(0))
    platform.store.overwrite(config.table("test_set"), holdout)
    return platform, version


def test_deploy_step_locally_smoke_tests_and_says_it_deploys_nothing(
    served_platform: tuple[Platform, int],
    stub: RestStub,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    platform, version = served_platform
    outcome = deploy_champion(platform, smoke_rows=50)
    assert outcome.champion_version == version and outcome.smoke_rows == 50
    assert outcome.serving is not None and not outcome.serving.deployed
    assert outcome.serving.detail == (
        f"endpoint {ENDPOINT} not updated: not on Databricks (the local API, fin-mlops serve, follows the champion "
        "alias by itself)"
    )
    assert outcome.describe().endswith(f"\nserving: {outcome.serving.detail}")
    assert api_requests(stub) == []  # nothing was called

    # the job entry point says the same
    script = project_root / "scripts" / "financial" / "deploy_anomaly_model.py"
    argv = [str(script), "--env", "dev", "--config", str(project_root / "project_config.yml")]
    monkeypatch.setattr(sys, "argv", [*argv, "--lakehouse-root", str(platform.lakehouse_root)])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(script), run_name="__main__")
    assert done.value.code == 0
    assert f"serving: endpoint {ENDPOINT} not updated: not on Databricks" in capsys.readouterr().out


def test_deploy_step_on_databricks_serves_the_new_champion(
    served_platform: tuple[Platform, int], stub: RestStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, version = served_platform
    assert platform.store is not None and platform.mlflow is not None  # the local engine stays bound
    platform.runtime = DatabricksRuntime()  # what the job sees; the endpoint goes to the stub workspace
    ws = Workspace(aliases={"champion": version})  # READY at the first poll (the real manager polls every 10 s)
    ws.install(stub)
    _cli_env(stub, tmp_path, monkeypatch)  # databricks-sdk unified auth from the environment

    outcome = deploy_champion(platform, smoke_rows=20)

    assert outcome.serving is not None and outcome.serving.deployed
    assert outcome.serving.detail == f"{ENDPOINT}: created · anomaly_model-{version} 100%; READY"
    assert calls(stub) == [GET_UC, GET_EP, CREATE, GET_EP]
    assert api_requests(stub)[2].body["config"]["served_entities"] == [entity(version)]
    assert api_requests(stub)[2].headers["Authorization"] == "Bearer dapi-cli"
    assert ws.serving() == {f"anomaly_model-{version}": 100}

    ws.outcome = "UPDATE_FAILED"  # the next champion's update fails: the deploy step fails, clearly
    ws.aliases["challenger"] = version + 1
    with pytest.raises(DeploymentError, match=rf"champion version {version} is not served: .*the config update failed"):
        update_serving_endpoint(platform, version)
    disabled = platform.config.model_copy(
        update={"serving": platform.config.serving.model_copy(update={"endpoint_enabled": False})}
    )
    platform.config = disabled
    skipped = update_serving_endpoint(platform, version)
    assert not skipped.deployed and skipped.detail.endswith("not updated: serving.endpoint_enabled is false")
