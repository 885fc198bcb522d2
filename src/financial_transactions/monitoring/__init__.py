"""Monitoring and operations: drift, model performance, retraining trigger, alerts, rollback.

Modules are imported on use (``from financial_transactions.monitoring.drift_detector import
DriftDetector``) so that importing the package stays cheap for the CLI.
"""
