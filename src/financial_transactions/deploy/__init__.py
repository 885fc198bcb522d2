"""Offline validation of the Databricks bundle, the UC setup SQL, the CI workflows and the secrets policy.

Entry points: :func:`financial_transactions.deploy.bundle_check.check_bundle` (``fin-mlops bundle-check``)
and ``python -m financial_transactions.deploy.secret_scan``.
"""
