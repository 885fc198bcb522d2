"""How every ``fin-mlops`` command prints its tables: adaptive to the width, or ``--json``.

The layout itself (wide, narrow with a legend, vertical; the identifying column never
cut) is :class:`~financial_transactions.runtime.tables.DataTable`, shared with the
``fin-mlops run`` stages. This module adds the command-line half:

* ``--json`` (:data:`JSON`) on every command that prints a table: stdout then carries
  one JSON object, ``{table name: [row, ...]}``, and nothing else;
* :func:`out`, the console for everything else a command says: stdout normally,
  stderr under ``--json`` so a pipe into ``jq`` never sees it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.console import Console

from financial_transactions.cli.main import console, err_console
from financial_transactions.runtime.tables import Column, DataTable, key_value_table, tables_json

__all__ = ["JSON", "Column", "DataTable", "key_value_table", "out", "show"]

#: The ``--json`` option of a command that prints tables.
JSON = typer.Option(False, "--json", help="print the tables as one JSON object on stdout, and nothing else")


def out(as_json: bool) -> Console:
    """Where a command's messages go: stderr under ``--json`` (stdout holds only the JSON)."""
    return err_console if as_json else console


def show(tables: Sequence[DataTable], as_json: bool) -> None:
    """Print ``tables``: as one JSON object under ``--json``, else each fitted to the console width."""
    if as_json:
        sys.stdout.write(tables_json(tables) + "\n")
        sys.stdout.flush()
        return
    for table in tables:
        console.print(table)
