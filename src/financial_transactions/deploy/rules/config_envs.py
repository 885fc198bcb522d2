"""project_config.yml: every env's merged config validates, not only the one a command runs with.

A typo in ``environments.prd.overrides`` passes every dev command (dev never merges prd's overrides),
so ``bundle-check`` loads each env the way a job does (``ProjectConfig.from_yaml(path, env)``) and
reports each invalid setting at its line, under the override that put it there.
"""

from __future__ import annotations

import re

import yaml

from financial_transactions.config import ConfigError, ProjectConfig
from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, rel
from financial_transactions.deploy.findings import Finding

_FIELD = re.compile(r"^\s*- field (?P<field>\S+): (?P<rest>.*)$")


def check_config_envs(ctx: Ctx, inputs: RuleInputs) -> None:
    """Validate ``project_config.yml`` once per env it declares; one finding per invalid setting."""
    path = inputs.project_config
    if path is None or not path.is_file():
        return  # the targets rule reports a missing project_config.yml
    relative = rel(ctx.root, path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        root_node = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        _error(ctx, relative, None, None, f"not valid YAML: {exc}")
        return
    envs = raw.get("environments") if isinstance(raw, dict) else None
    if not isinstance(envs, dict) or not envs:
        _error(ctx, relative, None, "environments", "'environments' must map env names (dev/acc/prd) to settings")
        return
    for env in envs:
        try:
            ProjectConfig.from_yaml(path, str(env))
        except ConfigError as exc:
            _report(ctx, relative, root_node, str(env), envs[env], str(exc))


def _report(ctx: Ctx, relative: str, root_node: yaml.Node | None, env: str, env_raw: object, message: str) -> None:
    fields = [m for m in (_FIELD.match(line) for line in message.splitlines()) if m]
    if not fields:  # a whole-file problem (overrides not a mapping, ...): the message says which
        text = message.split(": ", 1)[-1]  # drop the file name: the finding names it
        text = text if text.startswith("env ") else f"env {env!r}: {text}"
        _error(ctx, relative, _line(root_node, ["environments", env]), f"environments.{env}", text)
        return
    overrides = env_raw.get("overrides") if isinstance(env_raw, dict) else None
    for match in fields:
        field = match["field"]
        parts = field.split(".")
        # a setting an override introduced is reported where the override wrote it
        if isinstance(overrides, dict) and _has(overrides, parts):
            keys = ["environments", env, "overrides", *parts]
        elif field.startswith(f"environments.{env}"):
            keys = field.split(".")
        else:
            keys = parts
        line = _line(root_node, keys) or _line(root_node, ["environments", env])
        _error(ctx, relative, line, ".".join(keys), f"env {env!r}: field {'.'.join(keys)}: {match['rest']}")


def _has(node: object, parts: list[str]) -> bool:
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _line(node: yaml.Node | None, keys: list[str]) -> int | None:
    """1-based line of the deepest key of ``keys`` found in the composed YAML."""
    line: int | None = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == key:
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


def _error(ctx: Ctx, file: str, line: int | None, path: str | None, message: str) -> None:
    finding = Finding("config", "error", message, file, line, path)
    if finding not in ctx.findings:
        ctx.findings.append(finding)


RULE = Rule("config", "project_config.yml: every env's merged config validates", check_config_envs)
