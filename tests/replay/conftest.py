"""Fixtures for the replay tests."""

from tests.support.replay import hub_factory, small_market

__all__ = ["hub_factory", "small_market"]
