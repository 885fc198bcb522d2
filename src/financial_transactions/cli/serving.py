"""``fin-mlops serve`` (the local API) and ``fin-mlops endpoint deploy|promote|status`` (Databricks serving)."""

from __future__ import annotations

import importlib.util
import socket

import typer
from rich.markup import escape

from financial_transactions.cli.main import console, err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, out, show

endpoint_app = typer.Typer(
    help="Databricks Model Serving endpoint of the UC champion (databricks-sdk unified auth).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(endpoint_app, name="endpoint")


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="bind address (default: serving.host)"),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="port (default: serving.port)"),
    watch: bool = typer.Option(True, "--watch/--no-watch", help="follow the champion alias while running"),
    insecure_no_auth: bool = typer.Option(
        False,
        "--insecure-no-auth",
        help="serve /v1/* without an API key: loopback addresses only, with a warning (local experiments)",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level"),
) -> None:
    """Serve the scoring and decision API (OpenAPI docs at /docs) with the registry champion.

    Secure by default: /v1/* needs header X-API-Key holding one of the configured keys
    (FIN_MLOPS_API_KEY, or several comma-separated in FIN_MLOPS_API_KEYS). Without a key it
    starts only on a loopback address and only with --insecure-no-auth; a non-loopback
    address without a key exits 2.
    """
    import uvicorn

    from financial_transactions.serving.api import create_app
    from financial_transactions.serving.security import ApiKeys, KeyConfigError, exposure_error

    platform = platform_from_ctx(ctx)
    cfg = platform.config.serving
    bind_host, bind_port = host or cfg.host, port or cfg.port
    try:
        keys = ApiKeys.from_config(cfg, platform.secret)
    except KeyConfigError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    problem = exposure_error(bind_host, keys, insecure_no_auth, cfg)
    if problem is not None:
        err_console.print(f"[red]{escape(problem)}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2)
    try:
        sock = _bind(bind_host, bind_port)
    except OSError as exc:
        err_console.print(
            f"[red]cannot serve on {escape(bind_host)}:{bind_port}: {escape(exc.strerror or str(exc))}[/] "
            "(choose another port with --port, or stop the process holding it)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=2) from None
    app = create_app(platform, watch=watch, api_keys=keys, insecure_no_auth=insecure_no_auth)
    if keys:
        auth = f"{len(keys)} API key(s) from {', '.join(keys.sources)} (header X-API-Key)"
    else:
        auth = "NO AUTHENTICATION"
        err_console.print(
            f"[yellow]WARNING: --insecure-no-auth: /v1/* answers any process that can reach {bind_host}:{bind_port} "
            "without a key. Set FIN_MLOPS_API_KEY for anything but a local experiment.[/]",
            highlight=False,
            soft_wrap=True,
        )
    limit = (
        f"{cfg.rate_limit_per_second:g} req/s per key (burst {cfg.rate_limit_burst})"
        if cfg.rate_limit_per_second is not None
        else "no rate limit"
    )
    console.print(
        f"serving {platform.config.model_name}@champion on http://{bind_host}:{bind_port} · {auth} · {limit}",
        highlight=False,
        soft_wrap=True,
    )
    config = uvicorn.Config(
        app,
        host=bind_host,
        port=bind_port,
        log_level=log_level,
        access_log=False,
        proxy_headers=False,  # the client address logged on a failed authentication is the socket peer
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
    )
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """Bind before building the app, so a busy port is one line and exit 2 (as for ``replay``), not uvicorn's exit 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _manager(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from financial_transactions.runtime.serving_endpoint import ModelServingManager

    return ModelServingManager.from_config(platform_from_ctx(ctx).config)


def _print_state(state: object, as_json: bool = False) -> None:
    from financial_transactions.runtime.serving_endpoint import EndpointState

    assert isinstance(state, EndpointState)
    if not state.exists:
        out(as_json).print(f"{state.name}: does not exist (the first `fin-mlops endpoint deploy` creates it)")
        if as_json:
            show([DataTable("served", [], [])], as_json)
        return
    rows = [
        {
            "served_entity": s.name,
            "model": s.entity_name,
            "version": s.version,
            "traffic_percent": state.traffic.get(s.name, 0),
        }
        for s in state.served
    ]
    table = DataTable(
        "served",
        [
            Column("served_entity", "served entity", ident=True),
            Column("model", "model", wrap=True),
            Column("version", "version", justify="right"),
            Column("traffic_percent", "traffic", justify="right", fmt=lambda r: f"{r['traffic_percent']}%"),
        ],
        rows,
        title=f"{state.name} · {state.ready} · update {state.config_update}",
    )
    show([table], as_json)
    if state.pending_versions:
        out(as_json).print(f"pending config: versions {', '.join(state.pending_versions)}")


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
    from financial_transactions.runtime.serving_endpoint import ServingError

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
    from financial_transactions.runtime.serving_endpoint import ServingError

    try:
        result = _manager(ctx).promote_to_production(wait_seconds=wait)
    except ServingError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(code=1) from None
    console.print(f"{result.endpoint}: champion is now v{result.champion_version} at 100% ({result.action}, READY)")


@endpoint_app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Readiness, pending update, served versions and the traffic split."""
    from financial_transactions.runtime.serving_endpoint import ServingError

    try:
        _print_state(_manager(ctx).state(), as_json)
    except ServingError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(code=1) from None
