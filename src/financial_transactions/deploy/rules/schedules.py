"""Schedules: a valid Quartz cron expression (as every target resolves it) and a known time zone."""

from __future__ import annotations

import zoneinfo

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of
from financial_transactions.deploy.cron import CronError, validate_quartz
from financial_transactions.deploy.resolve import resolve, target_views, unresolved


def check_schedules(ctx: Ctx, inputs: RuleInputs) -> None:
    """Each schedule parses as Quartz in every target (each distinct expression once) and names a real zone."""
    cfg = ctx.bundle.config
    bundle_name = str((cfg.get("bundle") or {}).get("name", ""))
    views = target_views(cfg)
    for key, job in ctx.bundle.iter_resources("jobs"):
        schedule = job.get("schedule")
        if not isinstance(schedule, dict):
            continue
        spath = f"resources.jobs.{key}.schedule"
        seen: set[str] = set()
        for view in views:
            expr = resolve(schedule.get("quartz_cron_expression"), view, bundle_name)
            if not isinstance(expr, str) or unresolved(expr) or expr in seen:
                continue
            seen.add(expr)
            try:
                validate_quartz(expr)
            except CronError as exc:
                ctx.error(
                    "cron",
                    f"job '{key}': invalid Quartz cron: {exc}",
                    loc_of(schedule, "quartz_cron_expression"),
                    f"{spath}.quartz_cron_expression",
                )
        zone = schedule.get("timezone_id")
        if isinstance(zone, str) and not unresolved(zone):
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                ctx.error(
                    "cron",
                    f"job '{key}': unknown timezone_id {zone!r}",
                    loc_of(schedule, "timezone_id"),
                    f"{spath}.timezone_id",
                )


RULE = Rule("cron", "Quartz cron + timezones", check_schedules)
