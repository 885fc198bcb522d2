"""The ``fin-mlops`` command line: global options and one module of commands per domain."""

from financial_transactions.cli.main import app, platform_from_ctx

__all__ = ["app", "platform_from_ctx"]
