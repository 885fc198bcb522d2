"""The runtime seam: the one place that knows which platform this process runs on.

``Platform.create`` picks a :class:`Runtime` once (:func:`detect_runtime`):
:class:`LocalRuntime` on a laptop or CI, :class:`DatabricksRuntime` in a workspace.
Everything that differs by platform is a method or attribute of that object.
"""

from financial_transactions.runtime.base import NotOnThisRuntime, Runtime
from financial_transactions.runtime.databricks import DatabricksRuntime
from financial_transactions.runtime.local import LocalRuntime
from financial_transactions.runtime.platform import Platform
from financial_transactions.runtime.select import detect_runtime

__all__ = ["DatabricksRuntime", "LocalRuntime", "NotOnThisRuntime", "Platform", "Runtime", "detect_runtime"]
