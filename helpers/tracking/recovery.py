"""upload_pending_spools: sends what killed processes left in their spools, to the store each spool names.

One entry point for both backends: each spool's meta.json names its store (SageMaker Experiments: backend,
region, account or local folder; MLflow: its tracking URI, experiment and run). A spool goes only to that store
(else a warning names both), as segments of a recovery writer of its own; it is deleted once the store
confirms the run links the trace.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from .metrics import RunMetrics
from .redact import redact_logs
from .spool import LeftSpool, default_spool_dir, left_spools
from .store import ExperimentsStore, describe_store, store_identity
from .uploader import SEGMENT_BYTES

log = redact_logs(logging.getLogger(__name__))

_SAME_STORE_KEYS = ("backend", "region", "account", "folder")


def upload_pending_spools(target=None, spool_dir: str | Path | None = None,
                          adopt_unnamed: bool = False) -> list[str]:
    """Upload spools left by killed processes to their runs, with the metrics they never sent.

    target is where this call may send: a SageMaker Session (spools of Experiments runs on its store), an
    MLflow tracker from open_tracker("mlflow") or a tracking URI (spools of MLflow runs on that store), or
    None (MLflow spools to the tracking URI each one names; Experiments spools need a session).
    Returns the uploaded spool folders. spool_dir defaults to $SAGEMAKER_TRACE_SPOOL_DIR or ./.trace-spool.
    Spools a live process still writes (its lock is held) are left to it. Spools written by older versions
    name no store: they are sent only with adopt_unnamed=True.
    """
    from .handler import live_spools

    here = target_identity(target)
    owned = live_spools()
    uploaded = []
    for left in left_spools(Path(spool_dir) if spool_dir else default_spool_dir()):
        recovered = False
        try:
            if left.directory.resolve() in owned:
                continue
            if _is_mlflow(left.meta):
                if _may_send_mlflow(left, here):
                    from ..backends.mlflow_recovery import recover_mlflow_spool  # noqa: PLC0415

                    recover_mlflow_spool(left, _tracking_uri(target) or left.meta["store"]["tracking_uri"])
                    recovered = True
                    uploaded.append(str(left.directory))
            elif _may_send(left, here, adopt_unnamed):
                sent = _recover(target, left)
                recovered = True
                if sent:
                    uploaded.append(str(left.directory))
        except Exception as error:
            log.warning("Tracking recovery: recovering %s failed (%s: %s); it is left in place.",
                        left.directory, type(error).__name__, error)
        finally:
            left.release(remove=recovered)
    return uploaded


def target_identity(target) -> dict | None:
    """The store a recovery target writes to, in the terms a spool's meta.json uses."""
    if target is None:
        return None
    uri = _tracking_uri(target)
    if uri is not None:
        from ..backends.mlflow_store import _safe_uri  # noqa: PLC0415

        return {"backend": "mlflow", "tracking_uri": _safe_uri(uri)}
    return store_identity(target)


def _tracking_uri(target) -> str | None:
    if isinstance(target, str):
        return target
    uri = getattr(target, "tracking_uri", None)
    return uri if isinstance(uri, str) and not hasattr(target, "sagemaker_client") else None


def _is_mlflow(meta: dict) -> bool:
    return (meta.get("store") or {}).get("backend") == "mlflow"


def _refuse(left: LeftSpool, theirs: dict, here: dict) -> bool:
    log.warning("Spool %s (run %s) belongs to the store %s, not to this call's store %s; left in place. "
                "Recover it with upload_pending_spools(<a session or MLflow tracker on its own store>).",
                left.directory, left.meta.get("run_name") or theirs.get("run_id"), describe_store(theirs),
                describe_store(here))
    return False


def _may_send_mlflow(left: LeftSpool, here: dict | None) -> bool:
    theirs = left.meta["store"]
    if here is None:
        return True  # to the tracking URI the spool names
    if here.get("backend") != "mlflow" or here.get("tracking_uri") != theirs.get("tracking_uri"):
        return _refuse(left, theirs, here)
    return True


def _may_send(left: LeftSpool, here: dict | None, adopt_unnamed: bool) -> bool:
    meta = left.meta
    if here is None or here.get("backend") == "mlflow":
        if here is None:
            log.warning("Spool %s (run %s) is a SageMaker Experiments run's (store %s); left in place. Recover it "
                        "with upload_pending_spools(session).", left.directory, meta.get("run_name"),
                        describe_store(meta.get("store") or {}) or "not named")
            return False
        return _refuse(left, meta.get("store") or {"backend": "experiments"}, here)
    if not (meta.get("run_name") and meta.get("experiment_name") and meta.get("trial_component_name")):
        log.warning("Spool %s names no run (experiment_name, run_name); left in place.", left.directory)
        return False
    theirs = meta.get("store")
    if theirs is None:
        if adopt_unnamed:
            return True
        log.warning("Spool %s (run %s) was written by an older version and names no store; left in place. "
                    "If it belongs to %s, call upload_pending_spools(session, adopt_unnamed=True).",
                    left.directory, meta["run_name"], describe_store(here))
        return False
    differs = [k for k in _SAME_STORE_KEYS if theirs.get(k) and here.get(k) and theirs[k] != here[k]]
    if differs or theirs.get("backend") != here.get("backend"):
        return _refuse(left, theirs, here)
    return True


def _recover(session, left: LeftSpool) -> bool:
    """Send the spool's rest and its unsent metrics; False when the run held all of it already."""
    meta = left.meta
    tc_name = meta["trial_component_name"]
    artifact_name = meta.get("artifact_name") or "langchain-trace"
    trace_uri = meta.get("trace_uri") or _trace_uri_of_old_spool(session, tc_name, artifact_name)
    store = ExperimentsStore(session, tc_name, artifact_name, trace_uri)
    size = left.path.stat().st_size
    done = int(meta.get("uploaded_bytes") or 0)
    writer = meta.get("writer_id") or f"{time.strftime('%Y%m%dT%H%M%S000000Z', time.gmtime(meta.get('created', 0)))}-old"
    tag = uuid.uuid4().hex[:6]
    complete = done >= size and meta.get("linked") and not meta.get("metrics_pending")
    while done < size:
        body = left.read(done, min(SEGMENT_BYTES, size - done))
        store.put_segment(f"{writer}/{done:012d}.recovered-{tag}.jsonl", body)
        done += len(body)
        meta["uploaded_bytes"] = done
        left.save_meta()
    if complete:
        if not store.linked():
            raise RuntimeError(f"the run {meta['run_name']} does not link {trace_uri}")
        return False
    store.link()
    if not meta.get("holds_numbers") and not _ended_since(session, tc_name, meta.get("created", 0)):
        with open(left.path, "rb") as lines:
            metrics = RunMetrics.from_trace(lines, latencies_sent=int(meta.get("latencies_sent") or 0))
        snapshot = metrics.take()
        if snapshot is not None:
            store.put_params(snapshot.params)
            store.put_metrics(snapshot)
    if not store.linked():
        raise RuntimeError(f"the run {meta['run_name']} does not link {trace_uri} after the update")
    log.info("Uploaded spool %s to run %s.", left.directory, meta["run_name"])
    return True


def _ended_since(session, tc_name: str, created: float) -> bool:
    """An execution of the run ended after this spool was made: its numbers are the run's now."""
    described = session.sagemaker_client.describe_trial_component(TrialComponentName=tc_name)
    end = described.get("EndTime")
    return bool(end) and (end.timestamp() if hasattr(end, "timestamp") else float(end)) > created


def _trace_uri_of_old_spool(session, tc_name: str, artifact_name: str) -> str:
    held = session.sagemaker_client.describe_trial_component(TrialComponentName=tc_name).get("OutputArtifacts") or {}
    value = str(held.get(artifact_name, {}).get("Value") or "")
    if value.startswith("s3://"):
        return value.rsplit("/", 1)[0] + f"/{artifact_name}/"
    return f"s3://{session.default_bucket()}/trial-component-artifacts/{tc_name}/{artifact_name}/"
