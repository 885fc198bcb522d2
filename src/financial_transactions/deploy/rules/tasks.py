"""Task graphs: one task type each, known dependencies without cycles, conditions, compute, value references."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from financial_transactions.deploy.context import Ctx, Rule, RuleInputs, loc_of, suggest, walk
from financial_transactions.deploy.resolve import DYNAMIC, defined_resources

TASK_TYPES = [
    "ai_runtime_task",
    "alert_task",
    "clean_rooms_notebook_task",
    "condition_task",
    "dashboard_task",
    "dbt_cloud_task",
    "dbt_platform_task",
    "dbt_task",
    "for_each_task",
    "gen_ai_compute_task",
    "notebook_task",
    "pipeline_task",
    "power_bi_task",
    "python_operator_task",
    "python_wheel_task",
    "run_job_task",
    "spark_jar_task",
    "spark_python_task",
    "spark_submit_task",
    "sql_task",
]
#: Task types that run Python/JVM code and so need compute (a cluster or a serverless environment).
COMPUTE_TASKS = ("python_wheel_task", "spark_python_task", "spark_jar_task")


def _task_refs(value: Any) -> Iterator[str]:
    for _path, item, _loc in [("", value, None), *walk(value)]:
        if isinstance(item, str):
            for match in DYNAMIC.finditer(item):
                yield match.group(1)


def check_tasks(ctx: Ctx, inputs: RuleInputs) -> None:
    """Each job's task graph is runnable: typed tasks, known acyclic dependencies, compute, value references."""
    defined_jobs = defined_resources(ctx.bundle.config).get("jobs", set())
    for key, job in ctx.bundle.iter_resources("jobs"):
        jpath = f"resources.jobs.{key}"
        tasks = job.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            ctx.error("tasks", f"job '{key}' has no tasks", loc_of(job), jpath)
            continue
        by_key: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, task in enumerate(tasks):
            if not isinstance(task, dict) or not isinstance(task.get("task_key"), str):
                continue
            if task["task_key"] in by_key:
                ctx.error(
                    "tasks",
                    f"job '{key}' has two tasks named {task['task_key']!r}",
                    loc_of(tasks, index),
                    f"{jpath}.tasks[{index}]",
                )
            by_key.setdefault(task["task_key"], (index, task))
        clusters = {c.get("job_cluster_key") for c in job.get("job_clusters") or [] if isinstance(c, dict)}
        environments = {e.get("environment_key") for e in job.get("environments") or [] if isinstance(e, dict)}
        parameters = {p.get("name") for p in job.get("parameters") or [] if isinstance(p, dict)}
        edges: dict[str, list[str]] = {}
        for task_key, (index, task) in by_key.items():
            tpath = f"{jpath}.tasks[{index}]"
            tloc = loc_of(tasks, index)
            kinds = [k for k in TASK_TYPES if k in task]
            if len(kinds) != 1:
                what = "no task type" if not kinds else f"several task types ({', '.join(kinds)})"
                ctx.error("tasks", f"task '{task_key}' of job '{key}' has {what}", tloc, tpath)
            deps = task.get("depends_on")
            edges[task_key] = []
            for di, dep in enumerate(deps if isinstance(deps, list) else []):
                upstream = dep.get("task_key") if isinstance(dep, dict) else None
                dloc = loc_of(deps, di)
                if upstream == task_key:
                    ctx.error(
                        "tasks", f"task '{task_key}' of job '{key}' depends on itself", dloc, f"{tpath}.depends_on"
                    )
                    continue
                if upstream not in by_key:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' depends on unknown task {upstream!r}"
                        f"{suggest(str(upstream), by_key)}",
                        dloc,
                        f"{tpath}.depends_on[{di}]",
                    )
                    continue
                edges[task_key].append(str(upstream))
                outcome = dep.get("outcome")
                if outcome is not None:
                    if "condition_task" not in by_key[str(upstream)][1]:
                        ctx.error(
                            "tasks",
                            f"task '{task_key}' sets outcome on '{upstream}', which is not a condition_task",
                            dloc,
                            f"{tpath}.depends_on[{di}]",
                        )
                    elif str(outcome) not in ("true", "false"):
                        ctx.error(
                            "tasks", f'outcome {outcome!r} must be "true" or "false"', dloc, f"{tpath}.depends_on[{di}]"
                        )
            if any(k in task for k in COMPUTE_TASKS):
                compute = [
                    k for k in ("job_cluster_key", "existing_cluster_id", "new_cluster", "environment_key") if k in task
                ]
                if not compute:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' has no compute (job_cluster_key, "
                        "existing_cluster_id, new_cluster or environment_key)",
                        tloc,
                        tpath,
                    )
                elif len(compute) > 1:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' sets several computes: {', '.join(compute)}",
                        tloc,
                        tpath,
                    )
            if "job_cluster_key" in task and task["job_cluster_key"] not in clusters:
                ctx.error(
                    "tasks",
                    f"task '{task_key}' uses job cluster {task['job_cluster_key']!r}, which job "
                    f"'{key}' does not define",
                    loc_of(task, "job_cluster_key"),
                    tpath,
                )
            if "environment_key" in task:
                if task["environment_key"] not in environments:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' uses environment {task['environment_key']!r}, which job "
                        f"'{key}' does not define",
                        loc_of(task, "environment_key"),
                        tpath,
                    )
                if task.get("libraries"):
                    ctx.error(
                        "tasks",
                        f"serverless task '{task_key}' sets libraries; put them in the environment's dependencies",
                        loc_of(task, "libraries"),
                        tpath,
                    )
            run_job = task.get("run_job_task")
            if isinstance(run_job, dict):
                job_id = run_job.get("job_id")
                match = re.fullmatch(r"\$\{resources\.jobs\.([\w-]+)\.id\}", str(job_id))
                if match and match.group(1) == key:
                    ctx.error(
                        "tasks",
                        f"task '{task_key}' of job '{key}' starts its own job",
                        loc_of(run_job, "job_id"),
                        f"{tpath}.run_job_task.job_id",
                    )
                elif not match and not isinstance(job_id, int):
                    ctx.error(
                        "tasks",
                        f"run_job_task.job_id {job_id!r} should be ${{resources.jobs.<key>.id}} "
                        f"(jobs: {', '.join(sorted(defined_jobs))})",
                        loc_of(run_job, "job_id"),
                        f"{tpath}.run_job_task.job_id",
                    )
        _check_cycles(ctx, key, jpath, tasks, by_key, edges)
        ancestors = _ancestors(edges)
        for task_key, (index, task) in by_key.items():
            tpath = f"{jpath}.tasks[{index}]"
            for ref in _task_refs({k: v for k, v in task.items() if k != "depends_on"}):
                parts = ref.split(".")
                if parts[0] == "tasks" and len(parts) >= 3:
                    upstream = parts[1]
                    if upstream not in by_key:
                        ctx.error(
                            "tasks",
                            f"{{{{{ref}}}}} refers to unknown task {upstream!r}{suggest(upstream, by_key)}",
                            loc_of(tasks, index),
                            tpath,
                        )
                    elif upstream not in ancestors.get(task_key, set()):
                        ctx.error(
                            "tasks",
                            f"task '{task_key}' reads {{{{{ref}}}}} but does not depend on "
                            f"'{upstream}' (add it to depends_on)",
                            loc_of(tasks, index),
                            tpath,
                        )
                elif parts[:2] == ["job", "parameters"] and len(parts) >= 3 and parts[2] not in parameters:
                    ctx.error(
                        "tasks",
                        f"{{{{{ref}}}}}: job '{key}' has no parameter {parts[2]!r}",
                        loc_of(tasks, index),
                        tpath,
                    )


def _check_cycles(
    ctx: Ctx,
    key: str,
    jpath: str,
    tasks: list[Any],
    by_key: dict[str, tuple[int, dict[str, Any]]],
    edges: dict[str, list[str]],
) -> None:
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(edges, white)
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        color[node] = grey
        stack.append(node)
        for nxt in edges.get(node, []):
            if color.get(nxt) == grey:
                cycle = stack[stack.index(nxt) :]
                members = frozenset(cycle)
                if members not in reported:
                    reported.add(members)
                    first = min(cycle, key=lambda k: by_key[k][0])
                    # edges point downstream -> upstream; show the run order, starting at the first task
                    run_order = list(reversed(cycle))
                    start = run_order.index(first)
                    ordered = run_order[start:] + run_order[:start]
                    chain = " -> ".join([*ordered, first])
                    index = by_key[first][0]
                    ctx.error(
                        "tasks",
                        f"job '{key}' has a dependency cycle: {chain}",
                        loc_of(tasks, index),
                        f"{jpath}.tasks[{index}].depends_on",
                    )
            elif color.get(nxt) == white:
                visit(nxt, stack)
        stack.pop()
        color[node] = black

    for node in sorted(edges, key=lambda k: by_key[k][0]):
        if color[node] == white:
            visit(node, [])


def _ancestors(edges: dict[str, list[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for start in edges:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(edges.get(node, []))
        out[start] = seen
    return out


RULE = Rule("tasks", "Task graphs (depends_on, conditions, compute)", check_tasks)
