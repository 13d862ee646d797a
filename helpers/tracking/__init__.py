"""Track LangChain runs in SageMaker Experiments: one callback handler, one trace artifact per run."""

from __future__ import annotations

import logging
from pathlib import Path

from .handler import ARTIFACT_NAME, SageMakerCallbackHandler
from .spans import SCHEMA_VERSION
from .spool import default_spool_dir, pending_spools

__all__ = ["ARTIFACT_NAME", "SCHEMA_VERSION", "SageMakerCallbackHandler", "upload_pending_spools"]

log = logging.getLogger(__name__)


def upload_pending_spools(sagemaker_session, spool_dir: str | Path | None = None) -> list[str]:
    """Upload spools left by a killed process to their runs; returns the uploaded spool paths."""
    from ..experiments import load_run

    uploaded = []
    for trace, meta in pending_spools(Path(spool_dir) if spool_dir else default_spool_dir()):
        if not (meta.get("run_name") and meta.get("experiment_name")):
            log.warning("Spool %s names no run; left in place.", trace)
            continue
        with load_run(run_name=meta["run_name"], experiment_name=meta["experiment_name"],
                      sagemaker_session=sagemaker_session) as run:
            run.log_file(str(trace), name=meta.get("artifact_name") or ARTIFACT_NAME,
                         media_type="application/jsonl")
        meta_path = trace.parent / "meta.json"
        import json
        meta["uploaded_bytes"] = trace.stat().st_size
        meta_path.write_text(json.dumps(meta))
        uploaded.append(str(trace))
        log.info("Uploaded spool %s to run %s.", trace, meta["run_name"])
    return uploaded
