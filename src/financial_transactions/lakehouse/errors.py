"""Errors raised by the lakehouse store; each names the table and what went wrong."""

from __future__ import annotations


class LakehouseError(RuntimeError):
    """Base class: something about a table operation failed and nothing was committed."""


class TableNotFound(LakehouseError):
    pass


class SchemaMismatch(LakehouseError):
    pass


class ConstraintViolation(LakehouseError):
    pass


class ConcurrentModification(LakehouseError):
    """Another writer committed first; re-read the table and decide again."""
