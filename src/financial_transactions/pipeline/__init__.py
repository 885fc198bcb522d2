"""The medallion pipeline: bronze -> silver -> gold, run as batch, as a stream or as a declarative pipeline.

The layers are pure DataFrame -> DataFrame helpers.

One implementation serves the embedded runner, Structured Streaming and the
declarative pipeline file (``scripts/financial/dlt_pipeline.py``, run by
``spark-pipelines`` locally and by Lakeflow on Databricks).
"""
