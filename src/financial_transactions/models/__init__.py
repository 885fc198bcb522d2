"""Anomaly models: tournament, validator, registry aliases and the fail-closed promotion gate.

OpenMP threads (LightGBM, XGBoost and scikit-learn each bundle libgomp) busy-wait
by default between parallel regions. On a shared 2-core machine (a laptop also
running Spark, a CI runner) that spinning starves the other thread: LightGBM with
``n_jobs=2`` was measured 15x *slower* than with one thread under load, and
normal with ``OMP_WAIT_POLICY=PASSIVE``. libgomp reads the variable when it is
loaded, so it is set here, before any of those libraries is imported by this
package; an explicit value from the environment wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
