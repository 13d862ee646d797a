"""save_trace: a run's trace artifact as a local JSON Lines file, from AWS or the stand-in alike.

The stand-in stores objects under hashed names (see the README), so this is the way to get at one.
"""

from __future__ import annotations

from pathlib import Path

from ..experiments import open_session
from .traces import read_trace_text, trace_uris


def save_trace(experiment_name: str, run_name: str, to: str | Path | None = None, sagemaker_session=None) -> Path:
    """Download the run's langchain-trace artifact to `to` (default: ./<run_name>.langchain-trace.jsonl)."""
    session = sagemaker_session or open_session()
    client = session.sagemaker_client
    name = f"{experiment_name}-{run_name}"
    try:
        tc = client.describe_trial_component(TrialComponentName=name)
    except client.exceptions.ResourceNotFound:
        tc = client.describe_trial_component(TrialComponentName=name.lower())  # Run lower-cases names
    if not trace_uris(tc):
        raise ValueError(f"Run {run_name!r} of {experiment_name!r} has no langchain-trace artifact.")
    target = Path(to or f"{run_name}.langchain-trace.jsonl")
    target.parent.mkdir(parents=True, exist_ok=True)
    # every segment of the trace, in order, as one JSON Lines file
    target.write_text(read_trace_text(session.boto_session.client("s3"), tc), encoding="utf-8")
    return target
