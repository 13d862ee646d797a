"""MLflow settings that keep tracking offline and lossless: no model-catalog fetch, no telemetry, no async export.

Applied before MLflow builds its tracer; a user's explicit MLFLOW_MODEL_CATALOG_URI is kept.
"""

from __future__ import annotations

import os

# MLflow fetches model prices from GitHub on the first LLM span unless the catalog URI is empty (bundled prices).
# Telemetry posts usage events to an MLflow host. Async trace export drops traces when its queue fills.
OFFLINE_SETTINGS = {"MLFLOW_MODEL_CATALOG_URI": "", "MLFLOW_DISABLE_TELEMETRY": "true"}
LOSSLESS_SETTINGS = {"MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false"}
QUIET_SETTINGS = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}  # read-back downloads one folder per run


def apply(offline: bool = True) -> None:
    """Set the switches (offline ones only where the user has not chosen otherwise)."""
    if offline:
        for key, value in OFFLINE_SETTINGS.items():
            os.environ.setdefault(key, value)
    os.environ.update(LOSSLESS_SETTINGS)
    for key, value in QUIET_SETTINGS.items():
        os.environ.setdefault(key, value)
