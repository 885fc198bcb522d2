"""``fin-mlops replay`` and ``fin-mlops ingest finnhub|alphavantage|crypto``.

``replay`` serves the offline market on 127.0.0.1 until Ctrl-C/SIGTERM (or
``--duration``); ``ingest`` runs one collector against the configured endpoint
(the vendor, or a replay: ``--url`` / ``FIN_MLOPS_*_URL``) with live counters.
``ingest finnhub|crypto --continuous`` is the always-on collector the Databricks
continuous job runs (until SIGTERM, under the feed's lease); ``ingest gaps``
writes ``collector_gaps`` from the collectors' connection events.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.live import Live
from rich.markup import escape

from financial_transactions.cli.main import err_console, platform_from_ctx
from financial_transactions.cli.tables import JSON, Column, DataTable, key_value_table, out, show

if TYPE_CHECKING:
    from financial_transactions.ingest.collectors import StreamCollector

_CONTINUOUS_HELP = "run until SIGTERM/Ctrl-C, reconnecting however often the feed drops (the always-on job)"
ingest_app = typer.Typer(
    help="Run a market-data collector into the landing zone.", no_args_is_help=True, rich_markup_mode=None
)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.add_typer(ingest_app, name="ingest")


def _symbols(option: str | None) -> list[str] | None:
    """``--symbols A,B`` -> ["A", "B"]; None means the configured symbols."""
    if not option:
        return None
    return [s.strip() for s in option.split(",") if s.strip()] or None


def replay(
    ctx: typer.Context,
    window: int = typer.Option(1, "--window", min=1, max=10, help="replay window (2 = regime shift)"),
    speed: float | None = typer.Option(None, "--speed", min=0, help="x event time; 0 = as fast as clients read"),
    finnhub_port: int | None = typer.Option(None, "--finnhub-port", min=0, max=65535),
    alphavantage_port: int | None = typer.Option(None, "--alphavantage-port", min=0, max=65535),
    binance_port: int | None = typer.Option(None, "--binance-port", min=0, max=65535),
    token: str | None = typer.Option(None, "--token", help="accept only this token/apikey (default: any non-empty)"),
    csv: Path | None = typer.Option(None, "--csv", help="replay this CSV of trades or OHLCV bars instead"),
    parquet: Path | None = typer.Option(None, "--parquet", help="replay this Parquet file of trades or bars"),
    kind: str | None = typer.Option(None, "--kind", help="trades, bars or auto (default: by the columns)"),
    symbol: str | None = typer.Option(None, "--symbol", help="the instrument of a file without a symbol column"),
    asset_class: str | None = typer.Option(None, "--asset-class", help="equity, crypto or future for every symbol"),
    drop_every: int | None = typer.Option(None, "--drop-every", min=0, help="fault: close after every N messages"),
    malformed_every: int | None = typer.Option(None, "--malformed-every", min=0, help="fault: bad frame every N"),
    delay_ms: float | None = typer.Option(None, "--delay-ms", min=0, help="fault: delay every frame"),
    av_note_every: int | None = typer.Option(None, "--av-note-every", min=0, help="fault: Note payload every N"),
    av_information_every: int | None = typer.Option(None, "--av-information-every", min=0),
    av_5xx_every: int | None = typer.Option(None, "--av-5xx-every", min=0, help="fault: HTTP 503 every N calls"),
    av_slow_every: int | None = typer.Option(None, "--av-slow-every", min=0),
    av_slow_seconds: float | None = typer.Option(None, "--av-slow-seconds", min=0),
    duration: float | None = typer.Option(None, "--duration", min=0.1, help="stop after N seconds"),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="print the endpoints as one JSON object on stdout once serving (the live status goes to stderr)",
    ),
) -> None:
    """Serve the offline market over the Finnhub, Binance and Alpha Vantage protocols on 127.0.0.1."""
    from financial_transactions.cli.core import user_file_updates
    from financial_transactions.replay.servers import ReplayHub
    from financial_transactions.replay.window import build_market

    platform = platform_from_ctx(ctx)
    file_updates = user_file_updates(csv, parquet, kind, symbol, asset_class)
    cfg = platform.config
    fault_updates = {
        k: v
        for k, v in {
            "drop_every_n_messages": drop_every,
            "malformed_every_n_messages": malformed_every,
            "delay_ms": delay_ms,
            "av_note_every_n": av_note_every,
            "av_information_every_n": av_information_every,
            "av_server_error_every_n": av_5xx_every,
            "av_slow_every_n": av_slow_every,
            "av_slow_seconds": av_slow_seconds,
        }.items()
        if v is not None
    }
    updates: dict[str, Any] = {"faults": cfg.replay.faults.model_copy(update=fault_updates)}
    updates.update(file_updates)
    try:
        replay_cfg = type(cfg.replay).model_validate({**cfg.replay.model_dump(), **updates})
    except ValueError as exc:
        err_console.print(f"[red]replay settings: {exc}[/]", highlight=False)
        raise typer.Exit(code=2) from None
    cfg = cfg.model_copy(update={"replay": replay_cfg})
    try:
        market = build_market(cfg, window)
    except ValueError as exc:
        err_console.print(f"[red]replay source error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    truth = market.write_ground_truth(Path(platform.paths.landing))
    ports = (
        replay_cfg.finnhub_port if finnhub_port is None else finnhub_port,
        replay_cfg.alphavantage_port if alphavantage_port is None else alphavantage_port,
        replay_cfg.binance_port if binance_port is None else binance_port,
    )
    hub = ReplayHub(market, replay_cfg, ports=ports, token=token, speed=speed)
    try:
        urls = hub.start()
    except RuntimeError as exc:
        err_console.print(
            f"[red]{escape(str(exc))}[/] (choose other ports with --finnhub-port/--binance-port/--alphavantage-port)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=2) from None
    info = key_value_table(
        "replay",
        [
            ("Finnhub WebSocket", f"{urls.finnhub}/?token=<any>  (FIN_MLOPS_FINNHUB_WS_URL)"),
            ("Binance stream", f"{urls.binance}/stream?streams=btcusdt@trade  (FIN_MLOPS_CRYPTO_WS_URL)"),
            ("Alpha Vantage", f"{urls.alphavantage}/query  (FIN_MLOPS_ALPHAVANTAGE_URL)"),
            ("market", ", ".join(f"{k}={v:,}" for k, v in market.counts().items())),
            ("ground truth", str(truth)),
        ],
        title=f"replay: {market.description}",
    )
    show([info], as_json)
    console = out(as_json)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    deadline = None if duration is None else time.monotonic() + duration
    try:
        with Live(_replay_status(hub), console=console, refresh_per_second=4) as live:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                stop.wait(0.25)
                live.update(_replay_status(hub))
    finally:
        hub.stop()
        for s, h in previous.items():
            signal.signal(s, h)


def _count(key: str) -> Column:
    return Column(key, key.replace("_", " "), justify="right", fmt=lambda r: "-" if r[key] is None else f"{r[key]:,}")


def _replay_status(hub: Any) -> DataTable:
    rows: list[dict[str, Any]] = []
    for name, feed in (("finnhub", hub.finnhub), ("binance", hub.binance)):
        st = feed.stats
        state = "exhausted" if feed.exhausted.is_set() else "playing" if feed.started.is_set() else "waiting"
        rows.append(
            {
                "feed": name,
                "connections": st.connections,
                "trades_sent": st.trades_sent,
                "trades": len(feed.events),
                "frames": st.frames_sent,
                "malformed": st.malformed_sent,
                "drops": st.drops,
                "answers": None,
                "calls": None,
                "state": state,
            }
        )
    av = hub.alphavantage.stats.as_dict()
    rows.append(
        {
            "feed": "alphavantage",
            **dict.fromkeys(("connections", "trades_sent", "trades", "frames", "malformed", "drops"), None),
            "answers": av["data"],
            "calls": av["calls"],
            "state": "serving",
        }
    )

    def sent(r: dict[str, Any]) -> str:
        return f"{r['answers']:,} answers" if r["trades"] is None else f"{r['trades_sent']:,}/{r['trades']:,}"

    def frames(r: dict[str, Any]) -> str:
        return f"{r['calls']:,} calls" if r["frames"] is None else f"{r['frames']:,}"

    columns = [
        Column("feed", "feed", ident=True),
        _count("connections"),
        Column("trades_sent", "trades sent", short="sent", justify="right", fmt=sent),
        Column("frames", "frames", justify="right", fmt=frames),
        _count("malformed"),
        _count("drops"),
        Column("state", "state"),
    ]
    return DataTable("status", columns, rows, title="replay status")


def _counters_table(title: str, counters: dict[str, Any], name: str = "counters") -> DataTable:
    return key_value_table(name, counters.items(), key="counter", title=title)


def _run_stream(collector: StreamCollector, duration: float | None, as_json: bool = False) -> None:
    """Run ``collector`` with live counters: for ``duration`` seconds, or (None) until SIGTERM/Ctrl-C."""
    from financial_transactions.ingest.collectors import FeedLeaseHeld
    from financial_transactions.ingest.redaction import CollectorError

    box: dict[str, BaseException] = {}
    span = "continuous, until stopped" if duration is None else f"{duration:g}s max"

    console = out(as_json)

    def render() -> DataTable:
        c = collector.counters.as_dict()
        c["buffered"] = collector.writer.buffered
        return _counters_table(f"{collector.collector} run {collector.run_id} ({span})", c)

    try:
        with Live(get_renderable=render, console=console, refresh_per_second=4, transient=True):
            try:
                collector.run(duration=duration, handle_signals=True, persistent=duration is None)
            except FeedLeaseHeld as exc:  # expected while another collector holds the feed: one line, no counters
                err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False, soft_wrap=True)
                raise typer.Exit(code=2) from None
            except CollectorError as exc:
                box["error"] = exc
    finally:
        show([render()], as_json)
    if collector.counters.connections == 0:  # nothing was collected: an unreachable feed is a failure, not "0 trades"
        why = box.get("error") or collector.last_error or "no connection was made"
        within = "" if duration is None else f" in {duration:g}s"
        err_console.print(
            f"[red]{collector.collector}: never connected{within}: {escape(str(why))}[/] "
            "(check --url, the network and the key)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=2)
    if "error" in box:
        err_console.print(f"[red]{escape(str(box['error']))}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)


@ingest_app.command("finnhub")
def ingest_finnhub(
    ctx: typer.Context,
    duration: float | None = typer.Option(None, "--duration", min=0.1, help="seconds (default: config)"),
    url: str | None = typer.Option(None, "--url", help="WebSocket URL (default: collectors.finnhub.ws_url)"),
    symbols: str | None = typer.Option(None, "--symbols", help="comma-separated (default: symbols.equities + futures)"),
    continuous: bool = typer.Option(False, "--continuous", help=_CONTINUOUS_HELP),
    as_json: bool = JSON,
) -> None:
    """Stream Finnhub trades into the landing zone (SIGTERM/Ctrl-C flush and exit cleanly)."""
    from financial_transactions.ingest.jobs import finnhub_collector
    from financial_transactions.ingest.redaction import CollectorError

    platform = platform_from_ctx(ctx)
    try:
        collector = finnhub_collector(platform, url=url, symbols=_symbols(symbols))
    except CollectorError as exc:
        err_console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(code=2) from None
    _run_stream(collector, _span(continuous, duration, platform.config.collectors.finnhub.duration_seconds), as_json)


@ingest_app.command("crypto")
def ingest_crypto(
    ctx: typer.Context,
    duration: float | None = typer.Option(None, "--duration", min=0.1, help="seconds (default: config)"),
    url: str | None = typer.Option(None, "--url", help="stream base URL (default: collectors.crypto.ws_url)"),
    symbols: str | None = typer.Option(None, "--symbols", help="comma-separated (default: symbols.crypto)"),
    continuous: bool = typer.Option(False, "--continuous", help=_CONTINUOUS_HELP),
    as_json: bool = JSON,
) -> None:
    """Stream Binance-protocol trades (combined stream) into the landing zone."""
    from financial_transactions.ingest.jobs import crypto_collector

    platform = platform_from_ctx(ctx)
    collector = crypto_collector(platform, url=url, symbols=_symbols(symbols))
    _run_stream(collector, _span(continuous, duration, platform.config.collectors.crypto.duration_seconds), as_json)


def _span(continuous: bool, duration: float | None, default: float) -> float | None:
    """The run's duration: None (until stopped) with --continuous, else --duration or the config's."""
    if continuous and duration is not None:
        err_console.print("[red]--continuous runs until stopped; drop --duration (or drop --continuous)[/]")
        raise typer.Exit(code=2)
    return None if continuous else duration or default


@ingest_app.command("gaps")
def ingest_gaps(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Measure connection-down seconds per stream feed and day into collector_gaps (idempotent: merge by feed, day)."""
    from financial_transactions.ingest.jobs import record_gaps

    platform = platform_from_ctx(ctx)
    rows = record_gaps(platform)
    if not rows:
        out(as_json).print(
            "no collector events yet: run `fin-mlops ingest finnhub --continuous` (or crypto) first", highlight=False
        )
        if as_json:
            show([DataTable("gaps", [], [])], as_json)
        return

    def seconds(key: str) -> Column:
        return Column(key, key.replace("_seconds", " s").replace("_", " "), justify="right",
                      fmt=lambda r: f"{r[key]:,.1f}")  # fmt: skip

    columns = [
        Column("feed", "feed", ident=True),
        Column("day", "day", ident=True),
        seconds("downtime_seconds"),
        _count("disconnects"),
        seconds("longest_gap_seconds"),
        seconds("connected_seconds"),
        _count("runs"),
        _count("trades_landed"),
    ]
    show([DataTable("gaps", columns, rows, title=f"collector gaps -> {platform.config.table('collector_gaps')}")],
         as_json)  # fmt: skip


@ingest_app.command("alphavantage")
def ingest_alphavantage(
    ctx: typer.Context,
    url: str | None = typer.Option(None, "--url", help="base URL (default: collectors.alphavantage.base_url)"),
    symbols: str | None = typer.Option(None, "--symbols", help="comma-separated (default: symbols.equities)"),
    outputsize: str | None = typer.Option(None, "--outputsize", help="compact or full (default: config)"),
    calls_per_minute: int | None = typer.Option(None, "--calls-per-minute", min=1, max=100_000),
    as_json: bool = JSON,
) -> None:
    """Fetch daily + intraday OHLCV bars; a symbol's error does not stop the others (exit 1 if any failed)."""
    from rich.progress import Progress

    from financial_transactions.ingest.alphavantage import InvalidApiKey, summarize
    from financial_transactions.ingest.jobs import alphavantage_collector
    from financial_transactions.ingest.redaction import CollectorError

    platform = platform_from_ctx(ctx)
    if outputsize is not None and outputsize not in ("compact", "full"):
        err_console.print(f"[red]--outputsize must be compact or full, not {outputsize!r}[/]")
        raise typer.Exit(code=2)
    try:
        collector = alphavantage_collector(
            platform, url=url, symbols=_symbols(symbols), outputsize=outputsize, calls_per_minute=calls_per_minute
        )
    except CollectorError as exc:
        err_console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(code=2) from None
    total = len(collector.symbols) * len(collector.functions)
    console = out(as_json)
    previous = {s: signal.signal(s, lambda *_: collector.stop()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("alphavantage", total=total)

            def step(symbol: str, function: str) -> None:
                done = sum(len(r.bars) + len(r.errors) for r in collector.results.values())
                progress.update(task, description=f"{symbol} {function}", completed=done)

            results = collector.run(progress=step)
            progress.update(task, completed=total, description="alphavantage")
    except InvalidApiKey as exc:  # one line, at the first refusal: every other call would be refused too
        err_console.print(f"[red]{escape(str(exc))}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    per_symbol = DataTable(
        "symbols",
        [
            Column("symbol", "symbol", ident=True),
            _count("bars"),
            Column("errors", "errors", wrap=True, fmt=lambda r: escape(r["errors"] or "-")),
        ],
        summarize(results),
        title=f"alphavantage run {collector.run_id}",
    )
    show([per_symbol, _counters_table("counters", collector.counters.as_dict())], as_json)
    if any(not r.ok for r in results.values()):
        raise typer.Exit(code=1)
