"""Databricks Model Serving through databricks-sdk against the recording REST stub (exact requests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from typer.testing import CliRunner

from financial_transactions.config import ProjectConfig
from financial_transactions.serving.model_serving import ModelServingManager, ServingError
from tests.support.rest_stub import RecordedRequest, RestStub

ENDPOINT = "financial-anomaly-endpoint"
MODEL = "mlops_dev.financial_transactions.anomaly_model"
EP_PATH = f"/api/2.0/serving-endpoints/{ENDPOINT}"
UC_PATH = f"/api/2.1/unity-catalog/models/{MODEL}"


@dataclass
class Workspace:
    """The server side of the stub: one endpoint (or none) and the UC model's aliases."""

    aliases: dict[str, int]
    endpoint: dict[str, Any] | None = None
    ready: str = "READY"
    config_update: str = "NOT_UPDATING"
    fail_alias: bool = False
    log: list[str] = field(default_factory=list)

    def endpoint_json(self) -> dict[str, Any]:
        assert self.endpoint is not None
        return {
            "name": ENDPOINT,
            "state": {"ready": self.ready, "config_update": self.config_update},
            "config": self.endpoint,
        }

    def install(self, stub: RestStub) -> None:
        def get_endpoint(_req: RecordedRequest) -> tuple[int, Any]:
            if self.endpoint is None:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Endpoint '{ENDPOINT}' not found"}
            return 200, self.endpoint_json()

        def create(req: RecordedRequest) -> tuple[int, Any]:
            self.endpoint = {k: v for k, v in req.body["config"].items() if k != "name"}
            return 200, self.endpoint_json()

        def update(req: RecordedRequest) -> tuple[int, Any]:
            if self.config_update == "IN_PROGRESS":
                return 409, {"error_code": "RESOURCE_CONFLICT", "message": "update in progress"}
            self.endpoint = dict(req.body)
            self.endpoint.pop("name", None)
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
        stub.route("POST", "/api/2.0/serving-endpoints", handler=create)
        stub.route("PUT", f"{EP_PATH}/config", handler=update)
        stub.route("GET", UC_PATH, handler=get_model)
        for alias in ("champion", "challenger", "previous-champion"):
            for method in ("PUT", "DELETE"):
                stub.route(method, f"{UC_PATH}/aliases/{alias}", handler=alias_handler(alias))


@pytest.fixture
def stub() -> Iterator[RestStub]:
    with RestStub() as s:
        yield s


def manager(stub: RestStub, config: ProjectConfig) -> ModelServingManager:
    client = WorkspaceClient(host=stub.url, token="dapi-test-token")
    return ModelServingManager(client, config, poll_seconds=0.01)


def entity(version: int) -> dict[str, Any]:
    return {
        "name": f"anomaly_model-{version}",
        "entity_name": MODEL,
        "entity_version": str(version),
        "workload_size": "Small",
        "scale_to_zero_enabled": True,
    }


def api_requests(stub: RestStub) -> list[RecordedRequest]:
    """The REST API calls (the SDK's own host-metadata discovery is config plumbing, not ours)."""
    return [r for r in stub.requests if not r.path.startswith("/.well-known/")]


def calls(stub: RestStub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in api_requests(stub)]


def test_first_deploy_creates_the_endpoint_with_a_canary(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3, "challenger": 4, "latest-model": 4})
    ws.install(stub)
    result = manager(stub, config).deploy()
    assert result.action == "created"
    assert (result.champion_version, result.challenger_version) == (3, 4)
    assert result.traffic == {"anomaly_model-3": 90, "anomaly_model-4": 10}
    assert calls(stub) == [("GET", UC_PATH), ("GET", EP_PATH), ("POST", "/api/2.0/serving-endpoints")]
    assert api_requests(stub)[0].query == {"include_aliases": ["true"]}
    assert api_requests(stub)[-1].body == {
        "name": ENDPOINT,
        "config": {
            "name": ENDPOINT,
            "served_entities": [entity(3), entity(4)],
            "traffic_config": {
                "routes": [
                    {"served_entity_name": "anomaly_model-3", "traffic_percentage": 90},
                    {"served_entity_name": "anomaly_model-4", "traffic_percentage": 10},
                ]
            },
        },
    }
    assert api_requests(stub)[-1].headers["Authorization"] == "Bearer dapi-test-token"


def test_redeploy_updates_then_is_idempotent(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3})
    ws.install(stub)
    mgr = manager(stub, config)
    assert mgr.deploy().action == "created"
    ws.aliases["challenger"] = 5
    stub.requests.clear()
    result = mgr.deploy()
    assert result.action == "updated"
    assert calls(stub) == [("GET", UC_PATH), ("GET", EP_PATH), ("PUT", f"{EP_PATH}/config")]
    assert api_requests(stub)[-1].body == {
        "served_entities": [entity(3), entity(5)],
        "traffic_config": {
            "routes": [
                {"served_entity_name": "anomaly_model-3", "traffic_percentage": 90},
                {"served_entity_name": "anomaly_model-5", "traffic_percentage": 10},
            ]
        },
    }
    stub.requests.clear()
    assert mgr.deploy().action == "unchanged"
    assert calls(stub) == [("GET", UC_PATH), ("GET", EP_PATH)]  # nothing written

    state = mgr.state()
    assert state.exists and state.ready == "READY" and state.config_update == "NOT_UPDATING"
    assert [s.version for s in state.served] == ["3", "5"]
    assert state.traffic == {"anomaly_model-3": 90, "anomaly_model-5": 10}


def test_promote_moves_all_traffic_then_the_aliases(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3, "challenger": 5})
    ws.install(stub)
    mgr = manager(stub, config)
    mgr.deploy()
    stub.requests.clear()
    result = mgr.promote_to_production()
    assert result.champion_version == 5 and result.traffic == {"anomaly_model-5": 100}
    assert calls(stub) == [
        ("GET", UC_PATH),
        ("GET", EP_PATH),
        ("PUT", f"{EP_PATH}/config"),
        ("PUT", f"{UC_PATH}/aliases/champion"),
        ("PUT", f"{UC_PATH}/aliases/previous-champion"),
        ("DELETE", f"{UC_PATH}/aliases/challenger"),
    ]
    assert api_requests(stub)[2].body == {
        "served_entities": [entity(5)],
        "traffic_config": {"routes": [{"served_entity_name": "anomaly_model-5", "traffic_percentage": 100}]},
    }
    assert api_requests(stub)[3].body == {"version_num": 5}
    assert api_requests(stub)[4].body == {"version_num": 3}
    assert ws.aliases == {"champion": 5, "previous-champion": 3}
    assert mgr.state().traffic == {"anomaly_model-5": 100}


def test_promotion_without_challenger_or_with_failing_aliases(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 3})
    ws.install(stub)
    mgr = manager(stub, config)
    with pytest.raises(ServingError, match="no 'challenger' alias"):
        mgr.promote_to_production()
    assert ("PUT", f"{EP_PATH}/config") not in calls(stub) and ws.endpoint is None
    ws.aliases["challenger"] = 4
    ws.fail_alias = True
    with pytest.raises(ServingError, match=r"now serves .* v4 at 100%, but moving the aliases failed"):
        mgr.promote_to_production()
    assert ws.aliases == {"champion": 3, "challenger": 4}  # untouched: the operator is told exactly what to fix


def test_deploy_refuses_during_an_update_and_without_champion(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={})
    ws.install(stub)
    mgr = manager(stub, config)
    with pytest.raises(ServingError, match="no 'champion' alias"):
        mgr.deploy()
    ws.aliases = {"champion": 2}
    mgr.deploy()
    ws.config_update = "IN_PROGRESS"
    ws.aliases["champion"] = 6
    with pytest.raises(ServingError, match="another config update is in progress"):
        mgr.deploy()
    assert ("PUT", f"{EP_PATH}/config") not in calls(stub)


def test_canary_config_and_wait(stub: RestStub, config: ProjectConfig) -> None:
    ws = Workspace(aliases={"champion": 1, "challenger": 2})
    ws.install(stub)
    canary = config.serving.canary.model_copy(update={"champion_percent": 100, "challenger_percent": 0})
    no_canary = config.model_copy(update={"serving": config.serving.model_copy(update={"canary": canary})})
    mgr = ModelServingManager(WorkspaceClient(host=stub.url, token="t"), no_canary, poll_seconds=0.01)
    assert mgr.deploy().traffic == {"anomaly_model-1": 100}
    ws.ready = "NOT_READY"
    with pytest.raises(ServingError, match="not ready after"):
        mgr.wait_ready(0.05)
    ws.ready, ws.config_update = "READY", "UPDATE_FAILED"
    with pytest.raises(ServingError, match="update failed"):
        mgr.wait_ready(1)
    ws.config_update = "NOT_UPDATING"
    assert mgr.wait_ready(1).ready == "READY"


def test_endpoint_cli(stub: RestStub, project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from financial_transactions.cli.main import app

    ws = Workspace(aliases={"champion": 7, "challenger": 8})
    ws.install(stub)
    for var in [v for v in os.environ if v.startswith("DATABRICKS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("DATABRICKS_HOST", stub.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-cli")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))
    base = ["--config", str(project_root / "project_config.yml"), "--lakehouse-root", str(tmp_path / "lh")]
    runner = CliRunner()
    status = runner.invoke(app, [*base, "endpoint", "status"])
    assert status.exit_code == 0, status.output
    assert "does not exist" in status.output
    deploy = runner.invoke(app, [*base, "endpoint", "deploy"])
    assert deploy.exit_code == 0, deploy.output
    assert "created" in deploy.output and "anomaly_model-7" in deploy.output
    promote = runner.invoke(app, [*base, "endpoint", "promote"])
    assert promote.exit_code == 0, promote.output
    assert ws.aliases == {"champion": 8, "previous-champion": 7}
    failed = runner.invoke(app, [*base, "endpoint", "promote"])
    assert failed.exit_code == 1 and "no 'challenger' alias" in failed.output
