"""Typed project configuration (pydantic v2); see ``project_config.yml``."""

from financial_transactions.config.core import ConfigError, CredentialRef, StrictModel, redact
from financial_transactions.config.project import ENDPOINT_OVERRIDES, ProjectConfig

DEFAULT_CONFIG_FILE = "project_config.yml"

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "ENDPOINT_OVERRIDES",
    "ConfigError",
    "CredentialRef",
    "ProjectConfig",
    "StrictModel",
    "redact",
]
