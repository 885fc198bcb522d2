"""Replay one market window and collect it from all three protocols into the landing zone.

:func:`ingest_window` is the use case behind the ``ingest`` and ``shift`` stages of
``fin-mlops run`` (windows 1 and 2, see :mod:`.stage`) and the ingest benchmark:

1. build the window's market (synthetic, or the configured CSV) and write its
   ground truth to ``<landing>/_ground_truth/<window>/anomalies.ndjson``;
2. start the replay servers on free 127.0.0.1 ports with a one-off token (a
   user's real vendor keys are never sent to the replay);
3. run the Finnhub (equities and futures), Binance (crypto) and Alpha Vantage
   (equity bars) collectors concurrently until the WebSocket feeds are exhausted
   and every frame sent has been received;
4. check that the landing zone holds exactly the trades the servers sent, and
   leave a ``_SUCCESS.json`` marker: a re-run of the same window with the same
   replay settings reuses the landed files instead of landing them again under
   new trade ids.

A crashed attempt (the process died mid-ingest, so no ``_SUCCESS.json``) must not
reach bronze twice: every collector of an attempt uses the attempt id as its run
id, and ``_ATTEMPT.json`` records that id before the first trade lands. The next
run moves every file of the abandoned attempt (data, quarantine and in-flight
temporary files) to ``<landing>/_abandoned/<window>/<attempt>/`` with its
relative path kept, says how many files and trades it set aside, and lands the
whole window again. ``_``-folders are outside what bronze reads, so nothing is
read twice and nothing is deleted. If a pipeline run had already ingested some
of those files, re-landing would double their trades in silver: the stage then
stops with an error asking for ``fin-mlops pipeline --full-refresh`` (bronze is
rebuilt from the landing zone, which no longer holds them).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from financial_transactions.ingest.alphavantage import AlphaVantageCollector
from financial_transactions.ingest.collectors import StreamCollector, new_run_id
from financial_transactions.ingest.jobs import build_alphavantage, build_crypto, build_finnhub
from financial_transactions.ingest.landing import LANDING_SUFFIX, ingested_files, landing_key, write_atomic
from financial_transactions.lakehouse.paths import GROUND_TRUTH_DIR, WINDOW_SPAN_FILE, ground_truth_dir, window_name
from financial_transactions.replay.market import CRYPTO, EQUITY, FUTURE, MarketData
from financial_transactions.replay.servers import ReplayHub, StreamFeed
from financial_transactions.runtime.crashpoints import crashpoint

if TYPE_CHECKING:
    from rich.console import Console

    from financial_transactions.config import ProjectConfig
    from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

MARKER = "_SUCCESS.json"
ATTEMPT_MARKER = "_ATTEMPT.json"
#: Where the files of a crashed ingest attempt go: ``<landing>/_abandoned/<window>/<attempt>/...``.
ABANDONED_DIR = "_abandoned"


def build_market(cfg: ProjectConfig, window: int) -> MarketData:
    """Window ``window`` of the configured replay source (synthetic by default, else the CSV)."""
    from financial_transactions.replay.synthetic import build_synthetic_market

    replay = cfg.replay
    if replay.csv_path:
        from financial_transactions.replay.csv_source import load_csv_market, shift_regime, split_in_time

        def load(path: str, name: int) -> MarketData:
            return load_csv_market(
                path,
                crypto=list(cfg.symbols.crypto),
                kind=replay.csv_kind,
                window=name,
                instrument=replay.csv_symbol,
                asset_class=replay.csv_asset_class,
            )

        if window == 2 and replay.csv_path_window2:
            return load(replay.csv_path_window2, 2)
        market = load(replay.csv_path, 1)
        if replay.csv_window2 == "split" and not replay.csv_path_window2:
            return split_in_time(market, replay.csv_split_fraction, window)
        if window == 1:
            return market
        shift = replay.regime_shift
        return shift_regime(
            market,
            volatility_multiplier=shift.volatility_multiplier,
            annual_drift=shift.annual_drift,
            volume_multiplier=shift.volume_multiplier,
        )
    market = build_synthetic_market(replay, list(cfg.symbols.equities), list(cfg.symbols.crypto), window=window)
    assert market.window == window_name(window)
    return market


def fingerprint(cfg: ProjectConfig, window: int) -> str:
    """What makes a window's landed data what it is: the replay settings, symbols and window."""
    doc = {
        "replay": cfg.replay.model_dump(
            mode="json", exclude={"host", "finnhub_port", "alphavantage_port", "binance_port"}
        ),
        "equities": list(cfg.symbols.equities),
        "crypto": list(cfg.symbols.crypto),
        "window": window,
    }
    if cfg.symbols.futures:  # only when set: a config without futures keeps the fingerprints it had
        doc["futures"] = list(cfg.symbols.futures)
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@dataclass
class WindowIngest:
    window: str
    ground_truth_path: Path
    summary: dict[str, Any]
    reused: bool


def ingest_window(platform: Platform, window: int, console: Console | None = None) -> WindowIngest:
    """Replay ``window`` and collect it into the landing zone (see the module docstring)."""
    cfg = platform.config
    landing = Path(platform.paths.landing)
    name = window_name(window)
    marker = ground_truth_dir(landing, name) / MARKER
    fp = fingerprint(cfg, window)
    if marker.is_file():
        done = orjson.loads(marker.read_bytes())
        if done.get("fingerprint") == fp:
            return WindowIngest(name, Path(done["ground_truth_path"]), {**done["summary"], "reused": True}, True)

    abandoned = set_aside_abandoned(landing, name, console)
    refuse_if_abandoned_in_bronze(platform, name)
    started = time.perf_counter()
    market = build_market(cfg, window)
    truth = market.write_ground_truth(landing)
    if len(market):  # the drift stage's window is the time the market played, whatever its dates
        span = {"start_ms": int(market.ts[0]), "end_ms": int(market.ts[-1])}
        write_atomic(ground_truth_dir(landing, name) / WINDOW_SPAN_FILE, orjson.dumps(span))
    token = secrets.token_urlsafe(16)
    attempt = new_run_id()
    attempt_marker = ground_truth_dir(landing, name) / ATTEMPT_MARKER
    write_atomic(attempt_marker, orjson.dumps({"attempt": attempt, "fingerprint": fp}, option=orjson.OPT_INDENT_2))
    with ReplayHub(market, cfg.replay, ports=(0, 0, 0), token=token, speed=0.0) as hub:
        assert hub.urls is not None
        summary = _collect(cfg, hub, market, landing, token, console, run_id=attempt)
    summary.update(
        window=name,
        anomalous_trades=int((market.anomaly > 0).sum()),
        seconds=round(time.perf_counter() - started, 1),
        reused=False,
        collector_run=attempt,
    )
    if abandoned.files:
        summary.update(abandoned_files=abandoned.files, abandoned_records=abandoned.records)
    crashpoint("ingest.after_collect")
    write_atomic(
        marker,
        orjson.dumps(
            {"fingerprint": fp, "ground_truth_path": str(truth), "summary": summary}, option=orjson.OPT_INDENT_2
        ),
    )
    attempt_marker.unlink(missing_ok=True)
    return WindowIngest(name, truth, summary, False)


@dataclass
class SetAside:
    """What :func:`set_aside_abandoned` moved out of the landing zone."""

    attempt: str | None = None
    files: int = 0  # every file moved: complete data files, quarantine files, in-flight temp files
    records: int = 0  # landing records in the complete data files (what bronze would have read)
    quarantined: int = 0
    temp_files: int = 0
    folder: Path | None = None


def _attempt_files(landing: Path, attempt: str) -> list[Path]:
    """Files written by collectors running as ``attempt``: ``<attempt>-<seq>.ndjson`` and their ``.tmp`` forms."""
    prefix = f"{attempt}-"
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(landing):
        if Path(dirpath) == landing:
            dirnames[:] = [d for d in dirnames if d not in (ABANDONED_DIR, GROUND_TRUTH_DIR)]
        found.extend(Path(dirpath) / f for f in filenames if f.lstrip(".").startswith(prefix))
    return sorted(found)


def set_aside_abandoned(landing: Path, window: str, console: Console | None = None) -> SetAside:
    """Move the files of ``window``'s crashed attempt (if any) to ``_abandoned/<window>/<attempt>/``.

    Idempotent and resumable: the attempt marker is removed only after the last
    move, so a crash here is finished by the next run.
    """
    marker = ground_truth_dir(landing, window) / ATTEMPT_MARKER
    if not marker.is_file():
        return SetAside()
    attempt = str(orjson.loads(marker.read_bytes())["attempt"])
    folder = landing / ABANDONED_DIR / window / attempt
    out = SetAside(attempt=attempt, folder=folder)
    for path in _attempt_files(landing, attempt):
        relative = path.relative_to(landing)
        if path.name.startswith("."):
            out.temp_files += 1
        elif relative.parts[0] == "_quarantine":
            out.quarantined += path.read_bytes().count(b"\n")
        else:
            out.records += path.read_bytes().count(b"\n")
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        out.files += 1
    marker.unlink()
    message = (
        f"{window}: an earlier ingest attempt ({attempt}) did not finish; set aside {out.files} of its file(s) "
        f"({out.records:,} landed record(s), {out.quarantined:,} quarantined, {out.temp_files} unfinished temp "
        f"file(s)) under {folder} and landing the window again"
    )
    log.warning(message)
    if console is not None:
        console.print(f"[yellow]{message}[/]", highlight=False)
    return out


def refuse_if_abandoned_in_bronze(platform: Platform, window: str) -> None:
    """Stop if a pipeline run already ingested files of an abandoned attempt of ``window``.

    Their trades would reach silver a second time, under the new attempt's trade
    ids, once the window is landed again.
    """
    landing = Path(platform.paths.landing)
    root = landing / ABANDONED_DIR / window
    if not root.is_dir():
        return
    originals = {
        landing_key(str(landing / path.relative_to(attempt_dir))): path
        for attempt_dir in root.iterdir()
        if attempt_dir.is_dir()
        for path in attempt_dir.rglob(f"*{LANDING_SUFFIX}")
        if not path.relative_to(attempt_dir).parts[0].startswith(("_", "."))
    }
    if not originals:
        return
    in_bronze = sorted(set(originals) & ingested_files(platform))
    if in_bronze:
        raise RuntimeError(
            f"{window}: {len(in_bronze)} landing file(s) of an abandoned ingest attempt (now under {root}) were "
            f"already ingested into {platform.config.table('bronze_trades')}, e.g. {in_bronze[0]}; landing the "
            "window again would put their trades into silver twice. Rebuild from the landing zone with "
            "`fin-mlops pipeline --full-refresh` (or start over with `fin-mlops run --fresh`), then run again."
        )


def _collect(
    cfg: ProjectConfig,
    hub: ReplayHub,
    market: MarketData,
    landing: Path,
    token: str,
    console: Console | None,
    *,
    run_id: str,
) -> dict[str, Any]:
    assert hub.urls is not None
    fcfg, ccfg = cfg.collectors.finnhub, cfg.collectors.crypto
    flush = cfg.replay.collect_flush_max_records
    # a replayed history longer than a month lands one file per symbol and month, not per day
    partition = "month" if len(market) and market.ts[-1] - market.ts[0] > 31 * 86_400_000 else "day"
    equities, crypto = market.symbols_of(EQUITY), market.symbols_of(CRYPTO)
    # Finnhub's trade feed carries the futures too; Alpha Vantage has no bars for them
    finnhub_symbols = [*equities, *market.symbols_of(FUTURE)]
    streams: list[tuple[StreamCollector, StreamFeed, float]] = []
    if finnhub_symbols:
        streams.append(
            (
                build_finnhub(
                    cfg,
                    token=token,
                    url=hub.urls.finnhub,
                    symbols=finnhub_symbols,
                    landing=landing,
                    flush_max_records=flush,
                    run_id=run_id,
                ),
                hub.finnhub,
                fcfg.duration_seconds,
            )
        )
    if crypto:
        streams.append(
            (
                build_crypto(
                    cfg, url=hub.urls.binance, symbols=crypto, landing=landing, flush_max_records=flush, run_id=run_id
                ),
                hub.binance,
                ccfg.duration_seconds,
            )
        )
    av = (
        build_alphavantage(
            cfg,
            api_key=token,
            url=hub.urls.alphavantage,
            symbols=equities,
            landing=landing,
            outputsize="full",  # the replay has no quota to save: take every bar of the window
            calls_per_minute=cfg.replay.alphavantage_calls_per_minute,
            rate_window_seconds=cfg.replay.alphavantage_window_seconds,
            run_id=run_id,
        )
        if equities
        else None
    )
    for writer in [c.writer for c, _, _ in streams] + ([av.writer] if av is not None else []):
        writer.partition = partition
    errors: list[BaseException] = []

    def guarded(fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except BaseException as exc:  # re-raised on the calling thread below
            errors.append(exc)

    threads = [
        threading.Thread(
            target=guarded,
            args=(collector.run,),
            kwargs={"duration": duration, "stop_when": _drained(collector, feed)},
            name=f"ingest-{collector.collector}",
            daemon=True,
        )
        for collector, feed, duration in streams
    ]
    if av is not None:
        threads.append(threading.Thread(target=guarded, args=(av.run,), name="ingest-alphavantage", daemon=True))
    for t in threads:
        t.start()
    _wait_with_progress(threads, streams, av, console)
    if errors:
        raise errors[0]

    summary: dict[str, Any] = {}
    for collector, feed, _ in streams:
        landed, sent = collector.counters.landed, feed.stats.trades_sent
        if landed != sent or feed.stats.undelivered:
            raise RuntimeError(
                f"{collector.collector}: the replay sent {sent:,} trades but {landed:,} landed "
                f"({feed.stats.undelivered:,} played with no subscriber); counters {collector.counters.as_dict()}"
            )
        summary[f"{collector.source}_trades"] = landed
        summary[f"{collector.source}_quarantined"] = collector.counters.quarantined
        summary[f"{collector.source}_reconnects"] = collector.counters.reconnects
    if av is not None:
        failed = {s: r.errors for s, r in av.results.items() if r.errors}
        if failed:
            raise RuntimeError(f"alphavantage: symbols failed against the replay: {failed}")
        summary["alphavantage_bars"] = av.counters.bars_landed
        summary["alphavantage_rate_limited"] = av.counters.rate_limited
    return summary


def _drained(collector: StreamCollector, feed: StreamFeed) -> Any:
    """Stop once the feed played everything and this collector received every frame it was sent."""

    def done() -> bool:
        return feed.exhausted.is_set() and collector.counters.frames >= feed.stats.frames_sent

    return done


def _wait_with_progress(
    threads: list[threading.Thread],
    streams: list[tuple[StreamCollector, StreamFeed, float]],
    av: AlphaVantageCollector | None,
    console: Console | None,
) -> None:
    if console is None:
        for t in threads:
            t.join()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<13}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[extra]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks = [(progress.add_task(c.source, total=len(f.events), extra=""), c, f) for c, f, _ in streams]
        av_task = progress.add_task("alphavantage", total=len(av.symbols) * len(av.functions), extra="") if av else None
        while any(t.is_alive() for t in threads):
            for task, c, _f in tasks:
                k = c.counters
                progress.update(
                    task, completed=k.received, extra=f"quarantined {k.quarantined}  reconnects {k.reconnects}"
                )
            if av is not None and av_task is not None:
                done = sum(len(r.bars) + len(r.errors) for r in av.results.values())
                progress.update(av_task, completed=done, extra=f"bars {av.writer.stats.records + av.writer.buffered}")
            time.sleep(0.1)
        for task, c, _f in tasks:
            progress.update(task, completed=c.counters.received)
        if av is not None and av_task is not None:
            progress.update(
                av_task, completed=len(av.symbols) * len(av.functions), extra=f"bars {av.counters.bars_landed}"
            )
    for t in threads:
        t.join()
