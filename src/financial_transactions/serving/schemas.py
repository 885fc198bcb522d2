"""Request and response models of the scoring API (pydantic v2: bad input is a 422 naming the field)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, model_validator

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.:\-]{0,19}$"
MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z, the silver expectations' lower bound
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01

FeatureValue = StrictFloat | StrictInt | StrictStr | None


class Trade(BaseModel):
    """One raw trade, as a collector writes it to the landing zone."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["AAPL"])
    price: float = Field(gt=0, le=1e9, examples=[187.12])
    volume: float = Field(ge=0, le=1e12, examples=[100.0])
    ts: int | AwareDatetime = Field(
        description="event time: epoch milliseconds (UTC) or an ISO-8601 instant with a time zone",
        examples=[1741354200123],
    )
    trade_id: str | None = Field(default=None, max_length=200, description="orders trades with the same ts")
    source: Literal["finnhub", "binance", "alphavantage"] | None = None
    asset_class: Literal["equity", "crypto"] | None = Field(
        default=None, description="default: from the configured symbols (crypto list), else equity"
    )

    @model_validator(mode="after")
    def _ts_in_range(self) -> Trade:
        ms = self.ts if isinstance(self.ts, int) else int(self.ts.timestamp() * 1000)
        if not MIN_TS_MS <= ms < MAX_TS_MS:
            raise ValueError(f"ts {self.ts!r} is outside 2000-01-01 .. 2100-01-01")
        return self


class ScoreRequest(BaseModel):
    """Either raw ``trades`` (aggregated into 1-minute bars by the project's feature code, per
    request, then scored per bar) or ready ``rows`` of gold features (scored as given)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"trades": [{"symbol": "AAPL", "price": 187.12, "volume": 100, "ts": 1741354200123}]},
            ]
        },
    )

    trades: list[Trade] | None = Field(default=None, min_length=1)
    rows: list[dict[str, FeatureValue]] | None = Field(
        default=None,
        min_length=1,
        description="gold feature rows: every model feature column (number or null); symbol/bar_start are echoed",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ScoreRequest:
        if (self.trades is None) == (self.rows is None):
            raise ValueError("send exactly one of 'trades' (raw trades) or 'rows' (feature rows)")
        return self

    @property
    def size(self) -> int:
        return len(self.trades or self.rows or [])


class ScoreResult(BaseModel):
    symbol: str | None
    bar_start: datetime | None
    score: float = Field(description="anomaly score in [0, 1], higher = more anomalous")
    label: int = Field(description="1 when score >= the model's validation-chosen threshold")


class ScoreResponse(BaseModel):
    model_name: str
    model_version: str
    kind: Literal["trades", "rows"]
    count: int
    anomalies: int
    results: list[ScoreResult]


class CriterionCell(BaseModel):
    raw: float | None
    score: int | None
    weight: float | None
    label: str | None


class DecisionRow(BaseModel):
    symbol: str
    asset_class: str | None
    rank: int | None
    final_score: float | None
    recommendation: str
    explanation: str | None
    flags: str | None
    coverage: float | None
    criteria: dict[str, CriterionCell]


class DecisionMatrixResponse(BaseModel):
    run_id: str
    created_at: datetime | None
    table_version: int
    rows: list[DecisionRow]
