"""Streaming scoring: the champion scores each gold bar as the stream lands it, and alerts go out once.

:class:`LiveScorer` is the ``on_gold`` callback of
:class:`~financial_transactions.pipeline.stream.StreamProcessor` (attached by ``fin-mlops pipeline
--stream`` and ``scripts/financial/stream_alerts.py``): the pipeline sits below this layer and only
calls back. Per micro-batch:

1. **Champion.** ``models:/<name>@champion`` is re-read every ``alerting.live.champion_check_seconds``
   and reloaded when the alias moves. With no champion yet, one log line says so and the batch's bars
   go to a backlog file under the checkpoints (``alerting.live.backlog_name``); the first batch that
   finds a champion scores the backlog too, so no bar is lost.
2. **Score.** The touched bars are read from gold and scored through the champion's own scorer;
   bars at or over its operating threshold become ``anomaly_alerts`` rows with status ``pending``,
   inserted by an insert-only MERGE on (symbol, bar_start, model_version): a replayed batch, or a
   bar scored again as more of its trades arrive, adds nothing.
3. **Deliver.** Pending (and rate-limited) rows go to the webhook through
   :class:`~financial_transactions.monitoring.alerting.AlertManager`, at most
   ``alerting.live.max_per_minute`` in any 60 s (counted from the table, so a restart keeps the
   limit). A row is marked ``sending`` *before* its POST and gets its outcome after. A process that
   dies between the two leaves ``sending`` behind; the next start marks it ``unconfirmed`` and does
   not POST it again (the payload carries ``alert_id`` for the receiver to check). So a key is never
   sent twice, and nothing undelivered is silent: ``failed``, ``not_configured``, ``rate_limited``
   and ``unconfirmed`` are all visible in the table and on the dashboard.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from financial_transactions.lakehouse.catalog import spec
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.monitoring.alerting import AlertManager
from financial_transactions.pipeline.stream import GoldUpdate
from financial_transactions.runtime import Platform

log = logging.getLogger(__name__)

KEYS = list(spec("anomaly_alerts").merge_keys)
#: Statuses the delivery step picks up; ``sending`` is only ever seen again after a crash.
WAITING = ("pending", "rate_limited")
#: Columns of gold that the alert row and its message carry besides the model's features.
_GOLD_CONTEXT = ["symbol", "bar_start", "close", "trade_count"]


def alert_id(symbol: str, bar_start: pd.Timestamp, model_version: str) -> str:
    """The deterministic id of one alert key (the webhook carries it, so a receiver can deduplicate too)."""
    text = f"{symbol}|{pd.Timestamp(bar_start).tz_convert('UTC').isoformat()}|{model_version}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Champion:
    """One loaded champion version and its scoring entry."""

    version: str
    threshold: float | None
    columns: list[str]
    score: Callable[[pd.DataFrame], np.ndarray]


@dataclass
class LiveTotals:
    """What this process's scorer did (a replayed batch counts again)."""

    batches: int = 0
    bars_scored: int = 0
    alerts_inserted: int = 0
    delivered: int = 0
    undelivered: dict[str, int] = field(default_factory=dict)
    backlog_bars: int = 0


def load_champion(registry: ModelRegistry, version: int) -> Champion:
    """The champion's scorer (the project pyfunc's own) or, for any other pyfunc, its ``predict``."""
    pyfunc = registry.load(version)
    try:
        python_model = pyfunc.unwrap_python_model()
    except Exception:  # not a PythonModel-based pyfunc
        python_model = None
    scorer = getattr(python_model, "scorer", None)
    if scorer is not None:
        return Champion(str(version), float(scorer.threshold), list(scorer.columns), scorer.score)
    schema = pyfunc.metadata.get_input_schema()
    if schema is None:
        raise ValueError(f"{registry.name} v{version} has no input signature: cannot pick its gold columns")

    def predict(frame: pd.DataFrame) -> np.ndarray:
        out = pd.DataFrame(pyfunc.predict(frame))
        return np.asarray(out["label"], dtype=np.float64)  # no threshold known: alert on the model's own label

    return Champion(str(version), None, list(schema.input_names()), predict)


class LiveScorer:
    """``on_gold`` callback: score touched gold bars with the champion, record alerts, deliver webhooks once."""

    def __init__(
        self,
        platform: Platform,
        *,
        alerts: AlertManager | None = None,
        registry: ModelRegistry | None = None,
        observer: Callable[[str, int], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``observer(event, batch_id)``: ``scored``, ``alerts_recorded``, ``sending``, ``posted``, ``delivered``."""
        self.platform = platform
        self.cfg = platform.config.alerting.live
        self.alerts = alerts or AlertManager.from_platform(platform)
        self._registry = registry
        self.observer = observer or (lambda _event, _batch: None)
        self.clock = clock
        self.table = platform.config.table("anomaly_alerts")
        self.schema = spec("anomaly_alerts").schema
        self.backlog_path = platform.paths.checkpoint(self.cfg.backlog_name) / "backlog.json"
        self.champion: Champion | None = None
        self.totals = LiveTotals()
        self._checked_at = -float("inf")
        self._no_champion_said = False
        self._recovered = False

    # -- the champion ------------------------------------------------------------------
    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry.from_platform(self.platform)
        return self._registry

    def refresh_champion(self, *, force: bool = False) -> Champion | None:
        """Follow the alias (at most every ``champion_check_seconds``); keep the loaded model when it has not moved."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.cfg.champion_check_seconds:
            return self.champion
        self._checked_at = now
        registry = self.registry
        version = registry.champion_version() if registry.exists() else None
        if version is None:
            if not self._no_champion_said:
                log.warning(
                    "live scoring: %s has no champion yet; bars wait in %s and are scored once one is promoted",
                    registry.name,
                    self.backlog_path,
                )
                self._no_champion_said = True
            self.champion = None
            return None
        self._no_champion_said = False
        if self.champion is None or self.champion.version != str(version):
            before = self.champion.version if self.champion else None
            self.champion = load_champion(registry, version)
            log.info(
                "live scoring: champion v%s loaded%s (threshold %s)",
                version,
                f" (was v{before})" if before else "",
                "model label" if self.champion.threshold is None else f"{self.champion.threshold:.4g}",
            )
        return self.champion

    # -- the callback --------------------------------------------------------------------
    def __call__(self, update: GoldUpdate) -> None:
        """Score ``update.bars``, insert alerts, deliver what waits; a replayed batch changes nothing twice."""
        self.totals.batches += 1
        if not self._recovered:
            self._recover_interrupted()
            self._recovered = True
        champion = self.refresh_champion()
        if champion is None:
            self._add_backlog(update.bars)
            self.deliver(update.batch_id)  # earlier alerts still go out
            return
        stream_batch = f"{update.query_id}:{update.batch_id}"
        if update.gold is None:
            bars = self._with_backlog(update.bars)
            inserted = self.score_and_record(champion, bars, stream_batch, update.batch_id, gold=None)
        else:  # the stream computed its bars' gold; backlogged bars come from the gold table
            bars = update.bars
            inserted = self.score_and_record(champion, bars, stream_batch, update.batch_id, gold=update.gold)
            backlog = self._with_backlog(bars.iloc[:0])
            inserted += self.score_and_record(champion, backlog, stream_batch, update.batch_id, gold=None)
        if self.backlog_path.exists():
            self.backlog_path.unlink()
        log.debug("live scoring batch %s: %d bar(s), %d new alert(s)", update.batch_id, len(bars), inserted)
        self.deliver(update.batch_id)

    def score_and_record(
        self, champion: Champion, bars: pd.DataFrame, stream_batch: str, batch_id: int, *, gold: pd.DataFrame | None
    ) -> int:
        """Score ``bars`` (symbol, bar_start, trade_at, ingested_at); insert the over-threshold ones.

        Their rows come from ``gold`` when the stream computed them in memory, else from the gold table.
        """
        if gold is not None:
            gold = gold.merge(bars, on=["symbol", "bar_start"], how="inner").reset_index(drop=True)
        else:
            gold = self._gold_rows(bars, champion.columns)
        if gold.empty:
            return 0
        scores = np.asarray(champion.score(gold[champion.columns]), dtype=np.float64)
        self.totals.bars_scored += len(gold)
        self.observer("scored", batch_id)
        cut = champion.threshold if champion.threshold is not None else 0.5
        hit = gold[scores >= cut].copy()
        if hit.empty:
            return 0
        hit["score"] = scores[scores >= cut]
        now = self.clock()
        trade_at = pd.to_datetime(hit["trade_at"], utc=True)
        rows = pd.DataFrame(
            {
                "alert_id": [
                    alert_id(s, b, champion.version) for s, b in zip(hit["symbol"], hit["bar_start"], strict=True)
                ],
                "symbol": hit["symbol"].to_numpy(dtype=object),
                "bar_start": pd.to_datetime(hit["bar_start"], utc=True).to_numpy(),
                "model_version": champion.version,
                "model_name": self.registry.name,
                "score": hit["score"].to_numpy(dtype=np.float64),
                "threshold": champion.threshold,
                "close": hit["close"].to_numpy(dtype=np.float64),
                "trade_count": hit["trade_count"].astype("Int64").to_numpy(),
                "trade_at": trade_at.to_numpy(),
                "ingested_at": pd.to_datetime(hit["ingested_at"], utc=True).to_numpy(),
                "scored_at": now,
                "stream_batch": stream_batch,
                "delivery_status": "pending",
                "delivery_attempts": 0,
                "http_status": None,
                "delivery_error": None,
                "attempted_at": None,
                "delivered_at": None,
                "trade_to_score_seconds": (pd.Timestamp(now) - trade_at).dt.total_seconds().to_numpy(),
                "trade_to_alert_seconds": np.nan,
                "env": self.platform.config.env,
            }
        )
        result = self.platform.store.merge(self.table, self._arrow(rows), KEYS, update=False)
        self.totals.alerts_inserted += result.inserted
        self.observer("alerts_recorded", batch_id)
        return result.inserted

    # -- delivery ------------------------------------------------------------------------
    def deliver(self, batch_id: int = -1) -> int:
        """Send waiting alerts oldest first within the rate limit; returns how many were delivered."""
        store = self.platform.store
        if not store.exists(self.table):
            return 0
        table = store.read(self.table)
        waiting = table[table["delivery_status"].isin(WAITING)].sort_values(["scored_at", "symbol"], kind="stable")
        if waiting.empty:
            return 0
        now = self.clock()
        attempted = pd.to_datetime(table["attempted_at"], utc=True)
        recent = int((attempted >= pd.Timestamp(now - timedelta(seconds=60))).sum())
        allowance = max(0, self.cfg.max_per_minute - recent)
        sending, held = waiting.iloc[:allowance].copy(), waiting.iloc[allowance:].copy()
        if not held.empty:
            fresh = held[held["delivery_status"] != "rate_limited"]
            if not fresh.empty:
                log.warning(
                    "live scoring: %d alert(s) held by the rate limit (%d per minute); they go out as it frees",
                    len(fresh),
                    self.cfg.max_per_minute,
                )
                fresh = fresh.assign(delivery_status="rate_limited")
                self._update(fresh)
        if sending.empty:
            return 0
        sending["delivery_status"] = "sending"
        sending["attempted_at"] = now
        self._update(sending)
        self.observer("sending", batch_id)
        delivered = 0
        outcomes = []
        for row in cast("list[dict[str, Any]]", sending.to_dict("records")):
            result = self.alerts.send(**self._message(row), alert_id=str(row["alert_id"]))
            self.observer("posted", batch_id)
            done = self.clock()
            row["delivery_status"] = result.status
            row["delivery_attempts"] = int(row["delivery_attempts"] or 0) + result.attempts
            row["http_status"] = result.http_status
            row["delivery_error"] = result.error
            if result.delivered:
                delivered += 1
                row["delivered_at"] = done
                row["trade_to_alert_seconds"] = (pd.Timestamp(done) - pd.Timestamp(row["trade_at"])).total_seconds()
            else:
                self.totals.undelivered[result.status] = self.totals.undelivered.get(result.status, 0) + 1
            outcomes.append(row)
        self._update(pd.DataFrame(outcomes))
        self.totals.delivered += delivered
        self.observer("delivered", batch_id)
        return delivered

    def _message(self, row: dict[str, Any]) -> dict[str, Any]:
        bar = pd.Timestamp(row["bar_start"]).tz_convert("UTC")
        threshold = row["threshold"]
        cut = "its label" if threshold is None or pd.isna(threshold) else f"{threshold:.4g}"
        when = f"{bar:%Y-%m-%dT%H:%M}Z"
        return {
            "title": f"Trade anomaly: {row['symbol']} bar {when}",
            "message": f"champion v{row['model_version']} scored the {row['symbol']} bar of {when} "
            f"{row['score']:.4g} (operating threshold {cut}). Confirm or dismiss: "
            f"fin-mlops feedback confirm|dismiss --symbol {row['symbol']} --bar-start {bar:%Y-%m-%dT%H:%M:%S} "
            "--by <you>",
            "severity": self.cfg.severity,
            "source": "live_scoring",
            "context": {
                "alert_id": row["alert_id"],
                "symbol": row["symbol"],
                "bar_start": bar.isoformat(),
                "score": float(row["score"]),
                "model_version": row["model_version"],
                "close": float(row["close"]) if pd.notna(row["close"]) else None,
                "trade_at": pd.Timestamp(row["trade_at"]).isoformat() if pd.notna(row["trade_at"]) else None,
            },
        }

    def _recover_interrupted(self) -> None:
        """Rows left ``sending`` by a process that died mid-POST become ``unconfirmed``: never POSTed twice."""
        store = self.platform.store
        if not store.exists(self.table):
            return
        table = store.read(self.table)
        stuck = table[table["delivery_status"] == "sending"].copy()
        if stuck.empty:
            return
        stuck["delivery_status"] = "unconfirmed"
        stuck["delivery_error"] = (
            "the process stopped during delivery: the webhook may or may not have received it (not re-sent; "
            "the receiver can check alert_id)"
        )
        self._update(stuck)
        log.warning(
            "live scoring: %d alert(s) were being sent when the last run stopped; marked unconfirmed, not re-sent "
            "(alert_id %s)",
            len(stuck),
            ", ".join(stuck["alert_id"].astype(str)),
        )

    def _update(self, rows: pd.DataFrame) -> None:
        self.platform.store.merge(self.table, self._arrow(rows), KEYS, update=True)

    def _arrow(self, rows: pd.DataFrame) -> pa.Table:
        frame = rows[self.schema.names].copy()
        for name in ("bar_start", "trade_at", "ingested_at", "scored_at", "attempted_at", "delivered_at"):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        for name in ("trade_count", "delivery_attempts", "http_status"):
            frame[name] = frame[name].astype("Int64")
        return pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)

    # -- gold and the backlog -------------------------------------------------------------
    def _gold_rows(self, bars: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """The gold rows of ``bars`` with the model's columns and the alert's context."""
        store = self.platform.store
        gold_fqn = self.platform.config.table("gold_trade_features")
        if bars.empty or not store.exists(gold_fqn):
            return pd.DataFrame()
        wanted = list(dict.fromkeys([*_GOLD_CONTEXT, *columns]))
        gold = store.read(gold_fqn, columns=wanted)
        gold = gold[gold["symbol"].isin(set(bars["symbol"]))]
        gold["bar_start"] = pd.to_datetime(gold["bar_start"], utc=True)
        keyed = bars.assign(bar_start=pd.to_datetime(bars["bar_start"], utc=True))
        return gold.merge(keyed, on=["symbol", "bar_start"], how="inner").reset_index(drop=True)

    def _add_backlog(self, bars: pd.DataFrame) -> None:
        """Remember the earliest unscored bar per symbol (a file under the checkpoints, written atomically)."""
        if bars.empty:
            return
        backlog = self._read_backlog()
        for symbol, start in bars.groupby("symbol")["bar_start"].min().items():
            iso = pd.Timestamp(start).tz_convert("UTC").isoformat()
            backlog[str(symbol)] = min(backlog.get(str(symbol), iso), iso)
        self.platform.runtime.ensure_dir(self.backlog_path.parent)
        tmp = self.backlog_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(backlog, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.backlog_path)
        self.totals.backlog_bars += len(bars)

    def _read_backlog(self) -> dict[str, str]:
        if not self.backlog_path.exists():
            return {}
        try:
            data = json.loads(self.backlog_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"live scoring backlog {self.backlog_path} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"live scoring backlog {self.backlog_path}: expected an object, got {type(data).__name__}")
        return {str(k): str(v) for k, v in data.items()}

    def _with_backlog(self, bars: pd.DataFrame) -> pd.DataFrame:
        """``bars`` plus every gold bar at or after a symbol's earliest backlogged bar (no trade times known)."""
        backlog = self._read_backlog()
        if not backlog:
            return bars
        gold_fqn = self.platform.config.table("gold_trade_features")
        gold = self.platform.store.read(gold_fqn, columns=["symbol", "bar_start"])
        gold["bar_start"] = pd.to_datetime(gold["bar_start"], utc=True)
        since = gold["symbol"].map(lambda s: pd.Timestamp(backlog[s]) if s in backlog else pd.NaT)
        waiting = gold[since.notna() & (gold["bar_start"] >= since)]
        unknown = pd.Series(pd.NaT, index=waiting.index, dtype="datetime64[us, UTC]")
        extra = waiting.assign(trade_at=unknown, ingested_at=unknown)
        known = pd.MultiIndex.from_frame(bars[["symbol", "bar_start"]])
        extra = extra[~pd.MultiIndex.from_frame(extra[["symbol", "bar_start"]]).isin(known)]
        merged = pd.concat([bars, extra], ignore_index=True)
        log.info("live scoring: scoring %d backlogged bar(s) from before the champion existed", len(merged) - len(bars))
        return merged


def attach(platform: Platform, **kwargs: Any) -> LiveScorer | None:
    """The scorer for a stream, or None when ``alerting.live.enabled`` is false."""
    return LiveScorer(platform, **kwargs) if platform.config.alerting.live.enabled else None
