"""``fin-mlops`` CLI entry point."""

from financial_transactions.cli.main import app, platform_from_ctx

__all__ = ["app", "platform_from_ctx"]
