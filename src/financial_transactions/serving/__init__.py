"""Serving: the FastAPI scoring/decision service and the Databricks model-serving endpoint."""
