"""Small, dependency-free helpers that turn table cells into JSON-safe values.

They convert pandas/numpy/Arrow values to plain JSON (ISO-8601 UTC strings, finite
floats or ``null``) so that one odd value never breaks a whole file. Which columns
are read is not their business: the documents name real columns (see ``sources``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd


def to_utc(values: pd.Series) -> pd.Series:
    """A timestamp-like series (datetimes, ISO strings or epoch ms) as tz-aware UTC."""
    if pd.api.types.is_datetime64_any_dtype(values):
        series = pd.to_datetime(values, utc=True)
    elif pd.api.types.is_numeric_dtype(values):
        series = pd.to_datetime(values, unit="ms", utc=True, errors="coerce")
    else:
        series = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    return series


def iso(value: Any) -> str | None:
    """ISO-8601 UTC with a ``Z`` suffix, second precision (``None`` for missing)."""
    if value is None:
        return None
    if isinstance(value, str):
        parsed = pd.to_datetime(value, utc=True, errors="coerce")
        if pd.isna(parsed):
            return value
        value = parsed
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(ts):
        return None
    ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_seconds(values: pd.Series) -> np.ndarray:
    """UTC timestamps -> integer epoch seconds (what the candlestick chart takes)."""
    utc = to_utc(values)
    # Unit-independent (delta-rs gives microseconds, pandas defaults to nanoseconds).
    seconds = (utc - pd.Timestamp(0, tz=UTC)) // pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype="int64")


def num(value: Any, digits: int | None = None) -> float | int | None:
    """A finite number or ``None`` (NaN, inf, missing and non-numbers become ``None``)."""
    if value is None or isinstance(value, bool | str):
        return None if not isinstance(value, bool) else int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    return round(number, digits) if digits is not None else number


def sig(value: Any, digits: int = 10) -> float | None:
    """A finite number rounded to ``digits`` significant digits (prices of any magnitude keep precision)."""
    number = num(value)
    if number is None:
        return None
    return float(f"{number:.{digits}g}")


def jsonable(value: Any) -> Any:
    """Recursively convert a value from a table cell into plain JSON types."""
    if value is None:
        return None
    if isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return num(value)
    if isinstance(value, pd.Timestamp | datetime | np.datetime64 | date):
        return iso(value)
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | list | tuple):
        return [jsonable(v) for v in value]
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def records(df: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (all columns, or the ``columns`` present)."""
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    out = []
    for row in df[cols].itertuples(index=False, name=None):
        out.append({c: jsonable(v) for c, v in zip(cols, row, strict=True)})
    return out


def maybe_json(value: Any) -> Any:
    """Decode a JSON-encoded string cell (metrics dicts, equity arrays); other values pass through."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return jsonable(value)


def as_list(value: Any) -> list[str]:
    """A rule list stored as an array, a JSON array or a comma-joined string -> list of names."""
    if value is None:
        return []
    if isinstance(value, np.ndarray | list | tuple):
        return [str(v) for v in value if v is not None and str(v)]
    if isinstance(value, float) and math.isnan(value):
        return []
    text = str(value).strip()
    if text.startswith("["):
        try:
            decoded = json.loads(text)
            if isinstance(decoded, list):
                return [str(v) for v in decoded if v is not None]
        except ValueError:
            pass
    return [part.strip() for part in text.split(",") if part.strip()]
