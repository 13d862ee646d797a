"""save_trace: a run's trace artifact as a local JSON Lines file, from AWS or the stand-in alike.

The stand-in stores objects under hashed names (see the README), so this is the way to get at one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..experiments import open_session
from .segments import read_segments, trace_uris

log = logging.getLogger(__name__)


def save_trace(experiment_name: str, run_name: str, to: str | Path | None = None, sagemaker_session=None) -> Path:
    """Download the run's langchain-trace artifact to `to` (default: ./<run_name>.langchain-trace.jsonl).

    Every segment is written in order; one that cannot be read is left out with a warning naming it
    (if none can be read, the first one's error is raised).
    """
    session = sagemaker_session or open_session()
    client = session.sagemaker_client
    name = f"{experiment_name}-{run_name}"
    try:
        tc = client.describe_trial_component(TrialComponentName=name)
    except client.exceptions.ResourceNotFound:
        tc = client.describe_trial_component(TrialComponentName=name.lower())  # Run lower-cases names
    if not trace_uris(tc):
        raise ValueError(f"Run {run_name!r} of {experiment_name!r} has no langchain-trace artifact.")
    segments = read_segments(session.boto_session.client("s3"), tc)
    bad = [segment for segment in segments if not segment.readable]
    if bad and len(bad) == len(segments):
        raise bad[0].exception
    if bad:
        log.warning("Run %s: %d of %d trace segments could not be read and are not in the file: %s.", run_name,
                    len(bad), len(segments), ", ".join(f"{s.uri} ({s.error})" for s in bad))
    target = Path(to or f"{run_name}.langchain-trace.jsonl")
    target.parent.mkdir(parents=True, exist_ok=True)
    # every readable segment of the trace, in order, as one JSON Lines file
    target.write_text("".join(s.text for s in segments if s.readable), encoding="utf-8")
    return target
