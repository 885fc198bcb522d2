"""Shared test support: builders imported by tests of several packages, the lakehouse and MLflow registry
fixtures (registered in ``tests/conftest.py``), and real local peers (HTTP servers on 127.0.0.1) that tests
talk to instead of mocks."""
