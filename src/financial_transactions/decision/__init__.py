"""Decisions: the decision matrix, the backtester with the deflated Sharpe ratio, and their stages."""
