"""SageMakerCallbackHandler: records every LangChain span of a SageMaker Run into one trace artifact.

langchain_core's BaseTracer builds the run tree; this class only turns finished runs into spans,
spools them on disk, and uploads the spool once per top-level call.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import traceback
import weakref
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.tracers.base import BaseTracer

from .redact import Redactor
from .serialize import to_jsonable
from .spans import hyperparameters, span_record
from .spool import Spool, default_spool_dir

log = logging.getLogger(__name__)

ARTIFACT_NAME = "langchain-trace"
# A BatchPutMetrics request carries at most 10 values: 6 totals + 4 latencies keep it to one per upload.
_LATENCIES_PER_UPLOAD = 4
_MULTIPART_THRESHOLD = 8 * 1024 * 1024  # boto3's default: bigger traces go multipart


def _session_of(run):
    """The SageMaker Session behind a Run (v2 and v3 keep it on the trial component)."""
    return getattr(run, "sagemaker_session", None) or run._trial_component.sagemaker_session


def _strict() -> bool:
    """Under test, tracking faults are raised so tests see them; users only get a warning."""
    flag = os.environ.get("SAGEMAKER_TRACKING_STRICT")
    if flag is not None:
        return flag == "1"
    return bool(os.environ.get("PYTEST_CURRENT_TEST"))


class SageMakerCallbackHandler(BaseTracer):
    """Drop-in replacement for langchain_community's handler: `SageMakerCallbackHandler(run)`."""

    name = "sagemaker_callback_handler"

    def __init__(self, run, *, artifact_name: str = ARTIFACT_NAME, max_field_chars: int = 20_000,
                 mask=None, spool_dir: str | os.PathLike | None = None,
                 log_hyperparameters: bool = True, **kwargs: Any):
        # "original+chat" makes BaseTracer record chat models as messages, not flattened prompts.
        super().__init__(_schema_format="original+chat", **kwargs)
        if not hasattr(run, "log_file"):
            raise TypeError(
                f"SageMakerCallbackHandler needs a SageMaker Run (from `with Run(...) as run`), got {type(run).__name__}."
            )
        self.run = run
        self.artifact_name = artifact_name
        self.max_field_chars = max_field_chars
        self.log_hyperparameters = log_hyperparameters
        self.raise_error = _strict()
        self._redact = Redactor(mask)
        self._lock = threading.RLock()  # handlers may be run in a thread by langchain
        self._upload_lock = threading.Lock()
        self._dirty = False
        self._warned: set[str] = set()
        self._errors: dict[str, dict] = {}
        self._params: dict[str, Any] = {}
        self._params_logged: dict[str, Any] = {}
        self._totals = {"llm_calls": 0, "tool_calls": 0, "errors": 0,
                        "input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        self._latencies: list[float] = []
        self._trace_uri: str | None = None
        self._s3 = None
        tc_name = getattr(getattr(run, "_trial_component", None), "trial_component_name", None)
        self.spool = Spool(
            Path(spool_dir) if spool_dir else default_spool_dir(),
            {
                "experiment_name": getattr(run, "experiment_name", None),
                "run_name": getattr(run, "run_name", None),
                "trial_component_name": tc_name,
                "artifact_name": artifact_name,
            },
        )
        _live_handlers.add(self)

    @property
    def spool_path(self) -> Path:
        return self.spool.path

    # Faults: logged once as a warning, raised under test

    def _fault(self, where: str, error: BaseException) -> None:
        if self.raise_error:
            raise error
        if where not in self._warned:
            self._warned.add(where)
            log.warning("SageMaker tracking: %s failed (%s: %s); the chain goes on.", where,
                        type(error).__name__, error)

    # Errors keep their type and message, which Run.error flattens into one string

    def _remember_error(self, error: BaseException, run_id: UUID) -> None:
        self._errors[str(run_id)] = {"type": type(error).__name__, "message": str(error)[: self.max_field_chars],
                                     "traceback": "".join(traceback.format_exception(error))}

    def on_llm_error(self, error, *, run_id, **kwargs):
        self._remember_error(error, run_id)
        return super().on_llm_error(error, run_id=run_id, **kwargs)

    def on_chain_error(self, error, *, run_id, **kwargs):
        self._remember_error(error, run_id)
        return super().on_chain_error(error, run_id=run_id, **kwargs)

    def on_tool_error(self, error, *, run_id, **kwargs):
        self._remember_error(error, run_id)
        return super().on_tool_error(error, run_id=run_id, **kwargs)

    def on_retriever_error(self, error, *, run_id, **kwargs):
        self._remember_error(error, run_id)
        return super().on_retriever_error(error, run_id=run_id, **kwargs)

    # The tracer's hooks

    def _end_trace(self, run) -> None:
        try:
            self._record(run)
        except Exception as error:
            self._fault("recording a span", error)
        super()._end_trace(run)
        self._forget(run)

    def _forget(self, run) -> None:
        """Drop a spooled run from its parent, so memory stays flat however long the trace grows."""
        parent = self.run_map.get(str(run.parent_run_id)) if run.parent_run_id else None
        siblings = getattr(parent, "child_runs", None)
        if siblings:
            if siblings[-1] is run:
                siblings.pop()
            else:
                try:
                    siblings.remove(run)
                except ValueError:
                    pass

    def _record(self, run) -> None:
        details = self._errors.pop(str(run.id), None)
        record = span_record(run, details)
        with self._lock:
            if record["kind"] in ("llm", "chat_model"):
                self._totals["llm_calls"] += 1
                if record["latency_ms"] is not None:
                    self._latencies.append(record["latency_ms"])
                for key, value in (record["usage"] or {}).items():
                    self._totals[key] += value
                if self.log_hyperparameters:
                    self._params.update(hyperparameters(record["invocation_params"] or {}))
            elif record["kind"] == "tool":
                self._totals["tool_calls"] += 1
            if record["status"] == "error":
                self._totals["errors"] += 1
        self.spool.append(self._redact(to_jsonable(record, self.max_field_chars)))

    def _persist_run(self, run) -> None:
        """A top-level call ended: upload the trace, unless an upload in flight will pick it up."""
        self._dirty = True
        self._upload(wait=False)

    # Uploads: at most one in flight; concurrent top-level calls coalesce into it

    def _upload(self, wait: bool) -> bool:
        if not self._upload_lock.acquire(blocking=wait):
            return True  # the upload in flight sees _dirty and uploads again
        try:
            while self._dirty:
                self._dirty = False
                if not self._upload_once():
                    return False
            return True
        finally:
            self._upload_lock.release()

    def _upload_once(self, all_metrics: bool = False) -> bool:
        size = self.spool.flush()
        latencies: list[float] = []
        try:
            with self._lock:
                params = {k: v for k, v in self._params.items() if self._params_logged.get(k) != v}
                totals = dict(self._totals)
                take = len(self._latencies) if all_metrics else _LATENCIES_PER_UPLOAD
                latencies, self._latencies = self._latencies[:take], self._latencies[take:]
            if params:
                self.run.log_parameters(params)  # saved with the trial component, no request now
                self._params_logged.update(params)
            self._put_trace()
            self._put_metrics(totals, latencies)
        except Exception as error:
            with self._lock:
                self._latencies[:0] = latencies
            self._dirty = True
            if self.raise_error:
                raise
            log.warning(
                "SageMaker tracking: uploading the trace failed (%s: %s). The spans are safe in %s; "
                "they are uploaded with the next call, flush_tracker(), or upload_pending_spools().",
                type(error).__name__, error, self.spool.path,
            )
            return False
        self.spool.mark_uploaded(size)
        return True

    def _put_trace(self) -> None:
        """The first upload registers the artifact with log_file; later ones overwrite it with one PutObject."""
        if self._trace_uri is None:
            self.run.log_file(str(self.spool.path), name=self.artifact_name, media_type="application/jsonl")
            artifact = getattr(self.run, "_trial_component", None)
            artifact = getattr(artifact, "output_artifacts", {}).get(self.artifact_name)
            self._trace_uri = getattr(artifact, "value", None) or ""
            return
        if not self._trace_uri.startswith("s3://"):
            self.run.log_file(str(self.spool.path), name=self.artifact_name, media_type="application/jsonl")
            return
        bucket, _, key = self._trace_uri[5:].partition("/")
        if self._s3 is None:
            self._s3 = _session_of(self.run).boto_session.client("s3")
        if self.spool.path.stat().st_size < _MULTIPART_THRESHOLD:  # one request, no transfer threads
            self._s3.put_object(Bucket=bucket, Key=key, Body=self.spool.path.read_bytes(), ContentType="application/jsonl")
        else:
            self._s3.upload_file(str(self.spool.path), bucket, key, ExtraArgs={"ContentType": "application/jsonl"})

    def _put_metrics(self, totals: dict, latencies: list[float]) -> None:
        """Totals and LLM latencies in BatchPutMetrics requests of at most 10 values (the API's limit)."""
        now = time.time()
        data = [{"MetricName": k, "Value": float(v), "Timestamp": now} for k, v in totals.items()]
        data += [{"MetricName": "llm_latency_ms", "Value": float(v), "Timestamp": now} for v in latencies]
        client = getattr(_session_of(self.run), "sagemaker_metrics_client", None)
        tc_name = self.spool.meta.get("trial_component_name")
        if client is None or not tc_name:  # an SDK without the metrics client: let the Run batch them
            for item in data:
                self.run.log_metric(name=item["MetricName"], value=item["Value"])
            return
        for start in range(0, len(data), 10):
            response = client.batch_put_metrics(TrialComponentName=tc_name.lower(), MetricData=data[start : start + 10])
            if response.get("Errors"):
                raise RuntimeError(f"BatchPutMetrics rejected {len(response['Errors'])} values: {response['Errors'][0]}")

    def flush_tracker(self) -> None:
        """Upload everything recorded so far, with every pending metric value."""
        with self._upload_lock:
            self._dirty = False
            self._upload_once(all_metrics=True)

    def __deepcopy__(self, memo=None):
        return self

    def __copy__(self):
        return self


_live_handlers: weakref.WeakSet[SageMakerCallbackHandler] = weakref.WeakSet()


@atexit.register
def _finish_uploads() -> None:
    """Give a pending upload its chance before the interpreter goes."""
    for handler in list(_live_handlers):
        try:
            if handler._dirty:
                handler._upload(wait=True)
            handler.spool.remove_if_uploaded()
        except Exception:  # noqa: S110 - nothing is left to report to at exit
            pass
