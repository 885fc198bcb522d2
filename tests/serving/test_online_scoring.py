"""Raw trades through the online feature state: seeded from gold + silver at start, each trade scored from
its symbol's current bar, equal to the champion on the batch features of history + new trades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from financial_transactions.config import ProjectConfig
from financial_transactions.features.feature_engineering import build_gold_features
from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform
from financial_transactions.serving import api
from financial_transactions.serving.api import create_app
from financial_transactions.serving.champion import RegistryChampionSource
from tests.support.gold import synthetic_trades, train_champion, write_gold

from .support import KEY, Served

CUT = pd.Timestamp("2026-03-09 15:40:30", tz="UTC")  # mid-bar: the seeded open bar goes on


def _body(trades: pd.DataFrame) -> dict[str, Any]:
    return {
        "trades": [
            {
                "symbol": t.symbol,
                "price": t.price,
                "volume": t.volume,
                "ts": int(t.ts.value // 1_000_000),
                "trade_id": t.trade_id,
            }
            for t in trades.itertuples()
        ]
    }


def _counters(text: str) -> dict[str, float]:
    """Unlabelled series of the Prometheus text, without the ``fin_mlops_`` prefix."""
    pairs = (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name.removeprefix("fin_mlops_"): float(value) for name, value in pairs}


@pytest.fixture(scope="module")
def market(
    served: Served, tmp_path_factory: pytest.TempPathFactory, project_root: Path
) -> tuple[Platform, pd.DataFrame]:
    """A lakehouse of its own: gold and silver up to CUT (the champion is the served one)."""
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=tmp_path_factory.mktemp("online") / "lakehouse")
    trades = synthetic_trades({"AAPL": 190.0, "BTCUSDT": 90_000.0}, 150, seed=33)
    history = trades[trades["ts"] < CUT]
    write_gold(platform, build_gold_features(history, cfg.features))
    platform.store.append(cfg.table("silver_trades"), history.reset_index(drop=True))
    return platform, trades


def _client(platform: Platform, served: Served) -> TestClient:
    served.platform.configure_mlflow()  # MLflow is process-wide and the champion lives in the served lakehouse
    app = create_app(platform, source=RegistryChampionSource(served.platform), watch=False, api_keys=[KEY])
    return TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": KEY})


@pytest.fixture
def champion(served: Served) -> Any:
    """The served champion's pyfunc (the oracle each scored result is compared with)."""
    served.platform.configure_mlflow()
    return served.registry.load(served.v1)


def test_each_raw_trade_is_scored_from_its_bar_in_the_online_state(
    served: Served, market: tuple[Platform, pd.DataFrame], champion: Any
) -> None:
    platform, trades = market
    new = trades[trades["ts"] >= CUT].sort_values(["ts", "trade_id"], kind="stable").iloc[:120]
    with _client(platform, served) as client:
        for k, trade in enumerate(new.itertuples()):
            resp = client.post("/v1/anomaly/score", json=_body(new.iloc[k : k + 1]))
            assert resp.status_code == 200, resp.text
            ((result,),) = [resp.json()["results"]]
            if k % 10:
                continue
            so_far = pd.concat([trades[trades["ts"] < CUT], new.iloc[: k + 1]])
            gold = build_gold_features(so_far[so_far["symbol"] == trade.symbol], platform.config.features)
            want = champion.predict(gold.tail(1).reset_index(drop=True))
            assert result["symbol"] == trade.symbol
            assert pd.Timestamp(result["bar_start"]) == gold["bar_start"].iloc[-1]
            assert result["score"] == pytest.approx(float(want["score"].iloc[0]), abs=1e-12)
            assert result["label"] == int(want["label"].iloc[0])
        metrics = client.get("/metrics").text
    counters = _counters(metrics)
    assert counters["online_trades_total"] == 120 and counters.get("late_trades_total", 0) == 0


@pytest.mark.parametrize("late_online_max", [500, 0], ids=["late-online", "late-batch"])
def test_a_request_of_trades_old_and_new_scores_every_bar_once(
    served: Served,
    market: tuple[Platform, pd.DataFrame],
    champion: Any,
    late_online_max: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Late trades (before the seeded state's bars) are scored on their own, new ones from the state; one
    result per (symbol, bar), sorted as gold is. The late ones' bars are the same from a state of their
    own (few) as from the batch feature code (many)."""
    monkeypatch.setattr(api, "LATE_ONLINE_MAX", late_online_max)
    platform, trades = market
    old = trades[(trades["ts"] >= CUT - pd.Timedelta(minutes=5)) & (trades["ts"] < CUT - pd.Timedelta(minutes=2))]
    new = trades[(trades["ts"] >= CUT) & (trades["ts"] < CUT + pd.Timedelta(minutes=3))]
    with _client(platform, served) as client:
        resp = client.post("/v1/anomaly/score", json=_body(pd.concat([new, old]).sample(frac=1.0, random_state=1)))
        metrics = client.get("/metrics").text
    assert resp.status_code == 200, resp.text
    data = resp.json()
    late_gold = build_gold_features(old, platform.config.features)
    full = build_gold_features(trades[trades["ts"] < CUT + pd.Timedelta(minutes=3)], platform.config.features)
    new_gold = full[full["bar_start"] >= CUT.floor("1min")]
    expected = pd.concat([late_gold, new_gold]).sort_values(["symbol", "bar_start"], kind="stable")
    assert [(r["symbol"], pd.Timestamp(r["bar_start"])) for r in data["results"]] == list(
        zip(expected["symbol"], expected["bar_start"], strict=True)
    )
    want = champion.predict(expected.reset_index(drop=True))
    np.testing.assert_allclose([r["score"] for r in data["results"]], want["score"], rtol=0, atol=1e-12)
    assert [r["label"] for r in data["results"]] == want["label"].tolist()
    assert data["count"] == len(expected) == len(late_gold) + len(new_gold) and len(late_gold) == 8
    counters = _counters(metrics)
    assert counters["late_trades_total"] == len(old) and counters["online_trades_total"] == len(new)


def test_a_trade_stamped_in_the_future_is_scored_alone_and_leaves_the_state_alone(
    served: Served, market: tuple[Platform, pd.DataFrame], champion: Any
) -> None:
    """One client with its clock years ahead must not open a bar in 2099 that makes every real trade late."""
    platform, trades = market
    new = trades[(trades["ts"] >= CUT) & (trades["symbol"] == "AAPL")].sort_values("ts", kind="stable").iloc[:1]
    future = new.assign(ts=pd.Timestamp("2099-06-01 15:00:00", tz="UTC"), trade_id="from-the-future")
    with _client(platform, served) as client:
        ahead = client.post("/v1/anomaly/score", json=_body(future))
        real = client.post("/v1/anomaly/score", json=_body(new))
        metrics = client.get("/metrics").text
    assert ahead.status_code == 200 and real.status_code == 200, ahead.text + real.text
    (alone,) = ahead.json()["results"]
    assert pd.Timestamp(alone["bar_start"]) == pd.Timestamp("2099-06-01 15:00:00", tz="UTC")
    want_alone = champion.predict(build_gold_features(future, platform.config.features))
    assert alone["score"] == pytest.approx(float(want_alone["score"].iloc[0]), abs=1e-12)
    (result,) = real.json()["results"]
    history = pd.concat([trades[(trades["ts"] < CUT) & (trades["symbol"] == "AAPL")], new])
    gold = build_gold_features(history, platform.config.features)
    want = champion.predict(gold.tail(1).reset_index(drop=True))
    assert pd.Timestamp(result["bar_start"]) == gold["bar_start"].iloc[-1]
    assert result["score"] == pytest.approx(float(want["score"].iloc[0]), abs=1e-12)
    counters = _counters(metrics)
    assert counters["future_trades_total"] == 1 and counters["online_trades_total"] == 1
    assert counters.get("late_trades_total", 0) == 0


def test_a_trade_that_arrives_after_the_next_bars_first_trade_rejoins_its_bar(
    served: Served, market: tuple[Platform, pd.DataFrame], champion: Any
) -> None:
    """A bar's last trade sent after the next bar's first (as a feed, or vegeta's racing workers, deliver it)
    is not late: it is scored from its bar's row as of all its trades, and the next trade of the open bar
    from a state as if the trades had come in order."""
    platform, trades = market
    aapl = trades[(trades["ts"] >= CUT) & (trades["symbol"] == "AAPL")].sort_values(["ts", "trade_id"], kind="stable")
    bars = aapl["ts"].dt.floor("1min")
    k = int(np.flatnonzero(bars.to_numpy() != bars.iloc[0])[0])  # the next bar's first trade
    assert bars.iloc[k + 1] == bars.iloc[k]  # the open bar goes on after the late trade
    sent = [*range(k - 1), k, k - 1, k + 1]
    with _client(platform, served) as client:
        results = []
        for i in sent:
            resp = client.post("/v1/anomaly/score", json=_body(aapl.iloc[i : i + 1]))
            assert resp.status_code == 200, resp.text
            results.append(resp.json()["results"])
        metrics = client.get("/metrics").text
    gold = build_gold_features(
        pd.concat([trades[(trades["ts"] < CUT) & (trades["symbol"] == "AAPL")], aapl.iloc[: k + 2]]),
        platform.config.features,
    )
    want = champion.predict(gold.reset_index(drop=True))
    for (result,), at, bar in (
        (results[-2], len(gold) - 2, bars.iloc[k - 1]),
        (results[-1], len(gold) - 1, bars.iloc[k]),
    ):
        assert pd.Timestamp(result["bar_start"]) == gold["bar_start"].iloc[at] == bar
        assert result["score"] == pytest.approx(float(want["score"].iloc[at]), abs=1e-12)
        assert result["label"] == int(want["label"].iloc[at])
    counters = _counters(metrics)
    assert counters["online_trades_total"] == len(sent) and counters.get("late_trades_total", 0) == 0


def test_a_champion_of_another_feature_set_scores_raw_trades_on_the_batch_features(
    served: Served, tmp_path: Path, project_root: Path
) -> None:
    """A champion reading a gold column the online state does not keep (``atr``) gets every trade's bar
    from the batch feature code, on the request's trades alone."""
    cfg = ProjectConfig.from_yaml(project_root / "project_config.yml", "dev")
    platform = Platform.create(cfg, lakehouse_root=tmp_path / "lakehouse")
    trades = synthetic_trades({"AAPL": 190.0}, 60, seed=5)
    gold = build_gold_features(trades, cfg.features)
    write_gold(platform, gold)
    platform.configure_mlflow()
    try:
        version = train_champion(platform, gold, n_estimators=5, extra_columns=("atr",))
        model = ModelRegistry.from_platform(platform).load(version)
        sent = trades.tail(40)
        app = create_app(platform, watch=False, api_keys=[KEY])
        with TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": KEY}) as client:
            resp = client.post("/v1/anomaly/score", json=_body(sent))
            metrics = client.get("/metrics").text
    finally:
        served.platform.configure_mlflow()  # MLflow is process-wide: back to the served lakehouse
    assert resp.status_code == 200, resp.text
    assert "atr" in model.metadata.get_input_schema().input_names()
    expected = build_gold_features(sent, cfg.features).reset_index(drop=True)
    data = resp.json()
    assert [(r["symbol"], pd.Timestamp(r["bar_start"])) for r in data["results"]] == list(
        zip(expected["symbol"], expected["bar_start"], strict=True)
    )
    want = model.predict(expected)
    np.testing.assert_allclose([r["score"] for r in data["results"]], want["score"], rtol=0, atol=1e-12)
    assert _counters(metrics)["late_trades_total"] == len(sent) and len(expected) >= 2
