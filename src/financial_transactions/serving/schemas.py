"""Request and response models of the scoring API (pydantic v2: bad input is a 422 naming the field).

Every value a request carries is bounded, so nothing a client sends can overflow later
(a timestamp pandas cannot represent, an integer orjson cannot encode, a float whose
square is infinite): timestamps lie in [2000-01-01, 2100-01-01), feature values are finite
numbers within ±``FEATURE_ABS_MAX`` (no gold feature comes near it), strings are short.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.:\-]{0,19}$"
_SYMBOL = re.compile(SYMBOL_PATTERN)
MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z, the silver expectations' lower bound
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
#: Largest magnitude of a feature value (prices <= 1e9 and volumes <= 1e12 keep every gold feature far below).
FEATURE_ABS_MAX = 1e15
#: Longest text value of a feature row (symbol, session_type, ... are a few characters).
TEXT_MAX_CHARS = 200


def _short(value: Any) -> str:
    text = value.isoformat() if isinstance(value, datetime) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: A feature row value's type; its bounds are checked per row by :meth:`ScoreRequest._bounded_values`
#: (one loop over a whole batch: a validator call per value made 10k-row batches 5x slower).
FeatureValue = StrictFloat | StrictInt | StrictStr | None


def _out_of_bounds(i: int, key: str, value: Any) -> ValueError:
    if isinstance(value, str):
        return ValueError(f"rows[{i}].{key} is text of {len(value)} characters; at most {TEXT_MAX_CHARS} are allowed")
    return ValueError(
        f"rows[{i}].{key} must be a finite number within ±{FEATURE_ABS_MAX:.0e} or null, got {_short(value)}"
    )


def epoch_ms(value: int | datetime) -> int:
    """Epoch milliseconds of an int (already ms) or an aware datetime."""
    return value if isinstance(value, int) else int(value.timestamp() * 1000)


def check_ts_ms(ms: int, what: str, shown: Any) -> None:
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise ValueError(f"{what} {_short(shown)} is outside 2000-01-01 .. 2100-01-01")


def _instant(value: Any, what: str) -> str:
    """A row's ``bar_start`` (epoch ms or an ISO-8601 instant with a zone) as a UTC ISO string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{what} must be epoch milliseconds or an ISO-8601 instant, got {_short(value)}")
    if isinstance(value, int):
        check_ts_ms(value, what, value)
        return datetime.fromtimestamp(value / 1000, tz=UTC).isoformat()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} is not an ISO-8601 instant: {_short(value)}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{what} needs a time zone (e.g. Z or +00:00): {_short(value)}")
    check_ts_ms(epoch_ms(parsed), what, value)
    return parsed.astimezone(UTC).isoformat()


class Trade(BaseModel):
    """One raw trade, as a collector writes it to the landing zone."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["AAPL"])
    price: float = Field(ge=1e-8, le=1e9, examples=[187.12], description="the smallest exchange tick is 1e-8")
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
        check_ts_ms(epoch_ms(self.ts), "ts", self.ts)
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
        description="gold feature rows: every model feature column (a finite number within ±1e15, or null); "
        "symbol (a ticker) and bar_start (epoch ms or an ISO-8601 instant with a zone) are echoed",
    )

    @field_validator("rows", mode="before")
    @classmethod
    def _echoed_columns(cls, rows: Any) -> Any:
        """``symbol`` must be a ticker and ``bar_start`` an instant in range (normalised to UTC ISO).

        Checked before the value types so a timestamp gets a timestamp's message; anything
        that is not a list of objects is left to the type validation.
        """
        if not isinstance(rows, list):
            return rows
        out: list[Any] = []
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                symbol = row.get("symbol")
                if symbol is not None and (symbol.__class__ is not str or not _SYMBOL.fullmatch(symbol)):
                    raise ValueError(f"rows[{i}].symbol must be a ticker like 'AAPL', got {_short(symbol)}")
                if row.get("bar_start") is not None:  # a copy: the request's own objects stay as sent
                    row = {**row, "bar_start": _instant(row["bar_start"], f"rows[{i}].bar_start")}
            out.append(row)
        return out

    @field_validator("rows")
    @classmethod
    def _bounded_values(cls, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """Numbers finite and within ±FEATURE_ABS_MAX (NaN fails every comparison), strings short."""
        low, high = -FEATURE_ABS_MAX, FEATURE_ABS_MAX
        for i, row in enumerate(rows or []):
            for key, value in row.items():
                kind = value.__class__
                if kind is float or kind is int:
                    if not low <= value <= high:
                        raise _out_of_bounds(i, key, value)
                elif kind is str and len(value) > TEXT_MAX_CHARS:
                    raise _out_of_bounds(i, key, value)
        return rows

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
