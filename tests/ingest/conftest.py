"""Fixtures for the ingestion tests."""

from tests.support.replay import hub_factory, small_market

__all__ = ["hub_factory", "small_market"]
