"""The one place that knows where tables live and how to talk to the engine."""

from financial_transactions.lakehouse.errors import (
    ConcurrentModification,
    ConstraintViolation,
    LakehouseError,
    SchemaMismatch,
    TableNotFound,
)
from financial_transactions.lakehouse.store import DeltaStore, LocalDeltaStore, MergeResult, SparkDeltaStore

__all__ = [
    "ConcurrentModification",
    "ConstraintViolation",
    "DeltaStore",
    "LakehouseError",
    "LocalDeltaStore",
    "MergeResult",
    "SchemaMismatch",
    "SparkDeltaStore",
    "TableNotFound",
]
