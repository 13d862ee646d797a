"""SageMakerCallbackHandler: records every LangChain span of a SageMaker Run into one trace artifact.

langchain_core's BaseTracer builds the run tree; this class turns finished runs into spans on a disk
spool and asks the uploader to send the spool when a top-level call ends.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.tracers.base import BaseTracer

from .metrics import RunMetrics
from .redact import Redactor
from .serialize import to_jsonable
from .spans import span_record
from .spool import Spool, default_spool_dir
from .uploader import TraceUploader, session_of

log = logging.getLogger(__name__)

ARTIFACT_NAME = "langchain-trace"
_CLOSE_WAIT_S = 300.0  # botocore's own timeouts and retries end an upload well before this


def _strict() -> bool:
    """Under test, tracking faults are raised so tests see them; users only get a warning."""
    flag = os.environ.get("SAGEMAKER_TRACKING_STRICT")
    if flag is not None:
        return flag == "1"
    return bool(os.environ.get("PYTEST_CURRENT_TEST"))


class SageMakerCallbackHandler(BaseTracer):
    """Drop-in replacement for langchain_community's handler: `SageMakerCallbackHandler(run)`.

    Options: artifact_name (the run's output artifact), max_field_chars (longer fields are cut with a
    marker), mask (a callable that redacts more, span dict in, span dict out), spool_dir (default
    $SAGEMAKER_TRACE_SPOOL_DIR or ./.trace-spool), log_hyperparameters (model settings as run
    parameters), upload_interval_s (the least time between background uploads).
    """

    name = "sagemaker_callback_handler"

    def __init__(self, run, *, artifact_name: str = ARTIFACT_NAME, max_field_chars: int = 20_000,
                 mask=None, spool_dir: str | os.PathLike | None = None,
                 log_hyperparameters: bool = True, upload_interval_s: float = 1.0, **kwargs: Any):
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
        self._warned: set[str] = set()
        self._errors: dict[str, dict] = {}  # run id -> error details, until the run's span is written
        self.uploader = _uploader_for(run, artifact_name, spool_dir, log_hyperparameters, self.raise_error,
                                      upload_interval_s)
        self.spool = self.uploader.spool
        self.metrics = self.uploader.metrics

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
        self.order_map.pop(run.id, None)
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
        record = span_record(run, self._errors.pop(str(run.id), None))
        line = self._redact.apply_mask(to_jsonable(record, self.max_field_chars, self._redact))
        with self.uploader.record_lock:  # metrics and spool see spans in one order (crash recovery relies on it)
            self.metrics.add(record)
            self.spool.append(line)

    def _persist_run(self, run) -> None:
        """A top-level call ended: its spans go to disk now, to S3 from the upload worker."""
        try:
            self.spool.flush()  # a killed process still leaves every finished call on disk
            if self.uploader.registered or self.uploader.failing:
                self.uploader.request()  # while S3 fails, calls do not sit out botocore's retries either
            else:
                # The first upload runs here, so a wrong bucket or a missing permission is reported
                # by the call (the notebook cell) that caused it, not later from a thread.
                self.uploader.try_upload_now()
        except Exception as error:
            self._fault("uploading the trace", error)

    # Public API

    def flush_tracker(self) -> None:
        """Upload everything recorded so far, with every pending metric value, and wait for it."""
        self.uploader.upload_now()

    def wait_for_uploads(self, timeout: float | None = None) -> bool:
        """Block until the upload worker is idle; False if `timeout` seconds passed first."""
        return self.uploader.wait(timeout)

    def __deepcopy__(self, memo=None):
        return self

    def __copy__(self):
        return self


# Every uploader made in this process, for the exit hook (one small object per run).
_uploaders: set[TraceUploader] = set()
_uploaders_lock = threading.Lock()


def live_spools() -> set[Path]:
    """Spool files that handlers of this process still own."""
    with _uploaders_lock:
        return {uploader.spool.path.resolve() for uploader in _uploaders}


def _uploader_for(run, artifact_name, spool_dir, log_hyperparameters, strict, upload_interval_s) -> TraceUploader:
    """One spool and uploader per (Run, artifact name): handlers made for the same Run share them,
    so a second handler cannot overwrite the first one's trace object in S3."""
    with _uploaders_lock:
        shared = getattr(run, "_langchain_trace_uploaders", None)
        if shared is None:
            shared = {}
            try:
                run._langchain_trace_uploaders = shared
                _hook_run_close(run, shared)
            except (AttributeError, TypeError):  # a Run that takes no attributes: nothing is shared
                pass
        if artifact_name in shared:
            return shared[artifact_name]
        tc_name = getattr(getattr(run, "_trial_component", None), "trial_component_name", None)
        earlier = _earlier_trace(run, artifact_name, strict)
        spool = Spool(
            Path(spool_dir) if spool_dir else default_spool_dir(),
            {"experiment_name": getattr(run, "experiment_name", None), "run_name": getattr(run, "run_name", None),
             "trial_component_name": tc_name, "artifact_name": artifact_name},
            initial=earlier,
        )
        # A resumed run keeps counting from its earlier trace, whose latencies the run holds already.
        metrics = RunMetrics.from_trace(earlier.splitlines(), latencies_sent=sys.maxsize,
                                        log_hyperparameters=log_hyperparameters)
        spool.mark_uploaded(0, latencies_sent=metrics.latencies_sent)
        uploader = TraceUploader(run, spool, metrics, artifact_name, strict, min_interval_s=upload_interval_s)
        shared[artifact_name] = uploader
        _uploaders.add(uploader)
        return uploader


def _earlier_trace(run, artifact_name: str, strict: bool) -> bytes:
    """The trace a run already holds (a re-executed cell, or load_run): new spans are appended to it."""
    artifact = getattr(getattr(run, "_trial_component", None), "output_artifacts", None) or {}
    uri = str(getattr(artifact.get(artifact_name), "value", None) or "")
    if not uri.startswith("s3://"):
        return b""
    bucket, _, key = uri[5:].partition("/")
    try:
        return session_of(run).boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:
        if strict:
            raise
        log.warning("SageMaker tracking: the run's earlier trace %s could not be read (%s: %s); "
                    "this run's trace will hold only the new spans.", uri, type(error).__name__, error)
        return b""


def _hook_run_close(run, uploaders: dict[str, TraceUploader]) -> None:
    """Run.__exit__ calls self.close(): an instance attribute lets the trace and metrics land
    before the trial component is saved, even if the user never calls flush_tracker()."""
    original = getattr(run, "close", None)
    if not callable(original):
        return

    def close(*args, **kwargs):
        failure = None
        current = list(uploaders.values())
        with contextlib.ExitStack() as held:  # no worker upload may touch the Run while it saves and closes
            for uploader in current:
                held.enter_context(uploader.run_lock)
            for uploader in current:
                try:
                    uploader.raise_stored_error()
                    uploader.upload_locked()
                except Exception as error:  # strict mode only; the Run still closes first
                    failure = failure or error
            try:
                return original(*args, **kwargs)
            finally:
                for uploader in current:
                    uploader.retire()
                    uploader.spool.close_file()
                if failure is not None:
                    raise failure

    run.close = close


@atexit.register
def _finish_uploads() -> None:
    """Finish uploads in flight and send what is left before the interpreter goes; drop fully uploaded spools."""
    for uploader in list(_uploaders):
        if not uploader.spool.path.exists():  # its folder was deleted (a test's tmp dir): nothing left to send
            continue
        try:
            uploader.wait(timeout=60)
            uploader.upload_now()
        except Exception as error:
            log.warning("SageMaker tracking: the last upload at exit failed (%s); the spans stay in %s.",
                        error, uploader.spool.path)
        try:
            uploader.spool.remove_if_uploaded()
        except Exception:  # noqa: S110 - nothing is left to report to at exit
            pass
