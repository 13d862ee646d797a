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


_METADATA = {"run_name", "TrialComponentName", "DisplayName", "SourceArn", "Trials", "Experiments", "trace_uri"}


def parameter_columns(runs: pd.DataFrame) -> list[str]:
    """The run parameters among load_runs' columns: not metadata, not an artifact, not a metric (which has
    _min/_max/_avg/... siblings)."""
    stats = tuple(f"_{s.lower()}" for s in _STATS)
    metric_bases = {c[: -len(s)] for c in runs.columns for s in stats if c.endswith(s)}
    return [c for c in runs.columns
            if c not in _METADATA and c not in metric_bases and not c.endswith(stats) and not c.endswith("_uri")]


def temperature_sweeps(runs: pd.DataFrame, metrics=("output_tokens", "llm_latency_ms_avg")) -> pd.DataFrame:
    """Runs that differ only in temperature, one row per (sweep, temperature): the metrics' mean and which runs.

    A sweep is a set of runs whose other parameters (model, scenario, prompt, ...) are all equal and which
    span two temperatures or more; runs alike in every parameter are averaged together, and listed.
    Columns: sweep (the shared parameters, as text), temperature, n_runs, runs, then the metrics.
    """
    columns = ["sweep", "temperature", "n_runs", "runs", *metrics]
    params = [c for c in parameter_columns(runs) if c != "temperature"]
    if runs.empty or "temperature" not in runs.columns:
        return pd.DataFrame(columns=columns)
    frame = runs.assign(temperature=pd.to_numeric(runs["temperature"], errors="coerce")).dropna(subset=["temperature"])
    keys = frame[params].astype("string").fillna("-")
    # the label names only what tells one sweep from another: parameters that vary across the runs
    varying = [c for c in params if keys[c].nunique() > 1]
    frame = frame.assign(sweep=keys.apply(tuple, axis=1) if params else [()] * len(frame))
    labels = {key: _label(dict(zip(params, key, strict=True)), varying) for key in frame["sweep"].unique()}
    rows = []
    for sweep, group in frame.groupby("sweep", sort=True):
        if group["temperature"].nunique() < 2:
            continue
        for temperature, same in group.groupby("temperature", sort=True):
            values = same[[m for m in metrics if m in same.columns]].apply(pd.to_numeric, errors="coerce").mean()
            rows.append({"sweep": labels[sweep], "temperature": float(temperature), "n_runs": len(same),
                         "runs": ", ".join(sorted(same["run_name"])), **values.to_dict()})
    return pd.DataFrame(rows, columns=columns)


def _label(values: dict, varying: list[str], width: int = 40) -> str:
    shown = [f"{k}={v if len(v) <= width else v[: width - 1] + '…'}" for k, v in values.items()
             if k in varying and v != "-"]
    return ", ".join(shown) or "all runs"


def latency_caveat(runs: pd.DataFrame) -> str | None:
    """A warning to print next to latency plots when some runs used the offline model, else None."""
    if "model_name" not in runs.columns:
        return None
    offline = runs.loc[runs["model_name"].astype("string").str.startswith("offline").fillna(False), "run_name"]
    if offline.empty:
        return None
    return (f"{len(offline)} of {len(runs)} runs used the offline model: their latencies are the noise of a local "
            "function call (fractions of a millisecond), not a model's speed; compare latencies of real models only.")
