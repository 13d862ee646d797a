"""load_runs: the ExperimentAnalytics frame of an experiment, one row per run, with friendly columns."""

from __future__ import annotations

import logging

import pandas as pd

from ..experiments import ExperimentAnalytics, open_session
from . import mlflow_readback

log = logging.getLogger(__name__)

_STATS = ("Min", "Max", "Avg", "StdDev", "Last", "Count")


def experiment_frame(experiment_name: str, session) -> tuple[pd.DataFrame, str]:
    """The raw frame, trying the name as given and then lower-cased (Run lower-cases names)."""
    for name in dict.fromkeys([experiment_name, experiment_name.lower()]):
        frame = ExperimentAnalytics(experiment_name=name, sagemaker_session=session).dataframe(force_refresh=True)
        if len(frame):
            return frame, name
    return pd.DataFrame(), experiment_name


def tidy(frame: pd.DataFrame, experiment_name: str) -> pd.DataFrame:
    """Rename metric and artifact columns: 'tokens - Last' -> 'tokens', 'x - Avg' -> 'x_avg'."""
    if frame.empty:
        return frame
    renames, drop = {}, []
    for column in frame.columns:
        if " - " not in column:
            continue
        base, stat = column.rsplit(" - ", 1)
        if stat == "Last":
            renames[column] = base
        elif stat in _STATS:
            renames[column] = f"{base}_{stat.lower()}"
        elif stat == "Value":
            renames[column] = "trace_uri" if base == "langchain-trace" else f"{base}_uri"
        elif stat == "MediaType":
            drop.append(column)
    frame = frame.drop(columns=drop).rename(columns=renames)
    prefix = f"{experiment_name.lower()}-"
    frame.insert(0, "run_name", [
        n[len(prefix):] if n.lower().startswith(prefix) else n for n in frame["TrialComponentName"]
    ])
    return frame.reset_index(drop=True)


def load_runs(experiment_name: str, sagemaker_session=None) -> pd.DataFrame:
    """One row per run: parameters, metrics (latest value and _min/_max/_avg...), trace_uri.

    sagemaker_session may be an MLflow tracker (helpers.backends.open_tracker("mlflow")): the same columns.
    """
    if mlflow_readback.is_mlflow(sagemaker_session):
        return mlflow_readback.load_runs(experiment_name, sagemaker_session)
    session = sagemaker_session or open_session()
    frame, name = experiment_frame(experiment_name, session)
    if frame.empty:
        log.warning("Experiment %r has no runs here (%s). Track some first (notebooks 01-03, with the same "
                    "backend and local_dir), or check the name.", experiment_name, where(session))
        return pd.DataFrame(columns=["run_name", "TrialComponentName"])
    return tidy(frame, name)


def where(session) -> str:
    """Which backend a session talks to, for messages."""
    from ..experiments import local_backend

    backend = local_backend(session)
    return f"local stand-in in {backend.local_dir}" if backend is not None else f"AWS, region {session.boto_region_name}"
