"""Shared by the serving tests: a small registered champion, its gold rows, keys and a real uvicorn."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
from fastapi import FastAPI

from financial_transactions.models.registry import ModelRegistry
from financial_transactions.runtime import Platform

SYMBOLS = {"AAPL": 190.0, "BTCUSDT": 90_000.0}
#: Two keys valid at once (a rotation in progress); real-looking, above serving.api_key_min_chars.
KEY = "k1-7Hq2vV9xPZr4mYt8Lw3nB6"
OTHER_KEY = "k2-Qe5sD1fG0hJ2kL4zX6cV8"


@dataclass
class Served:
    platform: Platform
    gold: pd.DataFrame
    trades: pd.DataFrame
    v1: int
    v2: int
    registry: ModelRegistry


def rows_of(gold: pd.DataFrame, n: int, start: int = 40) -> list[dict[str, Any]]:
    """``n`` gold rows as a client sends them (ISO bar_start, NaN as null)."""
    part = gold.iloc[start : start + n].copy()
    part["bar_start"] = part["bar_start"].map(lambda t: t.isoformat())
    part = part.drop(columns=["trade_date", "bar_end"])
    return json.loads(part.to_json(orient="records"))  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{base} did not become ready")
        time.sleep(0.1)


@contextmanager
def uvicorn_on_loopback(app: FastAPI) -> Iterator[str]:
    """``app`` served by a real uvicorn on 127.0.0.1 (a free port), ready; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive(), "uvicorn did not stop"
