"""load_runs / load_traces for an MLflow store: the same columns as from SageMaker Experiments.

Runs come from mlflow.search_runs (metrics' history gives the _min/_max/_avg/... columns); spans from the
run's JSONL segments (its artifacts), read by the same parser as the Experiments traces.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd

from .span_table import empty_columns, extend_columns, span_columns, span_frame

log = logging.getLogger(__name__)

_STATS = {"min": min, "max": max, "avg": lambda v: sum(v) / len(v), "count": len,
          "stddev": lambda v: pd.Series(v).std() if len(v) > 1 else 0.0}


def is_mlflow(tracker) -> bool:
    return type(tracker).__name__ == "MlflowTracking"


def _experiment(client, experiment_name: str):
    return client.get_experiment_by_name(experiment_name)


def load_runs(experiment_name: str, tracker) -> pd.DataFrame:
    """One row per run: run_name, TrialComponentName (the run id), parameters, metrics and their stats, trace_uri."""
    client = tracker.client()
    experiment = _experiment(client, experiment_name)
    runs = client.search_runs([experiment.experiment_id], max_results=5000) if experiment else []
    if not runs:
        log.warning("Experiment %r has no runs in MLflow at %s. Track some first (notebooks 01-03 with "
                    "tracker='mlflow'), or check the name.", experiment_name, tracker.tracking_uri)
        return pd.DataFrame(columns=["run_name", "TrialComponentName"])
    rows = []
    for run in runs:
        row = {"run_name": run.info.run_name, "TrialComponentName": run.info.run_id,
               "DisplayName": run.info.run_name, "status": run.info.status,
               "StartTime": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
               "EndTime": pd.to_datetime(run.info.end_time, unit="ms", utc=True) if run.info.end_time else None}
        for key, value in run.data.params.items():
            row[key] = _number(value)
        for key, value in run.data.metrics.items():
            row[key] = value
            history = [m.value for m in client.get_metric_history(run.info.run_id, key)]
            for stat, function in _STATS.items():
                row[f"{key}_{stat}"] = function(history) if history else None
        row["trace_uri"] = run.data.tags.get("langchain.trace")
        rows.append(row)
    return pd.DataFrame(rows)


def _number(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def load_traces(experiment_name: str, tracker, run_names: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per span across the runs (COLUMNS of span_table), and one row per run saying how it loaded."""
    from .traces import parse_trace  # noqa: PLC0415

    client = tracker.client()
    experiment = _experiment(client, experiment_name)
    runs = client.search_runs([experiment.experiment_id], max_results=5000) if experiment else []
    if run_names is not None:
        wanted = {n.lower() for n in run_names}
        runs = [r for r in runs if (r.info.run_name or "").lower() in wanted]
    columns, statuses = empty_columns(), []
    for run in runs:
        folder = run.data.tags.get("langchain.trace")
        status, spans = "no trace", []
        if folder:
            texts = _segments(client, run.info.run_id, folder.split("/", 3)[-1].strip("/"))
            spans = [s for text in texts for s in parse_trace(text)[0]]
            status = "ok"
        extend_columns(columns, span_columns(run.info.run_name, spans))
        statuses.append({"run_name": run.info.run_name, "trace_status": status, "spans": len(spans)})
    if not statuses:
        log.warning("Experiment %r has no runs%s in MLflow at %s.", experiment_name,
                    f" named {', '.join(run_names)}" if run_names else "", tracker.tracking_uri)
    return span_frame(columns), pd.DataFrame(statuses, columns=["run_name", "trace_status", "spans"])


def _segments(client, run_id: str, artifact_path: str) -> list[str]:
    """Every segment's text, each writer's in offset order (names sort in writing order)."""
    with tempfile.TemporaryDirectory(prefix="mlflow-trace-") as tmp:
        local = Path(client.download_artifacts(run_id, artifact_path, tmp))
        files = sorted(p for p in local.rglob("*.jsonl"))
        return [p.read_text(encoding="utf-8", errors="surrogateescape") for p in files]
