"""financial-ai-mlops: market-data MLOps on Databricks, runnable end to end on a laptop."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("financial-ai-mlops")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"
