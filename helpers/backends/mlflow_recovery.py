"""Recovering MLflow runs' spools (upload_pending_spools routes them here): what killed processes left, sent to
their runs.

The unsent bytes become recovery segments; every call with a span among them becomes its MLflow trace
(rebuilt from the whole spool, so a call cut by an upload boundary is whole); then parameters and metrics.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from ..tracking.metrics import RunMetrics
from ..tracking.uploader import SEGMENT_BYTES

log = logging.getLogger(__name__)


def upload_pending_mlflow_spools(tracking_uri: str | None = None, spool_dir: str | Path | None = None) -> list[str]:
    """upload_pending_spools(tracking_uri, spool_dir): spools of MLflow runs whose writer is gone, to their runs
    (on tracking_uri, which must be the store each spool names; default that store)."""
    from ..tracking.recovery import upload_pending_spools  # noqa: PLC0415

    return upload_pending_spools(tracking_uri, spool_dir)


def recover_mlflow_spool(left, tracking_uri: str) -> None:
    """Send one left spool of an MLflow run (its store checked by the caller) to that run."""
    from .mlflow_store import MlflowStore  # noqa: PLC0415

    where = left.meta["store"]
    store = MlflowStore(tracking_uri, where["experiment_id"], where["run_id"],
                        left.meta.get("artifact_name") or "langchain-trace")
    _recover(store, left)


def _recover(store, left) -> None:
    meta = left.meta
    size = left.path.stat().st_size
    done = int(meta.get("uploaded_bytes") or 0)
    tag = uuid.uuid4().hex[:6]
    writer = meta.get("writer_id") or "recovered"
    start = done
    while done < size:
        body = left.read(done, min(SEGMENT_BYTES, size - done))
        if not body:
            break
        store.put_artifact(f"{writer}/{done:012d}.recovered-{tag}.jsonl", body)
        done += len(body)
        meta["uploaded_bytes"] = done
        left.save_meta()
    with open(left.path, "rb") as file:
        whole = file.read()
    calls: dict[str, dict[str, dict]] = {}
    unsent: set[str] = set()
    offset = 0
    for raw in whole.split(b"\n"):
        try:
            span = json.loads(raw)
        except ValueError:
            span = None
        if isinstance(span, dict) and span.get("type") == "span" and span.get("span_id"):
            calls.setdefault(str(span.get("trace_id")), {})[span["span_id"]] = span
            if offset >= start:
                unsent.add(str(span.get("trace_id")))
        offset += len(raw) + 1
    # a call whose root never finished (the process died inside it) is a trace of what did
    store.log_traces([list(calls[t].values()) for t in sorted(unsent)])
    store.link()
    metrics = RunMetrics.from_trace(spans_in_lines(whole), latencies_sent=int(meta.get("latencies_sent") or 0))
    snapshot = metrics.take()
    if snapshot is not None:
        store.put_params(snapshot.params)
        store.put_metrics(snapshot)
    log.info("Uploaded spool %s to MLflow run %s.", left.directory, store.run_id)


def spans_in_lines(whole: bytes):
    return (line for line in whole.split(b"\n") if line)

