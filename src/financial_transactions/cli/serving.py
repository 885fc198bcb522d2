"""``fin-mlops serve`` (the local API) and ``fin-mlops endpoint deploy|promote|status`` (Databricks serving)."""

from __future__ import annotations

import importlib.util

import typer
from rich.markup import escape
from rich.table import Table

from financial_transactions.cli.main import console, err_console, platform_from_ctx

endpoint_app = typer.Typer(
    help="Databricks Model Serving endpoint of the UC champion (databricks-sdk unified auth).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(endpoint_app, name="endpoint")


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="bind address (default: serving.host)"),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="port (default: serving.port)"),
    watch: bool = typer.Option(True, "--watch/--no-watch", help="follow the champion alias while running"),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level"),
) -> None:
    """Serve the scoring and decision API (OpenAPI docs at /docs) with the registry champion."""
    import uvicorn

    from financial_transactions.serving.api import create_app

    platform = platform_from_ctx(ctx)
    cfg = platform.config.serving
    bind_host, bind_port = host or cfg.host, port or cfg.port
    app = create_app(platform, watch=watch)
    key = "required (X-API-Key)" if cfg.api_key.resolve() else f"off (set {cfg.api_key.describe()} to require one)"
    console.print(f"serving {platform.config.model_name}@champion on http://{bind_host}:{bind_port} · API key {key}")
    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        log_level=log_level,
        access_log=False,
        proxy_headers=False,  # no handler reads the client address; one ASGI layer less per request
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
    )


def _manager(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from financial_transactions.serving.model_serving import ModelServingManager

    return ModelServingManager.from_config(platform_from_ctx(ctx).config)


def _print_state(state: object) -> None:
    from financial_transactions.serving.model_serving import EndpointState

    assert isinstance(state, EndpointState)
    if not state.exists:
        console.print(f"{state.name}: does not exist (the first `fin-mlops endpoint deploy` creates it)")
        return
    table = Table(title=f"{state.name} · {state.ready} · update {state.config_update}")
    table.add_column("served entity")
    table.add_column("model")
    table.add_column("version", justify="right")
    table.add_column("traffic", justify="right")
    for s in state.served:
        table.add_row(s.name, s.entity_name or "", s.version or "", f"{state.traffic.get(s.name, 0)}%")
    console.print(table)
    if state.pending_versions:
        console.print(f"pending config: versions {', '.join(state.pending_versions)}")


@endpoint_app.command("deploy")
def deploy(
    ctx: typer.Context,
    wait: float | None = typer.Option(
        None,
        "--wait",
        min=0,
        max=7200,
        help="seconds to wait for READY (default serving.endpoint_wait_seconds, 0 = no)",
    ),
) -> None:
    """Create or update the endpoint: champion plus the configured challenger canary split."""
    from financial_transactions.serving.model_serving import ServingError

    try:
        result = _manager(ctx).deploy(wait_seconds=wait)
    except ServingError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(code=1) from None
    console.print(escape(result.describe()), highlight=False)


@endpoint_app.command("promote")
def promote(
    ctx: typer.Context,
    wait: float | None = typer.Option(
        None,
        "--wait",
        min=1,
        max=7200,
        help="seconds to wait for READY before moving the aliases (default serving.endpoint_wait_seconds)",
    ),
) -> None:
    """Route 100% to the challenger; once the endpoint serves it, make it champion (old one: previous-champion)."""
    from financial_transactions.serving.model_serving import ServingError

    try:
        result = _manager(ctx).promote_to_production(wait_seconds=wait)
    except ServingError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(code=1) from None
    console.print(f"{result.endpoint}: champion is now v{result.champion_version} at 100% ({result.action}, READY)")


@endpoint_app.command("status")
def status(ctx: typer.Context) -> None:
    """Readiness, pending update, served versions and the traffic split."""
    from financial_transactions.serving.model_serving import ServingError

    try:
        _print_state(_manager(ctx).state())
    except ServingError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(code=1) from None
