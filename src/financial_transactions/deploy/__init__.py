"""Offline validation of the Databricks bundle, the UC setup SQL, the CI workflows and the secrets policy."""

from financial_transactions.deploy.bundle_check import check_bundle, find_project_root
from financial_transactions.deploy.findings import BundleCheckReport, CheckResult, Finding

__all__ = ["BundleCheckReport", "CheckResult", "Finding", "check_bundle", "find_project_root"]
