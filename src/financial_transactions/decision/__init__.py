"""Decisions: the weighted decision matrix, the vectorised backtester and their stages."""
