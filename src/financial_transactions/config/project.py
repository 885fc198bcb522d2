"""``ProjectConfig``: the one typed view of ``project_config.yml`` for one env.

The YAML holds every env (dev/acc/prd). ``from_yaml(path, env)`` picks one,
deep-merges that env's ``overrides`` into the shared sections, applies the
endpoint environment-variable overrides and validates everything with bounds.
Any failure raises :class:`ConfigError` naming file, env, field path and value.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from financial_transactions.config.collectors import CollectorsConfig, ReplayConfig
from financial_transactions.config.core import ConfigError, StrictModel, format_value
from financial_transactions.config.decision import BacktestConfig, DecisionConfig
from financial_transactions.config.ml import (
    FeaturesConfig,
    GateConfig,
    LabelsConfig,
    ModelsConfig,
    SplitConfig,
    ValidatorConfig,
    check_embargo,
)
from financial_transactions.config.monitoring import AlertingConfig, DriftConfig, RetrainingConfig
from financial_transactions.config.pipeline import PipelineConfig
from financial_transactions.config.serving import ServingConfig

_IDENT = r"^[a-z][a-z0-9_]{0,127}$"

#: Environment variables that re-point an endpoint without editing the YAML.
ENDPOINT_OVERRIDES: dict[str, tuple[str, ...]] = {
    "FIN_MLOPS_FINNHUB_WS_URL": ("collectors", "finnhub", "ws_url"),
    "FIN_MLOPS_ALPHAVANTAGE_URL": ("collectors", "alphavantage", "base_url"),
    "FIN_MLOPS_CRYPTO_WS_URL": ("collectors", "crypto", "ws_url"),
    "FIN_MLOPS_SERVING_HOST": ("serving", "host"),
}


class EnvironmentConfig(StrictModel):
    """What differs per deployment target."""

    catalog: str = Field(pattern=_IDENT)
    workspace_host: str = Field(default="https://<your-workspace>.cloud.databricks.com", min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)


class ProjectMeta(StrictModel):
    name: str = Field(default="financial-ai-mlops", min_length=1)
    schema_name: str = Field(default="financial_transactions", alias="schema", pattern=_IDENT)


#: The embedded engine runs batch work: the throughput collector beat G1 (the JVM default) by
#: about 10% on benchmarks/pipeline.py (landing -> gold, 1M trades, local[2]; measured).
#: C2 (the optimising JIT) at 30x its default invocation/back-edge thresholds: every query's
#: Spark code is freshly generated, and C2 compiling all of it lukewarm took as much CPU as the
#: queries themselves on 2 cores. Only the per-row hot loops reach C2 now: a cold 500k-trade
#: `fin-mlops pipeline` took 39.5 -> 31.4 CPU-s (its process tree); warm runs were no slower (measured).
DEFAULT_DRIVER_JAVA_OPTIONS = (
    "-XX:+UseParallelGC -XX:Tier4InvocationThreshold=150000 -XX:Tier4MinInvocationThreshold=20000 "
    "-XX:Tier4CompileThreshold=450000 -XX:Tier4BackEdgeThreshold=1200000"
)


class LocalConfig(StrictModel):
    """The embedded engine (laptop, CI)."""

    state_dir: str = ".fin_mlops"
    spark_master: str = Field(default="local[*]", pattern=r"^local(\[(\*|\d+)\])?$")
    driver_memory: str = Field(default="4g", pattern=r"^\d+[mg]$")
    #: JVM options of the embedded driver: the throughput collector and a lazier C2 suit its batch work
    driver_java_options: str = Field(default=DEFAULT_DRIVER_JAVA_OPTIONS, max_length=1000, pattern=r"^[^\n]*$")
    table_store: Literal["delta-rs", "spark-delta"] = Field(
        default="delta-rs",
        description=(
            "delta-rs: the deltalake library, no JVM needed for table I/O (measured faster, benchmarks/lakehouse.py); "
            "spark-delta: every table through Spark SQL with the Delta jars (`make delta-jars`), "
            "as on Databricks, `<catalog>.<schema>.<table>` mapped to `<catalog>__<schema>.<table>`"
        ),
    )


class SymbolsConfig(StrictModel):
    """The platform's instruments per asset class; :meth:`asset_class` is the one place a symbol gets its class."""

    equities: list[str] = Field(default_factory=lambda: ["AAPL", "MSFT", "NVDA", "AMZN", "JPM"])
    crypto: list[str] = Field(default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    futures: list[str] = Field(
        default_factory=list,
        description="futures (CME Globex sessions, never NYSE ones), collected from the Finnhub trade feed; "
        "a replayed file's --asset-class or asset_class column outranks these lists",
    )
    pattern: str = r"^[A-Z][A-Z0-9.:\-]{0,19}$"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _symbols_match_pattern(self) -> SymbolsConfig:
        rx = re.compile(self.pattern)
        for sym in [*self.equities, *self.crypto, *self.futures]:
            if not rx.match(sym):
                raise ValueError(f"symbol {sym!r} does not match pattern {self.pattern!r}")
        if not self.equities and not self.crypto and not self.futures:
            raise ValueError("configure at least one symbol")
        lists = {"equities": self.equities, "crypto": self.crypto, "futures": self.futures}
        seen: dict[str, str] = {}
        for name, symbols in lists.items():
            for sym in symbols:
                if sym in seen and seen[sym] != name:
                    raise ValueError(f"symbol {sym!r} is listed under both {seen[sym]} and {name}")
                seen[sym] = name
        return self

    @property
    def all(self) -> list[str]:
        return [*self.equities, *self.crypto, *self.futures]

    def asset_class(self, symbol: str, declared: Mapping[str, str] | None = None) -> str:
        """``equity``, ``crypto`` or ``future``: what ``declared`` says, else the lists say, else equity.

        ``declared`` is what a replayed user file declared per symbol (``--asset-class`` or its
        ``asset_class`` column, recorded per replay window): the user's word on their own file
        outranks the configured lists.
        """
        if declared and symbol in declared:
            return declared[symbol]
        if symbol in self.crypto:
            return "crypto"
        return "future" if symbol in self.futures else "equity"

    def asset_classes(self, declared: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every symbol known not to be an equity -> its class (:meth:`asset_class` for the lists and
        ``declared``); any other symbol is an equity. What silver classifies its rows by."""
        known = [*self.crypto, *self.futures, *(declared or {})]
        classes = {s: self.asset_class(s, declared) for s in known}
        return {s: c for s, c in classes.items() if c != "equity"}


class TablesConfig(StrictModel):
    """Logical table key -> physical table name inside ``<catalog>.<schema>``."""

    bronze_trades: str = Field(default="bronze_trades", pattern=_IDENT)
    silver_trades: str = Field(default="silver_trades", pattern=_IDENT)
    silver_trades_quarantine: str = Field(default="silver_trades_quarantine", pattern=_IDENT)
    silver_bars: str = Field(default="silver_bars", pattern=_IDENT)
    gold_trade_features: str = Field(default="gold_trade_features", pattern=_IDENT)
    trade_features: str = Field(default="trade_features", pattern=_IDENT)
    train_set: str = Field(default="train_set", pattern=_IDENT)
    test_set: str = Field(default="test_set", pattern=_IDENT)
    tournament_results: str = Field(default="tournament_results", pattern=_IDENT)
    champion_challenger_audit: str = Field(default="champion_challenger_audit", pattern=_IDENT)
    drift_monitoring: str = Field(default="drift_monitoring", pattern=_IDENT)
    model_monitoring: str = Field(default="model_monitoring", pattern=_IDENT)
    retraining_audit: str = Field(default="retraining_audit", pattern=_IDENT)
    alerts_audit: str = Field(default="alerts_audit", pattern=_IDENT)
    rollback_audit: str = Field(default="rollback_audit", pattern=_IDENT)
    synthesized_predictions: str = Field(default="synthesized_predictions", pattern=_IDENT)
    backtest_results: str = Field(default="backtest_results", pattern=_IDENT)
    decision_matrix: str = Field(default="decision_matrix", pattern=_IDENT)
    pipeline_runs: str = Field(default="pipeline_runs", pattern=_IDENT)
    training_runs: str = Field(default="training_runs", pattern=_IDENT)
    analyst_feedback: str = Field(default="analyst_feedback", pattern=_IDENT)
    anomaly_alerts: str = Field(default="anomaly_alerts", pattern=_IDENT)
    collector_gaps: str = Field(default="collector_gaps", pattern=_IDENT)


class ProjectConfig(StrictModel):
    """The resolved configuration of one env."""

    env: str = Field(pattern=_IDENT)
    project: ProjectMeta = ProjectMeta()
    environment: EnvironmentConfig
    local: LocalConfig = LocalConfig()
    symbols: SymbolsConfig = SymbolsConfig()
    tables: TablesConfig = TablesConfig()
    replay: ReplayConfig = ReplayConfig()
    collectors: CollectorsConfig = CollectorsConfig()
    pipeline: PipelineConfig = PipelineConfig()
    features: FeaturesConfig = FeaturesConfig()
    labels: LabelsConfig = LabelsConfig()
    split: SplitConfig = SplitConfig()
    models: ModelsConfig = ModelsConfig()
    gate: GateConfig = GateConfig()
    validator: ValidatorConfig = ValidatorConfig()
    drift: DriftConfig = DriftConfig()
    retraining: RetrainingConfig = RetrainingConfig()
    alerting: AlertingConfig = AlertingConfig()
    decision: DecisionConfig = DecisionConfig()
    backtest: BacktestConfig = BacktestConfig()
    serving: ServingConfig = ServingConfig()

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _embargo_covers_label_horizon(self) -> ProjectConfig:
        check_embargo(self.split, self.labels)
        return self

    # -- names -----------------------------------------------------------------
    @property
    def catalog(self) -> str:
        return self.environment.catalog

    @property
    def schema_name(self) -> str:
        return self.project.schema_name

    @property
    def source_path(self) -> Path | None:
        return self._source

    def table(self, key: str) -> str:
        """Fully qualified ``catalog.schema.table`` for a logical table key."""
        physical = getattr(self.tables, key, None)
        if not isinstance(physical, str):
            valid = ", ".join(TablesConfig.model_fields)
            raise ConfigError(f"unknown table key {key!r}; valid keys: {valid}")
        return f"{self.catalog}.{self.schema_name}.{physical}"

    @property
    def model_name(self) -> str:
        """Three-part registered model name, identical locally and in Unity Catalog."""
        return f"{self.catalog}.{self.schema_name}.{self.models.registered_model}"

    @property
    def config_hash(self) -> str:
        """Stable short hash of the resolved config, for MLflow tags and audit rows."""
        payload = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    # -- loading ---------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path, env: str) -> ProjectConfig:
        """Load ``path`` for ``env``; raise :class:`ConfigError` naming file/env/field/value."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: config file not found") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: top level must be a mapping, got {type(raw).__name__}")
        return cls.from_dict(raw, env, source=path)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], env: str, *, source: Path | None = None) -> ProjectConfig:
        where = str(source) if source else "<dict>"
        envs = raw.get("environments")
        if not isinstance(envs, dict) or not envs:
            raise ConfigError(f"{where}: 'environments' must map env names (dev/acc/prd) to settings")
        if env not in envs:
            raise ConfigError(f"{where}: unknown env {env!r}; valid envs: {', '.join(sorted(envs))}")
        env_raw = envs[env] if isinstance(envs[env], dict) else {}
        data = {k: copy.deepcopy(v) for k, v in raw.items() if k != "environments"}
        overrides = env_raw.get("overrides") or {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}: env {env!r}: field 'environments.{env}.overrides' must be a mapping")
        data = _deep_merge(data, overrides)
        data = apply_env_overrides(data)
        data["env"] = env
        data["environment"] = env_raw
        try:
            cfg = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_validation(exc, where, env)) from None
        cfg._source = source
        return cfg


def apply_env_overrides(data: dict[str, Any]) -> dict[str, Any]:
    """Apply :data:`ENDPOINT_OVERRIDES` from the process environment."""
    for var, field_path in ENDPOINT_OVERRIDES.items():
        value = os.environ.get(var)
        if not value:
            continue
        node = data
        for part in field_path[:-1]:
            node = node.setdefault(part, {})
        node[field_path[-1]] = value
    return data


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _format_validation(exc: ValidationError, where: str, env: str) -> str:
    lines = [f"{where}: env {env!r}: {exc.error_count()} invalid setting(s):"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        if loc.startswith("environment"):
            loc = loc.replace("environment", f"environments.{env}", 1)
        value = err.get("input")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  - field {loc}: {msg} (value: {format_value(value)})")
    return "\n".join(lines)
