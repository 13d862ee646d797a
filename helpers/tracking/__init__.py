"""Track LangChain runs in SageMaker Experiments: one callback handler, one trace artifact per run.

After a crash, send what a killed process left in its spool (run it once, in any process):
    from helpers.tracking import upload_pending_spools; upload_pending_spools(session)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .handler import ARTIFACT_NAME, SageMakerCallbackHandler
from .metrics import RunMetrics
from .spans import SCHEMA_VERSION
from .spool import META_FILE, default_spool_dir, pending_spools
from .uploader import MEDIA_TYPE

__all__ = ["ARTIFACT_NAME", "SCHEMA_VERSION", "SageMakerCallbackHandler", "upload_pending_spools"]

log = logging.getLogger(__name__)


def upload_pending_spools(sagemaker_session, spool_dir: str | Path | None = None) -> list[str]:
    """Upload spools left by killed processes to their runs, with the metrics they never sent.

    Returns the uploaded spool paths. spool_dir defaults to $SAGEMAKER_TRACE_SPOOL_DIR or ./.trace-spool.
    """
    from ..experiments import load_run

    uploaded = []
    for trace, meta in pending_spools(Path(spool_dir) if spool_dir else default_spool_dir()):
        if not (meta.get("run_name") and meta.get("experiment_name")):
            log.warning("Spool %s names no run (experiment_name, run_name in %s); left in place.", trace, META_FILE)
            continue
        metrics = _metrics_of(trace, already_sent=int(meta.get("uploaded_bytes") or 0))
        with load_run(run_name=meta["run_name"], experiment_name=meta["experiment_name"],
                      sagemaker_session=sagemaker_session) as run:
            run.log_file(str(trace), name=meta.get("artifact_name") or ARTIFACT_NAME, media_type=MEDIA_TYPE)
            snapshot = metrics.take(all_latencies=True)
            if snapshot is not None:
                if snapshot.params:
                    run.log_parameters(snapshot.params)
                for name, value in snapshot.totals.items():
                    run.log_metric(name=name, value=float(value))
                for value in snapshot.latencies:
                    run.log_metric(name="llm_latency_ms", value=float(value))
        meta["uploaded_bytes"] = trace.stat().st_size
        (trace.parent / META_FILE).write_text(json.dumps(meta))
        uploaded.append(str(trace))
        log.info("Uploaded spool %s to run %s.", trace, meta["run_name"])
    return uploaded


def _metrics_of(trace: Path, already_sent: int) -> RunMetrics:
    """Totals over every span; latencies only for spans past `already_sent` bytes (the rest were logged)."""
    metrics, late = RunMetrics(), RunMetrics(log_hyperparameters=False)
    offset = 0
    with open(trace, "rb") as lines:
        for raw in lines:
            offset += len(raw)
            try:
                span = json.loads(raw)
            except ValueError:  # a line cut by the kill
                continue
            if not isinstance(span, dict) or span.get("type") != "span" or span.get("schema_version") != SCHEMA_VERSION:
                continue
            record = {"kind": span.get("kind"), "status": span.get("status"), "usage": span.get("usage"),
                      "latency_ms": span.get("latency_ms"), "invocation_params": span.get("invocation_params")}
            metrics.add(record)
            if offset > already_sent:
                late.add(record)
    metrics.replace_latencies(late)
    return metrics
