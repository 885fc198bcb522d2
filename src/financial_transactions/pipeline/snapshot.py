"""Job-owned snapshots of the tables the pipeline publishes as materialized views.

Drift windows, prediction synthesis (``gold_version``), backtests and the decision matrix pin a
Delta version of ``gold_trade_features`` so that a recorded run can be replayed. A pipeline's
materialized view has no time travel (https://docs.databricks.com/aws/en/ldp/limitations), so on
Databricks the pipeline publishes gold as ``gold_trade_features_mv``
(:data:`~financial_transactions.pipeline.declarative.SNAPSHOT_KEYS`) and the ingestion job's
``snapshot_gold`` task merges it into the Delta table ``gold_trade_features``, which the jobs own:
every snapshot is a version they can pin.

The embedded runner writes ``gold_trade_features`` itself (it is the job there), so locally there
is nothing to copy and the readers see the same table on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from financial_transactions.lakehouse.catalog import spec
from financial_transactions.pipeline.declarative import SNAPSHOT_KEYS, published_name

if TYPE_CHECKING:
    from financial_transactions.runtime import Platform


@dataclass(frozen=True)
class Snapshot:
    """One table's snapshot: where from, the version the jobs can now pin, and what the merge did."""

    key: str
    source: str | None  # the materialized view copied; None when the embedded runner wrote the table itself
    target: str
    version: int
    inserted: int = 0
    updated: int = 0


def snapshot_published(platform: Platform) -> list[Snapshot]:
    """Merge each published materialized view into its job-owned Delta table (by the spec's merge keys)."""
    out: list[Snapshot] = []
    for key in SNAPSHOT_KEYS:
        target = platform.table(key)
        catalog, schema, _ = target.split(".")
        source = f"{catalog}.{schema}.{published_name(platform.config, key)}"
        store = platform.store
        if not store.exists(source):
            if not store.exists(target):
                raise LookupError(f"neither {source} (the pipeline's view) nor {target} exists: run the pipeline first")
            out.append(Snapshot(key, None, target, store.version(target)))
            continue
        result = store.merge_spark(target, store.to_spark(source, platform.spark), spec(key).merge_keys, update=True)
        out.append(Snapshot(key, source, target, result.version, result.inserted, result.updated))
    return out
