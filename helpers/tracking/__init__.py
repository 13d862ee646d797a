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
from .uploader import MEDIA_TYPE, put_metrics

__all__ = ["ARTIFACT_NAME", "SCHEMA_VERSION", "SageMakerCallbackHandler", "upload_pending_spools"]

log = logging.getLogger(__name__)


def upload_pending_spools(sagemaker_session, spool_dir: str | Path | None = None) -> list[str]:
    """Upload spools left by killed processes to their runs, with the metrics they never sent.

    Returns the uploaded spool paths. spool_dir defaults to $SAGEMAKER_TRACE_SPOOL_DIR or ./.trace-spool.
    Spools that a handler of this process still owns are left to it.
    """
    from ..experiments import load_run
    from .handler import live_spools

    owned = live_spools()
    uploaded = []
    for trace, meta in pending_spools(Path(spool_dir) if spool_dir else default_spool_dir()):
        if trace.resolve() in owned:
            continue
        if not (meta.get("run_name") and meta.get("experiment_name")):
            log.warning("Spool %s names no run (experiment_name, run_name in %s); left in place.", trace, META_FILE)
            continue
        with open(trace, "rb") as lines:
            metrics = RunMetrics.from_trace(lines, latencies_sent=int(meta.get("latencies_sent") or 0))
        with load_run(run_name=meta["run_name"], experiment_name=meta["experiment_name"],
                      sagemaker_session=sagemaker_session) as run:
            run.log_file(str(trace), name=meta.get("artifact_name") or ARTIFACT_NAME, media_type=MEDIA_TYPE)
            snapshot = metrics.take()
            if snapshot is not None:
                if snapshot.params:
                    run.log_parameters(snapshot.params)
                put_metrics(run, meta.get("trial_component_name"), snapshot)
                metrics.confirm(snapshot)
        meta.update(uploaded_bytes=trace.stat().st_size, metrics_pending=False, latencies_sent=metrics.latencies_sent)
        (trace.parent / META_FILE).write_text(json.dumps(meta))
        uploaded.append(str(trace))
        log.info("Uploaded spool %s to run %s.", trace, meta["run_name"])
    return uploaded
