"""The runtime seam: the one place that knows which platform this process runs on."""

from financial_transactions.runtime.platform import Platform

__all__ = ["Platform"]
