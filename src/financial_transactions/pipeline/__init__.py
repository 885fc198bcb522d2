"""The medallion layers as pure DataFrame -> DataFrame helpers.

One implementation serves the embedded runner, Structured Streaming and the
declarative pipeline file (``scripts/financial/dlt_pipeline.py``, run by
``spark-pipelines`` locally and by Lakeflow on Databricks).
"""
