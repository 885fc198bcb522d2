"""Request and response models of the scoring API (pydantic v2: bad input is a 422 naming the field).

Every value a request carries is bounded, so nothing a client sends can overflow later
(a timestamp pandas cannot represent, an integer orjson cannot encode, a float whose
square is infinite): timestamps lie in [2000-01-01, 2100-01-01), feature values are finite
numbers within ±``FEATURE_ABS_MAX`` (no gold feature comes near it), strings are short.

Types are strict (no bool for a number, no numeric string for a number or a timestamp), and
the OpenAPI document says exactly what is accepted: :func:`request_body_schemas` writes the
request body as ``oneOf`` trades / rows, with the served champion's feature columns required
in a row, so a body valid by the document is scored and one invalid by it is refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.:\-]{0,19}$"
_SYMBOL = SYMBOL_RE = re.compile(SYMBOL_PATTERN)
MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z, the silver expectations' lower bound
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
#: Largest magnitude of a feature value (prices <= 1e9 and volumes <= 1e12 keep every gold feature far below).
FEATURE_ABS_MAX = 1e15
#: Longest text value of a feature row (symbol, session_type, ... are a few characters).
TEXT_MAX_CHARS = 200

# An RFC 3339 instant with a zone, in the years 2000-2099 (of its own offset), and only real dates
# (Feb 29 in leap years): a string the document calls valid always parses, so none becomes a 422.
_DATE = (
    r"20[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))|20(?:0[048]|[2468][048]|[13579][26])-02-29"
)
INSTANT_PATTERN = (
    rf"^(?:{_DATE})T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,9}})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_INSTANT = re.compile(INSTANT_PATTERN)
#: What a timestamp may be: epoch milliseconds in range, or an RFC 3339 instant string.
INSTANT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": MIN_TS_MS, "maximum": MAX_TS_MS - 1},
        {"type": "string", "pattern": INSTANT_PATTERN},
    ],
    "description": "epoch milliseconds (UTC) in [2000-01-01, 2100-01-01), or an RFC 3339 instant with a zone "
    "(e.g. 2026-03-09T15:00:00.250Z) in the years 2000-2099",
    "examples": [1741354200123, "2026-03-09T15:00:00.250Z"],
}


def _short(value: Any) -> str:
    text = value.isoformat() if isinstance(value, datetime) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: A feature row value's type; its bounds are checked per row by :meth:`ScoreRequest._bounded_values`
#: (one loop over a whole batch: a validator call per value made 10k-row batches 5x slower).
FeatureValue = StrictFloat | StrictInt | StrictStr | None


def ticker_error(i: int, symbol: Any) -> ValueError:
    return ValueError(f"rows[{i}].symbol must be a ticker like 'AAPL', got {_short(symbol)}")


def out_of_bounds(i: int, key: str, value: Any) -> ValueError:
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


def _instant_problem(value: str, what: str) -> str:
    """Why a string is not an instant :data:`INSTANT_PATTERN` accepts, in the client's terms."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"{what} is not an RFC 3339 instant (like 2026-03-09T15:00:00.250Z): {_short(value)}"
    if parsed.tzinfo is None:
        return f"{what} needs a time zone (e.g. Z or +00:00): {_short(value)}"
    if not 2000 <= parsed.year <= 2099:
        return f"{what} {_short(value)} is outside 2000-01-01 .. 2100-01-01"
    return f"{what} must be written as an RFC 3339 instant like 2026-03-09T15:00:00.250Z, got {_short(value)}"


def parse_instant(value: Any, what: str) -> datetime | int:
    """Epoch ms (an int, range-checked) or the aware datetime of an RFC 3339 string; ValueError otherwise.

    A number without a fraction (``1.7e12``, ``1741354200123.0``) is an integer, as JSON Schema
    says and the document promises; a bool or a numeric string is not.
    """
    kind = value.__class__
    if kind is float and value.is_integer():
        value, kind = int(value), int
    if kind is int:
        check_ts_ms(value, what, value)
        return int(value)
    if kind is str:
        if _INSTANT.fullmatch(value) is None:
            raise ValueError(_instant_problem(value, what))
        return datetime.fromisoformat(value)
    raise ValueError(f"{what} must be epoch milliseconds (an integer) or an RFC 3339 instant, got {_short(value)}")


def instant_iso(value: Any, what: str) -> str:
    """A row's ``bar_start`` (epoch ms or an RFC 3339 instant) as a UTC ISO string."""
    parsed = parse_instant(value, what)
    if isinstance(parsed, int):
        return datetime.fromtimestamp(parsed / 1000, tz=UTC).isoformat()
    return parsed.astimezone(UTC).isoformat()


def _ts_ms(value: Any, info: ValidationInfo) -> int:
    return epoch_ms(parse_instant(value, info.field_name or "ts"))


#: A trade's event time, validated by :func:`parse_instant` and kept as epoch milliseconds.
EpochMs = Annotated[int, PlainValidator(_ts_ms), WithJsonSchema(INSTANT_SCHEMA)]


class Trade(BaseModel):
    """One raw trade, as a collector writes it to the landing zone."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["AAPL"])
    price: float = Field(ge=1e-8, le=1e9, examples=[187.12], description="the smallest exchange tick is 1e-8")
    volume: float = Field(ge=0, le=1e12, examples=[100.0])
    ts: EpochMs = Field(description="event time: " + INSTANT_SCHEMA["description"])
    trade_id: str | None = Field(default=None, max_length=200, description="orders trades with the same ts")
    source: Literal["finnhub", "binance", "alphavantage"] | None = None
    asset_class: Literal["equity", "crypto"] | None = Field(
        default=None, description="default: from the configured symbols (crypto list), else equity"
    )


class ScoreRequest(BaseModel):
    """Either raw ``trades`` (aggregated into 1-minute bars by the project's feature code, per
    request, then scored per bar) or ready ``rows`` of gold features (scored as given)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
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
        "symbol (a ticker) and bar_start (epoch ms or an RFC 3339 instant with a zone) are echoed",
    )

    @field_validator("trades", "rows", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """An explicit null is not "absent": the document's two request kinds have no null member."""
        if value is None:
            raise ValueError("must be a non-empty list (leave the key out instead of sending null)")
        return value

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
                    raise ticker_error(i, symbol)
                if row.get("bar_start") is not None:  # a copy: the request's own objects stay as sent
                    row = {**row, "bar_start": instant_iso(row["bar_start"], f"rows[{i}].bar_start")}
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
                        raise out_of_bounds(i, key, value)
                elif kind is str and len(value) > TEXT_MAX_CHARS:
                    raise out_of_bounds(i, key, value)
        return rows

    @model_validator(mode="after")
    def _exactly_one(self) -> ScoreRequest:
        if (self.trades is None) == (self.rows is None):
            raise ValueError("send exactly one of 'trades' (raw trades) or 'rows' (feature rows)")
        return self

    @property
    def size(self) -> int:
        return len(self.trades or self.rows or [])


def request_body_schemas(columns: list[str] | None, max_rows: int) -> dict[str, Any]:
    """OpenAPI component schemas of the score request: ``ScoreRequest`` is ``oneOf`` the two kinds.

    ``columns`` are the served champion's feature columns, required in every row (None while no
    champion is loaded: any row then, and the route answers 503); ``max_rows`` is
    ``serving.max_batch_rows`` (a longer list is answered 413).
    """
    trade = Trade.model_json_schema(ref_template="#/components/schemas/{model}")
    number = {"type": "number", "minimum": -FEATURE_ABS_MAX, "maximum": FEATURE_ABS_MAX}
    null = {"type": "null"}
    properties: dict[str, Any] = {
        "symbol": {"anyOf": [{"type": "string", "pattern": SYMBOL_PATTERN}, null], "description": "echoed"},
        "bar_start": {"anyOf": [*INSTANT_SCHEMA["anyOf"], null], "description": "echoed, as a UTC instant"},
    }
    for column in columns or []:
        properties[column] = {"anyOf": [number, null]}
    row = {
        "type": "object",
        "title": "FeatureRow",
        "description": "one gold feature row: every feature column of the served champion (a finite number "
        f"within ±{FEATURE_ABS_MAX:.0e}, or null); other keys may be numbers in the same range, text of at most "
        f"{TEXT_MAX_CHARS} characters, or null",
        "properties": properties,
        "required": list(columns or []),
        "additionalProperties": {"anyOf": [number, {"type": "string", "maxLength": TEXT_MAX_CHARS}, null]},
    }
    trades = {
        "type": "object",
        "title": "TradesRequest",
        "description": "raw trades, aggregated into 1-minute bars by the project's feature code, then scored per bar",
        "properties": {
            "trades": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Trade"},
                "minItems": 1,
                "maxItems": max_rows,
            }
        },
        "required": ["trades"],
        "additionalProperties": False,
    }
    rows = {
        "type": "object",
        "title": "RowsRequest",
        "description": "ready gold feature rows, scored as given",
        "properties": {
            "rows": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/FeatureRow"},
                "minItems": 1,
                "maxItems": max_rows,
            }
        },
        "required": ["rows"],
        "additionalProperties": False,
    }
    request = {
        "title": "ScoreRequest",
        "description": "exactly one of `trades` or `rows`",
        "oneOf": [{"$ref": "#/components/schemas/TradesRequest"}, {"$ref": "#/components/schemas/RowsRequest"}],
        "examples": [{"trades": [{"symbol": "AAPL", "price": 187.12, "volume": 100, "ts": 1741354200123}]}],
    }
    return {"Trade": trade, "FeatureRow": row, "TradesRequest": trades, "RowsRequest": rows, "ScoreRequest": request}


#: Who reviewed a bar: a name with no leading or trailing whitespace (``record_feedback`` refuses a blank one).
ANALYST_PATTERN = r"^\S(.{0,198}\S)?$"


class FeedbackRequest(BaseModel):
    """An analyst's verdict on a bar: ``confirmed`` (an anomaly) or ``dismissed`` (normal), the first label source."""

    model_config = ConfigDict(extra="forbid", strict=True)

    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["SPX"])
    bar_start: EpochMs = Field(description="the bar's start: " + INSTANT_SCHEMA["description"])
    verdict: Literal["confirmed", "dismissed"]
    analyst: str = Field(pattern=ANALYST_PATTERN, examples=["ana"], description="who reviewed the bar")
    note: str | None = Field(default=None, max_length=1000, description="why (optional)")


class FeedbackRecorded(BaseModel):
    """The verdict as written to ``analyst_feedback`` (the latest verdict per bar wins)."""

    feedback_id: str
    symbol: str
    bar_start: datetime
    verdict: Literal["confirmed", "dismissed"]
    analyst: str
    decided_at: datetime
    note: str | None


class ErrorBody(BaseModel):
    """Every error but a validation error (401, 404, 413, 429, 503)."""

    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where: body / query, then the field path")
    field: str = Field(description="the location, dotted")
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422: the request is malformed; ``message`` names the first fields at fault."""

    detail: list[ValidationIssue]
    message: str


class HealthBody(BaseModel):
    status: Literal["ok"]


class ReadyBody(BaseModel):
    ready: Literal[True]
    model_name: str
    model_version: str
    loaded_at: datetime
    last_error: str | None


class NotReadyBody(BaseModel):
    ready: Literal[False]
    reason: str


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


#: A decision-matrix recommendation (``decision.decision_matrix.RECOMMENDATIONS``; a test keeps them equal).
Recommendation = Literal["Strong Buy", "Buy", "Hold", "Sell", "Insufficient data"]


class DecisionRow(BaseModel):
    symbol: str
    asset_class: str | None
    rank: int | None
    final_score: float | None
    recommendation: Recommendation
    explanation: str | None
    flags: str | None
    coverage: float | None
    criteria: dict[str, CriterionCell]


class DecisionMatrixResponse(BaseModel):
    run_id: str
    created_at: datetime | None
    table_version: int
    rows: list[DecisionRow]
