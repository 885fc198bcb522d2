"""Offline tooling (the ``deploy`` extra): checks of the bundle, the UC setup SQL, CI workflows and secrets policy.

Entry points: :func:`financial_transactions.deploy.bundle_check.check_bundle` (``fin-mlops bundle-check``)
and ``python -m financial_transactions.deploy.secret_scan``.
"""
