"""Every printed table's layout: fit the console width, never cut the identifying column.

One place for the CLI commands and the ``fin-mlops run`` stages alike (it sits low in
the layers so ``decision``, ``monitoring``, ``models`` and ``pipeline`` can build their
tables with it). A :class:`DataTable` holds the rows as raw values (what ``--json``
prints) and how to show each column; at print time it picks, for the console's width
(80 when output is piped):

1. **wide**: every cell on one line, full headers, when that fits;
2. **narrow**: abbreviated headers (explained in a legend line) and prose columns that
   wrap over at most :data:`MAX_WRAP_LINES` lines, when that fits;
3. **vertical**: one block per row, the identifying value as its heading, the short
   fields flowing as ``header value · header value`` and each prose column on its own lines.

The identifying column (symbol, feature, path, option) is never cut and never
shares its line with a wrapped fragment of itself: rich's last-resort squeeze,
which truncates every column to ``BTC…``, is never reached.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

Justify = Literal["left", "right", "center"]
Layout = Literal["wide", "narrow", "vertical"]

#: A prose column may wrap over this many lines before the table turns vertical.
MAX_WRAP_LINES = 4
#: Narrowest a wrapping column may get in the narrow layout.
MIN_WRAP_WIDTH = 16
#: Missing value in a cell.
DASH = "–"


def _plain(value: Any) -> str:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return DASH
    if isinstance(value, float):
        return DASH if not math.isfinite(value) else f"{value:g}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its header and how it behaves when space runs out."""

    key: str
    header: str
    #: Shorter header for a narrow console, explained in a legend line (``rec = recommendation``).
    short: str | None = None
    justify: Justify = "left"
    #: The column that names the row (symbol, feature, path, setting): never cut, heads a vertical block.
    ident: bool = False
    #: Prose (a "why", a note, a path): may wrap; every other column keeps its width.
    wrap: bool = False
    style: str | None = None
    #: Row -> rich markup of the cell; default: the row's ``key`` value as plain text.
    fmt: Callable[[dict[str, Any]], str] | None = None

    def cell(self, row: dict[str, Any]) -> Text:
        if self.fmt is not None:
            return Text.from_markup(self.fmt(row))
        return Text(_plain(row.get(self.key)))


@dataclass
class DataTable:
    """Rows of raw values plus their columns; a rich renderable that adapts to the console width."""

    name: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]]
    title: str | None = None
    caption: str | None = None
    show_header: bool = True
    #: Per-row style (same length as ``rows``), e.g. a warning row in yellow.
    row_styles: list[str | None] | None = None
    #: Set by the last render: which layout the width allowed (tests and callers may read it).
    layout: Layout | None = field(default=None, compare=False)

    # -- data ------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (datetimes as ISO-8601, non-finite floats as null)."""
        return [{k: _jsonable(v) for k, v in row.items()} for row in self.rows]

    # -- layout ----------------------------------------------------------------------------
    def _cells(self) -> list[list[Text]]:
        return [[col.cell(row) for col in self.columns] for row in self.rows]

    def _header(self, col: Column, short: bool) -> str:
        return (col.short or col.header) if short else col.header

    def _abbreviated(self, cells: list[list[Text]]) -> list[bool]:
        """Which headers the narrow layout shortens: only those wider than every cell below them."""
        out = []
        for i, col in enumerate(self.columns):
            widest = max((_width(row[i]) for row in cells), default=0)
            out.append(bool(col.short) and not self._wraps(col) and len(col.header) > widest)
        return out

    def _overhead(self) -> int:
        """Box edges and padding of an n-column table: one rule between columns, one space each side."""
        return 3 * len(self.columns) + 1

    def choose(self, width: int, cells: list[list[Text]] | None = None) -> tuple[Layout, list[int]]:
        """The layout for ``width`` columns and the column widths it uses."""
        cells = self._cells() if cells is None else cells

        def natural(i: int, header: str) -> int:
            head = len(header) if self.show_header else 0
            return max([head, *(_width(row[i]) for row in cells)])

        wide = [natural(i, self._header(c, False)) for i, c in enumerate(self.columns)]
        if sum(wide) + self._overhead() <= width:
            return "wide", wide
        short = self._abbreviated(cells)
        narrow = [0 if self._wraps(c) else natural(i, self._header(c, short[i])) for i, c in enumerate(self.columns)]
        wrapping = [i for i, c in enumerate(self.columns) if self._wraps(c)]
        # a narrow headerless table is bare (see __rich_console__): two spaces between columns
        overhead = self._overhead() if self.show_header else 2 * (len(self.columns) - 1)
        room = width - overhead - sum(narrow)
        if not wrapping:
            return ("narrow", narrow) if room >= 0 else ("vertical", [])
        if room < MIN_WRAP_WIDTH * len(wrapping):
            return "vertical", []
        # share the room in proportion to each prose column's longest cell
        need = [max(wide[i], 1) for i in wrapping]
        shares = [max(MIN_WRAP_WIDTH, room * n // sum(need)) for n in need]
        while sum(shares) > room:
            shares[shares.index(max(shares))] -= 1
        for i, share in zip(wrapping, shares, strict=True):
            narrow[i] = min(share, wide[i])
        if all(_lines(row[i], narrow[i]) <= MAX_WRAP_LINES for row in cells for i in wrapping):
            return "narrow", narrow
        return "vertical", []

    @staticmethod
    def _wraps(col: Column) -> bool:
        return col.wrap and not col.ident

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        cells = self._cells()
        layout, widths = self.choose(width, cells)
        self.layout = layout
        if layout == "vertical":
            yield from self._vertical(cells, width)
            return
        narrow = layout == "narrow"
        short = self._abbreviated(cells) if narrow else [False] * len(self.columns)
        # a headerless key/value table loses its borders when narrow: a folded value (a path) then
        # continues on the next line with nothing between its pieces
        bare = narrow and not self.show_header
        table = Table(
            title=self.title,
            caption=self.caption,
            show_header=self.show_header,
            box=None if bare else box.HEAVY_HEAD,
            pad_edge=not bare,
        )
        for col, w, abbreviated in zip(self.columns, widths, short, strict=True):
            table.add_column(
                self._header(col, abbreviated),
                justify=col.justify,
                style=col.style,
                no_wrap=not self._wraps(col),
                overflow="fold",
                width=w if narrow else None,
                min_width=w,
            )
        styles = self.row_styles or [None] * len(cells)
        for row, style in zip(cells, styles, strict=True):
            table.add_row(*row, style=style)
        yield table
        legend = [f"{c.short} = {c.header}" for c, a in zip(self.columns, short, strict=True) if a]
        if legend:
            yield Text("legend: " + ", ".join(legend), style="dim", overflow="fold")

    def _vertical(self, cells: list[list[Text]], width: int) -> Iterable[Any]:
        """One block per row: the identifying cells as a heading, the short fields flowing on
        ``header value · header value`` lines, and each prose column on lines of its own."""
        if self.title:
            yield Text(self.title, style="italic", overflow="fold")
        ident = [i for i, c in enumerate(self.columns) if c.ident] or [0]
        rest = [i for i in range(len(self.columns)) if i not in ident]
        inner = max(width - 2, 20)
        styles = self.row_styles or [None] * len(cells)
        for row, style in zip(cells, styles, strict=True):
            heading = Text(" · ").join(row[i] for i in ident)
            heading.stylize(f"bold {style or ''}".strip())
            heading.overflow = "fold"
            parts: list[Any] = [heading]
            fields = []
            for i in rest:
                col, cell = self.columns[i], row[i]
                label = f"{col.header}: " if self._wraps(col) else f"{col.header} "
                labelled = Text(label, style="dim") + cell if self.show_header else cell.copy()
                if self._wraps(col) or _width(labelled) > inner:
                    labelled.overflow = "fold"
                    parts.append(Padding(labelled, (0, 0, 0, 2)))
                else:
                    fields.append(labelled)
            parts[1:1] = [Padding(line, (0, 0, 0, 2)) for line in _flow(fields, inner)]
            yield Group(*parts)
        if self.caption:
            caption = Text.from_markup(self.caption, style="dim")  # the caption is markup, as in rich's Table
            caption.overflow = "fold"
            yield caption


def key_value_table(
    name: str,
    pairs: Iterable[tuple[str, Any]],
    *,
    key: str = "item",
    title: str | None = None,
    caption: str | None = None,
) -> DataTable:
    """A headerless ``key -> value`` table (settings, counters): the key is never cut, the value folds.

    ``--json`` gets ``[{key: ..., "value": ...}, ...]`` with the raw values; integers print with
    thousands separators.
    """

    def value(row: dict[str, Any]) -> str:
        v = row["value"]
        return escape(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else _plain(v))

    return DataTable(
        name,
        [Column(key, key, ident=True, style="bold"), Column("value", "value", wrap=True, fmt=value)],
        [{key: k, "value": v} for k, v in pairs],
        title=title,
        caption=caption,
        show_header=False,
    )


def _flow(items: list[Text], width: int) -> list[Text]:
    """``items`` packed greedily on lines of at most ``width`` cells, separated by `` · ``."""
    lines: list[Text] = []
    line = Text()
    for item in items:
        if line.cell_len and line.cell_len + 3 + item.cell_len > width:
            lines.append(line)
            line = Text()
        if line.cell_len:
            line.append(" · ", style="dim")
        line.append_text(item)
    if line.cell_len:
        lines.append(line)
    return lines


def _width(text: Text) -> int:
    return max((len(line) for line in text.plain.splitlines()), default=0)


def _longest_word(text: Text) -> int:
    return max((len(word) for word in text.plain.split()), default=0)


def _lines(text: Text, width: int) -> int:
    """Lines ``text`` takes wrapped on words at ``width`` (a word longer than the width folds)."""
    if width <= 0:
        return 10**6
    total = 0
    for paragraph in text.plain.splitlines() or [""]:
        line, count = 0, 1
        for word in paragraph.split():
            size = len(word)
            if size > width:  # folds over several lines
                count += (line > 0) + (size - 1) // width
                line = size % width or width
                continue
            if line and line + 1 + size > width:
                count += 1
                line = size
            else:
                line = line + 1 + size if line else size
        total += count
    return total


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy / pandas scalars
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def tables_json(tables: Iterable[DataTable]) -> str:
    """``{name: [row, ...], ...}`` of ``tables``: exactly their data, for ``--json``."""
    return json.dumps({t.name: t.records() for t in tables}, indent=2, default=str)
