"""Building blocks shared by every config section.

Every section model derives from :class:`StrictModel` so that a typo in
``project_config.yml`` is an error instead of a silently ignored key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: ``(scope, key) -> value or None``: a platform's secret store (see ``Runtime.read_secret``).
SecretReader = Callable[[str, str], str | None]


class StrictModel(BaseModel):
    """Base for all config models: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ConfigError(ValueError):
    """A config file is unreadable or invalid; the message names file, env, field and value."""


class CredentialRef(StrictModel):
    """Where a secret lives, never the secret itself.

    Resolution order: the environment variable (laptop, CI, ``spark_env_vars``
    filled from ``{{secrets/scope/key}}`` on Databricks), then the secret scope
    through the ``secrets`` reader the runtime provides (``platform.secret(ref)``;
    the Databricks runtime reads scopes with databricks-sdk, the local runtime has
    none). Values are never logged.
    """

    env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    secret_scope: str | None = Field(default=None, min_length=1, max_length=128)
    secret_key: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _scope_and_key_together(self) -> CredentialRef:
        if (self.secret_scope is None) != (self.secret_key is None):
            raise ValueError("secret_scope and secret_key must be given together")
        if self.env is None and self.secret_scope is None:
            raise ValueError("give an env var name and/or a secret_scope + secret_key")
        return self

    def resolve(self, secrets: SecretReader | None = None) -> str | None:
        """Return the secret, or None when neither source has it (no ``secrets``: the environment only)."""
        if self.env and os.environ.get(self.env):
            return os.environ[self.env]
        if self.secret_scope and self.secret_key and secrets is not None:
            return secrets(self.secret_scope, self.secret_key)
        return None

    def describe(self) -> str:
        """A loggable description of where the secret comes from (never its value)."""
        parts = []
        if self.env:
            parts.append(f"env:{self.env}")
        if self.secret_scope:
            parts.append(f"secret:{self.secret_scope}/{self.secret_key}")
        return " | ".join(parts)


def redact(text: str, secrets: list[str | None] | None = None) -> str:
    """Mask ``token=``/``apikey=``/``api_key=`` query values and any known secret value."""
    import re

    out = re.sub(r"(?i)((?:token|apikey|api_key|key)=)[^&\s\"']+", r"\1***", text)
    for value in secrets or []:
        if value:
            out = out.replace(value, "***")
    return out


def format_value(value: Any) -> str:
    """Render a bad value compactly for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
