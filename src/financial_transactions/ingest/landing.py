"""Landing-zone writers: buffered NDJSON, flushed by size or age, written atomically.

Layout (the team contract)::

    <landing>/<source>/date=YYYY-MM-DD/symbol=<SYM>/<collector_run>-<seq>.ndjson
    <landing>/_quarantine/<source>/date=YYYY-MM-DD/<collector_run>-<seq>.ndjson

A file is written under ``.<name>.tmp`` in its final folder, flushed (and
fsynced when asked) and renamed: readers ignore names starting with ``.`` or
``_``, so they only ever see complete files. ``date`` is the UTC date of the
event time; a replay of a long history lands with ``partition="month"``
(``date=YYYY-MM``: one file per symbol and month of a flush, not per day, so 20
years of daily bars are a few hundred files, not ten thousand). Bronze reads
both spellings (it matches ``date=*`` and takes no partition columns). Writers
are thread-safe (one lock) because a collector's receive loop and its interval
flusher run on different threads.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import orjson

from financial_transactions.ingest.records import Chunk, LandingLine, Reject

if TYPE_CHECKING:
    from financial_transactions.runtime import Platform

#: Every landing data file ends so; the readers' glob and the abandoned-attempt walk both match on it.
LANDING_SUFFIX = ".ndjson"

_MS_PER_DAY = 86_400_000
_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-=")


def canonical_file(path: str) -> str:
    """One spelling per file: Spark reports ``file:/a%20b/x``, listings give ``/a b/x``."""
    if "://" in path or path.startswith(("file:", "dbfs:")):
        parsed = urlparse(path)
        return unquote(parsed.path)
    return os.path.abspath(path)


#: Folder levels of a data file under the landing root: ``<source>/date=<d>/symbol=<s>/<name>.ndjson``.
LANDING_KEY_PARTS = 4


def landing_key(path: str) -> str:
    """A landing file's name relative to the landing root: ``<source>/date=<d>/symbol=<s>/<name>``.

    Bronze stores this in ``_source_file``, so a lakehouse moved or restored under another
    root still knows its files. Any spelling maps to it (absolute, ``file:`` URI, ``dbfs:``,
    or an already relative key), because every data file sits at exactly this depth.
    """
    parts = [p for p in canonical_file(path).replace("\\", "/").split("/") if p]
    return "/".join(parts[-LANDING_KEY_PARTS:])


def ingested_files(platform: Platform) -> set[str]:
    """Landing keys (:func:`landing_key`) of the files already in bronze (its ``_source_file`` column).

    The landing zone's consumption record: the pipeline reads only files not in it, and
    the replay refuses to land a window again when bronze holds files of its dead attempt.
    Rows written before bronze stored relative names hold absolute paths; they map to the
    same keys, so an old lakehouse needs no migration.
    """
    import pyarrow.compute as pc

    fqn = platform.config.table("bronze_trades")
    if not platform.store.exists(fqn):
        return set()
    column = platform.store.read_arrow(fqn, columns=["_source_file"]).column("_source_file")
    return {landing_key(f) for f in pc.unique(column).to_pylist() if f}


def partition_value(text: str) -> str:
    """A path-safe partition value (``:``/``/`` would break Hadoop paths); the record keeps the real symbol."""
    cleaned = "".join(ch if ch in _SAFE else "_" for ch in text)
    return cleaned.lstrip("._") or "_"


def write_atomic(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` via ``.<name>.tmp`` + rename, so no reader sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if fsync:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass
class FlushStats:
    files: int = 0
    records: int = 0
    bytes: int = 0


#: Partition granularities of the landing folders: a live feed's day, a replayed history's month.
PARTITIONS = ("day", "month")


class LandingWriter:
    """Buffers landing records per (date, symbol) and writes one file per partition per flush.

    ``add_many`` flushes when the buffer holds ``max_records``; the owner calls
    :meth:`flush_if_due` regularly for the age bound and :meth:`close` at the end.
    ``partition`` (``day`` or ``month``, see the module docstring) may be changed before the first flush.
    """

    def __init__(
        self,
        landing: Path,
        source: str,
        collector_run: str,
        *,
        max_records: int = 5000,
        max_age_seconds: float = 5.0,
        fsync: bool = True,
    ) -> None:
        self.root = Path(landing) / source
        self.source = source
        self.run = collector_run
        self.max_records = max_records
        self.max_age = max_age_seconds
        self.fsync = fsync
        self.partition = "day"
        self.stats = FlushStats()
        self._lock = threading.Lock()
        self._by_day: dict[int, dict[str, list[bytes]]] = {}
        self._buffered = 0
        self._oldest: float | None = None
        self._seq = 0
        self._dates: dict[int, str] = {}
        self._closed = False

    @property
    def buffered(self) -> int:
        return self._buffered

    def _date(self, ts_ms: int) -> str:
        day = ts_ms // _MS_PER_DAY
        text = self._dates.get(day)
        if text is None:
            if self.partition not in PARTITIONS:
                raise ValueError(f"landing partition must be one of {PARTITIONS}, not {self.partition!r}")
            fmt = "%Y-%m" if self.partition == "month" else "%Y-%m-%d"
            text = datetime.fromtimestamp(day * 86_400, UTC).strftime(fmt)
            self._dates[day] = text
        return text

    def add_many(self, records: list[LandingLine]) -> int:
        """Buffer (symbol, ts, line) records; returns how many a size-triggered flush wrote.

        Buffers are per day, then per symbol: a range check on ``ts`` finds the
        day (it rarely changes within a batch) so the hot loop builds no keys.
        """
        if not records:
            return 0
        with self._lock:
            if self._closed:
                raise RuntimeError("landing writer is closed")
            by_day = self._by_day
            lo, hi = 1, 0  # empty range: the first record selects its day
            cur: dict[str, list[bytes]] = {}
            for symbol, ts, line in records:
                if not lo <= ts < hi:
                    day = ts // _MS_PER_DAY
                    lo, hi = day * _MS_PER_DAY, (day + 1) * _MS_PER_DAY
                    cur = by_day.setdefault(day, {})
                buf = cur.get(symbol)
                if buf is None:
                    buf = cur[symbol] = []
                buf.append(line)
            self._buffered += len(records)
            if self._oldest is None:
                self._oldest = time.monotonic()
            if self._buffered >= self.max_records:
                return self._flush_locked()
        return 0

    def add_chunks(self, chunks: list[Chunk]) -> int:
        """Buffer pre-joined lines (one symbol, one day each); same flush rules as :meth:`add_many`."""
        if not chunks:
            return 0
        with self._lock:
            if self._closed:
                raise RuntimeError("landing writer is closed")
            for c in chunks:
                self._by_day.setdefault(c.ts // _MS_PER_DAY, {}).setdefault(c.symbol, []).append(c.data)
                self._buffered += c.count
            if self._oldest is None:
                self._oldest = time.monotonic()
            if self._buffered >= self.max_records:
                return self._flush_locked()
        return 0

    def flush_if_due(self) -> int:
        with self._lock:
            if self._oldest is not None and time.monotonic() - self._oldest >= self.max_age:
                return self._flush_locked()
        return 0

    def flush(self) -> int:
        with self._lock:
            return self._flush_locked()

    def close(self) -> int:
        """Flush what is left; later ``add_many`` calls are errors."""
        with self._lock:
            written = self._flush_locked()
            self._closed = True
            return written

    def _flush_locked(self) -> int:
        written = 0
        files: dict[tuple[str, str], list[bytes]] = {}
        for day, symbols in sorted(self._by_day.items()):
            label = self._date(day * _MS_PER_DAY)
            for symbol, lines in symbols.items():
                files.setdefault((label, symbol), []).extend(lines)
        for (label, symbol), lines in files.items():
            self._seq += 1
            folder = self.root / f"date={label}" / f"symbol={partition_value(symbol)}"
            data = b"".join(lines)
            write_atomic(folder / f"{self.run}-{self._seq:06d}.ndjson", data, fsync=self.fsync)
            self.stats.files += 1
            self.stats.bytes += len(data)
            written += data.count(b"\n")  # lines and pre-joined chunks alike
        self.stats.records += written
        self._by_day = {}
        self._buffered = 0
        self._oldest = None
        return written


class QuarantineWriter:
    """Rejected payloads with their reason, one NDJSON line each, partitioned by receive date."""

    def __init__(self, landing: Path, source: str, collector_run: str, *, fsync: bool = True) -> None:
        self.root = Path(landing) / "_quarantine" / source
        self.source = source
        self.run = collector_run
        self.fsync = fsync
        self.count = 0
        self.reasons: dict[str, int] = {}
        self._lock = threading.Lock()
        self._lines: dict[str, list[bytes]] = {}
        self._seq = 0

    def add(self, rejects: list[Reject], received_at: int) -> None:
        if not rejects:
            return
        day = datetime.fromtimestamp(received_at / 1000, UTC).strftime("%Y-%m-%d")
        with self._lock:
            lines = self._lines.setdefault(day, [])
            for r in rejects:
                lines.append(
                    orjson.dumps(
                        {"source": self.source, "received_at": received_at, "reason": r.reason, "raw": r.raw},
                        option=orjson.OPT_APPEND_NEWLINE,
                    )
                )
                key = r.reason.split(":")[0]
                self.reasons[key] = self.reasons.get(key, 0) + 1
            self.count += len(rejects)

    def flush(self) -> int:
        with self._lock:
            written = 0
            for day, lines in self._lines.items():
                if not lines:
                    continue
                self._seq += 1
                path = self.root / f"date={day}" / f"{self.run}-{self._seq:06d}.ndjson"
                write_atomic(path, b"".join(lines), fsync=self.fsync)
                written += len(lines)
            self._lines = {}
            return written
