"""A small, thread-safe Prometheus registry rendered in the text exposition format (0.0.4).

Hand-rolled because the service exposes a dozen series and needs nothing else of a
client library; label values are escaped as the format requires.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = [*labels, *extra]
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Metrics:
    """Counters, gauges and histograms keyed by (name, labels)."""

    def __init__(self, prefix: str = "fin_mlops") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._gauges: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._hist: dict[str, dict[Labels, list[float]]] = defaultdict(dict)  # bucket counts..., sum, count

    def describe(self, name: str, kind: str, help_text: str) -> None:
        self._help[name] = (kind, help_text)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._gauges[name][key] = value

    def clear_gauge(self, name: str) -> None:
        with self._lock:
            self._gauges[name].clear()

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._hist[name]
            row = series.get(key)
            if row is None:
                row = series[key] = [0.0] * (len(LATENCY_BUCKETS) + 2)
            idx = bisect.bisect_left(LATENCY_BUCKETS, value)
            if idx < len(LATENCY_BUCKETS):
                row[idx] += 1
            row[-2] += value
            row[-1] += 1

    def counter_value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._counters[name].get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        out: list[str] = []
        with self._lock:
            names = sorted({*self._counters, *self._gauges, *self._hist, *self._help})
            for name in names:
                full = f"{self.prefix}_{name}"
                kind, help_text = self._help.get(name, ("untyped", ""))
                if help_text:
                    out.append(f"# HELP {full} {help_text}")
                out.append(f"# TYPE {full} {kind}")
                for key, value in sorted(self._counters.get(name, {}).items()):
                    out.append(f"{full}{_labels(key)} {_num(value)}")
                for key, value in sorted(self._gauges.get(name, {}).items()):
                    out.append(f"{full}{_labels(key)} {_num(value)}")
                for key, row in sorted(self._hist.get(name, {}).items()):
                    cumulative = 0.0
                    for bound, count in zip(LATENCY_BUCKETS, row[: len(LATENCY_BUCKETS)], strict=True):
                        cumulative += count
                        out.append(f"{full}_bucket{_labels(key, (('le', _num(bound)),))} {_num(cumulative)}")
                    out.append(f"{full}_bucket{_labels(key, (('le', '+Inf'),))} {_num(row[-1])}")
                    out.append(f"{full}_sum{_labels(key)} {_num(row[-2])}")
                    out.append(f"{full}_count{_labels(key)} {_num(row[-1])}")
        return "\n".join(out) + "\n"


def service_metrics() -> Metrics:
    m = Metrics()
    m.describe("http_requests_total", "counter", "HTTP requests by method, route and status")
    m.describe("http_request_duration_seconds", "histogram", "HTTP request latency by route")
    m.describe("rows_scored_total", "counter", "rows scored by the champion")
    m.describe("anomalies_flagged_total", "counter", "scored rows labelled anomalous")
    m.describe("score_batches_total", "counter", "model calls (micro-batches) made")
    m.describe("online_trades_total", "counter", "raw trades that updated the online feature state")
    m.describe("late_trades_total", "counter", "raw trades older than their symbol's last closed bar, scored alone")
    m.describe(
        "future_trades_total",
        "counter",
        "raw trades stamped over serving.online_max_ahead_seconds ahead of the server clock, scored on their own",
    )
    m.describe("online_seed_failures_total", "counter", "start-ups whose online state could not be seeded from gold")
    m.describe("model_info", "gauge", "the champion version being served (value 1)")
    m.describe("model_loaded", "gauge", "1 when a champion is loaded")
    m.describe("model_reloads_total", "counter", "champion (re)loads after the alias moved")
    m.describe("model_reload_failures_total", "counter", "failed registry checks/loads (the old model keeps serving)")
    m.describe("auth_failures_total", "counter", "requests refused 401 by reason (missing or invalid X-API-Key)")
    m.describe("rate_limited_total", "counter", "requests refused 429 (over an API key's rate limit)")
    return m
