"""Serving: the FastAPI scoring and decision service (the Databricks Model Serving endpoint is runtime code)."""
