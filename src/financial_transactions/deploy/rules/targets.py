"""Targets: each sets its catalog (matching project_config.yml), an https host, prd rules, paused schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of
from financial_transactions.deploy.resolve import TargetView, declared_variables, resolve, target_views, unresolved

SHARED_ROOTS = ("/Workspace/Shared", "/Shared")


def check_targets(ctx: Ctx, inputs: RuleInputs) -> None:
    """Each target sets its catalog (as project_config.yml has it) and an https host; prd runs as a service
    principal under a fixed root path outside /Workspace/Shared; schedules run unpaused only in production."""
    project_config = inputs.project_config
    cfg = ctx.bundle.config
    targets = cfg.get("targets")
    if not isinstance(targets, dict) or not targets:
        ctx.error("targets", "the bundle defines no targets (expected dev, acc and prd)", cfg.loc(), "targets")
        return
    defaults = [name for name, spec in targets.items() if isinstance(spec, dict) and spec.get("default") is True]
    if len(defaults) > 1:
        ctx.error("targets", f"more than one default target: {', '.join(defaults)}", loc_of(targets), "targets")
    envs = _config_environments(project_config)
    bundle_name = str((cfg.get("bundle") or {}).get("name", ""))
    for view in target_views(cfg):
        tpath = f"targets.{view.name}"
        tloc = loc_of(targets, view.name)
        # catalog: set explicitly per target
        if "catalog" not in declared_variables(cfg):
            ctx.error("targets", "the bundle declares no `catalog` variable", cfg.loc("variables"), "variables")
        elif "catalog" not in view.explicit:
            ctx.error("targets", f"target '{view.name}' does not set variable `catalog`", tloc, tpath)
        else:
            catalog = resolve(view.variables.get("catalog"), view, bundle_name)
            if not isinstance(catalog, str) or not catalog.strip() or unresolved(catalog):
                ctx.error("targets", f"target '{view.name}' sets an empty catalog ({catalog!r})", tloc, tpath)
            elif envs is not None and view.name in envs and envs[view.name].get("catalog") not in (None, catalog):
                ctx.error(
                    "targets",
                    f"target '{view.name}' uses catalog {catalog!r} but project_config.yml says "
                    f"{envs[view.name].get('catalog')!r} for env '{view.name}'",
                    tloc,
                    tpath,
                )
        if envs is not None and view.name not in envs:
            ctx.error(
                "targets",
                f"target '{view.name}' is not an env of project_config.yml (envs: {', '.join(sorted(envs))}); "
                "tasks pass --env ${bundle.target}",
                tloc,
                tpath,
            )
        workspace = view.spec.get("workspace")
        host = workspace.get("host") if isinstance(workspace, dict) else None
        if not isinstance(host, str) or not host.strip():
            ctx.error("targets", f"target '{view.name}' sets no workspace.host", tloc, tpath)
        elif not host.startswith("https://"):
            ctx.error("targets", f"target '{view.name}' workspace.host {host!r} must start with https://", tloc, tpath)
        if view.is_production:
            if view.mode != "production":
                ctx.error("targets", f"production target '{view.name}' must set `mode: production`", tloc, tpath)
            if not isinstance(view.spec.get("run_as"), dict):
                ctx.error("targets", f"production target '{view.name}' must run as a service principal", tloc, tpath)
            if not (isinstance(workspace, dict) and workspace.get("root_path")):
                ctx.error(
                    "targets", f"production target '{view.name}' must set a fixed workspace.root_path", tloc, tpath
                )
        # /Workspace/Shared is writable by every workspace user: anyone could edit the scripts and config a
        # shared deployment runs. Production targets deploy into the service principal's home.
        # https://docs.databricks.com/aws/en/dev-tools/bundles/deployment-modes#production-mode
        root_path = workspace.get("root_path") if isinstance(workspace, dict) else None
        if view.mode != "development" and isinstance(root_path, str) and root_path.startswith(SHARED_ROOTS):
            ctx.error(
                "targets",
                f"target '{view.name}' deploys under {root_path!r}, which every workspace user can write; use "
                "/Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/${bundle.target}",
                loc_of(workspace, "root_path") or tloc,
                f"{tpath}.workspace.root_path",
            )
        _check_pause_status(ctx, view, bundle_name)


def _config_environments(project_config: Path | None) -> dict[str, dict[str, Any]] | None:
    if project_config is None or not project_config.is_file():
        return None
    try:
        data = yaml.safe_load(project_config.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    envs = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(envs, dict):
        return None
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in envs.items()}


def _job_overrides(view: TargetView, key: str) -> dict[str, Any]:
    resources = view.spec.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("jobs"), dict):
        override = resources["jobs"].get(key)
        if isinstance(override, dict):
            return override
    return {}


def _check_pause_status(ctx: Ctx, view: TargetView, bundle_name: str) -> None:
    presets = view.spec.get("presets")
    preset_pause = presets.get("trigger_pause_status") if isinstance(presets, dict) else None
    preset_pause = resolve(preset_pause, view, bundle_name)
    for key, job in ctx.bundle.iter_resources("jobs"):
        override = _job_overrides(view, key)
        for trigger in ("schedule", "trigger", "continuous"):
            spec = override.get(trigger) if trigger in override else job.get(trigger)
            if not isinstance(spec, dict):
                continue
            explicit = resolve(spec.get("pause_status"), view, bundle_name)
            if explicit in ("PAUSED", "UNPAUSED"):
                effective = explicit
            elif explicit is not None:
                ctx.error(
                    "targets",
                    f"job '{key}' {trigger}.pause_status resolves to {explicit!r} in target '{view.name}' "
                    "(expected PAUSED or UNPAUSED)",
                    loc_of(spec, "pause_status"),
                    f"resources.jobs.{key}.{trigger}.pause_status",
                )
                continue
            elif view.mode == "development" or preset_pause == "PAUSED":
                effective = "PAUSED"
            else:
                effective = "UNPAUSED"
            if effective == "UNPAUSED" and not view.is_production:
                ctx.error(
                    "targets",
                    f"job '{key}' {trigger} runs unpaused in non-production target '{view.name}'; "
                    "schedules must be paused outside prd",
                    loc_of(spec, "pause_status") or loc_of(job, trigger),
                    f"resources.jobs.{key}.{trigger}",
                )
            elif effective == "PAUSED" and view.is_production:
                ctx.warn(
                    "targets",
                    f"job '{key}' {trigger} is paused in production target '{view.name}'",
                    loc_of(spec, "pause_status") or loc_of(job, trigger),
                    f"resources.jobs.{key}.{trigger}",
                )


RULE = Rule("targets", "Targets: catalog, host, prd rules, paused schedules", check_targets)
