"""The ``fin-mlops`` command line: global options plus one module per domain.

Each module in :data:`COMMAND_MODULES` exposes ``register(app)``; a command is
only registered once it really works.

Command modules import their domain code inside the command function, on purpose:
``fin-mlops --help`` and each command load only what that command runs (importing
every stage up front takes seconds: Spark, MLflow, scikit-learn), and a command whose
optional extra is missing (``bundle-check``) fails alone, with a message.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from financial_transactions.config import DEFAULT_CONFIG_FILE, ConfigError, ProjectConfig
from financial_transactions.runtime import Platform

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="fin-mlops",
    help="financial-ai-mlops: market-data MLOps on Databricks, runnable end to end on a laptop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    # click's plain help: at 80 columns (or piped) rich's option panel cut option names
    # (`--reference-versi…`) and labelled flags `<bool>`; click wraps the text and keeps every name
    rich_markup_mode=None,
)


@dataclass
class CliState:
    env: str
    config_path: Path
    lakehouse_root: Path | None
    spark_remote: str | None
    verbose: int
    _platform: Platform | None = field(default=None, repr=False)

    def platform(self) -> Platform:
        if self._platform is None:
            try:
                cfg = ProjectConfig.from_yaml(self.config_path, self.env)
            except ConfigError as exc:
                # the message quotes user values (regexes, brackets): never parse it as markup
                err_console.print(Text("config error ", style="bold red") + Text(str(exc)), highlight=False)
                raise typer.Exit(code=2) from None
            self._platform = Platform.create(cfg, lakehouse_root=self.lakehouse_root, spark_remote=self.spark_remote)
        return self._platform


def platform_from_ctx(ctx: typer.Context) -> Platform:
    """The Platform for the global options of this invocation (loaded once)."""
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        raise RuntimeError("fin-mlops global options were not parsed")
    return state.platform()


def _print_version(value: bool) -> None:
    """Eager: answers before the config is read, so it works anywhere the wheel is installed."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        print(f"fin-mlops {installed('financial-ai-mlops')}")
    except PackageNotFoundError:
        print("fin-mlops (not installed as a package: version unknown)")
    raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    env: str = typer.Option("dev", "--env", "-e", envvar="FIN_MLOPS_ENV", help="dev, acc or prd"),
    config: Path = typer.Option(
        Path(DEFAULT_CONFIG_FILE), "--config", "-c", envvar="FIN_MLOPS_CONFIG", help="project_config.yml path"
    ),
    lakehouse_root: Path | None = typer.Option(
        None, "--lakehouse-root", envvar="FIN_MLOPS_LAKEHOUSE_ROOT", help="local lakehouse root (embedded engine)"
    ),
    spark_remote: str | None = typer.Option(
        None, "--spark-remote", envvar="SPARK_REMOTE", help="Spark Connect URL, e.g. sc://localhost:15002"
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="-v info, -vv debug logging"),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the installed version and exit"
    ),
) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = CliState(env, config, lakehouse_root, spark_remote, verbose)


#: Command modules; each exposes ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: list[str] = [
    "financial_transactions.cli.core",
    "financial_transactions.cli.ingest",
    "financial_transactions.cli.pipeline",
    "financial_transactions.cli.train",
    "financial_transactions.cli.reporting",
    "financial_transactions.cli.monitoring",
    "financial_transactions.cli.deploy",
    "financial_transactions.cli.decision",
    "financial_transactions.cli.serving",
    "financial_transactions.cli.feedback",
    "financial_transactions.cli.lakehouse",
]

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)
