"""SageMakerCallbackHandler: records every LangChain span of a SageMaker Run into the run's trace.

langchain_core's BaseTracer builds the run tree; this class turns finished runs into spans on a disk
spool and asks the uploader to send what is new, as a segment, when a top-level call ends.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import threading
import traceback
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from langchain_core.tracers.base import BaseTracer

from .metrics import RunMetrics
from .redact import Redactor, redact_logs
from .serialize import MAX_ITEMS, safe_text, span_fields, to_jsonable
from .spans import SCHEMA_VERSION, span_record
from .spool import Spool, default_spool_dir
from .store import ExperimentsStore, session_of, store_identity
from .uploader import TraceUploader, UnresolvedStore

log = redact_logs(logging.getLogger(__name__))

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
    marker), max_items (items kept of a list or dict), max_span_bytes (a span's budget: past it, fields
    are cut further, with a marker; default 256 KB), mask (a callable that redacts more, span dict in, span dict out), spool_dir (default
    $SAGEMAKER_TRACE_SPOOL_DIR or ./.trace-spool), log_hyperparameters (model settings as run
    parameters), upload_interval_s (the least time between background uploads), store (where segments,
    parameters and metrics go; default: the Run's own SageMaker Experiments store, see store.TraceStore),
    otlp_endpoint / otlp_headers (also export the spans as OTLP/HTTP there, see helpers.backends.otlp).
    """

    name = "sagemaker_callback_handler"
    # Async chains call the hooks on the event loop itself, not through a thread executor: they only queue
    # spans and write one line batch per top-level call; uploads stay on the worker thread (see _persist_run).
    run_inline = True

    def __init__(self, run, *, artifact_name: str = ARTIFACT_NAME, max_field_chars: int = 20_000,
                 max_items: int = MAX_ITEMS, max_span_bytes: int = 256 * 1024,
                 mask=None, spool_dir: str | os.PathLike | None = None,
                 log_hyperparameters: bool = True, upload_interval_s: float = 1.0, store=None,
                 otlp_endpoint: str | None = None, otlp_headers: dict[str, str] | None = None,
                 **kwargs: Any):
        # "original+chat" makes BaseTracer record chat models as messages, not flattened prompts.
        super().__init__(_schema_format="original+chat", **kwargs)
        if store is None and getattr(getattr(run, "info", None), "run_id", None):  # an MLflow run: its own store
            from ..backends.mlflow_store import MlflowStore, is_mlflow_run  # noqa: PLC0415

            store = MlflowStore.for_run(run, artifact_name) if is_mlflow_run(run) else None
        if store is None and not hasattr(run, "log_file"):
            raise TypeError(
                f"SageMakerCallbackHandler needs a SageMaker Run (from `with Run(...) as run`) or an MLflow run "
                f"(from `with mlflow.start_run() as run`), got {type(run).__name__}."
            )
        self.run = run
        self.artifact_name = artifact_name
        self.max_field_chars = max_field_chars
        self.max_items = max_items
        self.max_span_bytes = max_span_bytes
        self.log_hyperparameters = log_hyperparameters
        self.raise_error = _strict()
        self._redact = Redactor(mask)
        self._warned: set[str] = set()
        self._errors: dict[str, dict] = {}  # run id -> error details, until the run's span is written
        self._raised_in: dict[int, tuple] = {}  # id(exception) -> (exception, first span), per top-level call
        self.uploader = _uploader_for(run, artifact_name, spool_dir, log_hyperparameters, self.raise_error,
                                      upload_interval_s, self._redact, store, otlp_endpoint, otlp_headers)
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
        try:
            details = {"type": type(error).__name__, "message": safe_text(error)[: self.max_field_chars],
                       "traceback": _format_exception(error)}
            raised_in = self._raised_in.get(id(error))
            if raised_in is not None and raised_in[0] is error:  # the same exception passing up: one failure
                details["raised_in"] = raised_in[1]
            else:
                self._raised_in[id(error)] = (error, str(run_id))
            self._errors[str(run_id)] = details
        except Exception as fault:
            self._fault("recording an error", fault)

    @staticmethod
    def _get_stacktrace(error: BaseException) -> str:
        """BaseTracer's version, for exceptions whose repr or str raise too."""
        return _format_exception(error)

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
        span = self._redact.apply_mask(span_fields(record, self.max_field_chars, self._redact, self.max_items))
        line = encode_line(span)
        if len(line) > self.max_span_bytes:
            span = self._within_budget(record, len(line))
            line = encode_line(span)
        with self.uploader.record_lock:  # metrics and spool see spans in one order (crash recovery relies on it)
            self.metrics.add(span)
            self.spool.append(line)

    def _within_budget(self, record: dict, size: int) -> dict:
        """A span over max_span_bytes: its fields cut harder, else its payload fields as short text."""
        marker = f"[span of {size} bytes over the {self.max_span_bytes}-byte budget: fields cut]"
        chars = max(64, self.max_span_bytes // 64)
        span = self._redact.apply_mask(span_fields(record, chars, self._redact, max(3, self.max_items // 10)))
        if len(encode_line(span)) > self.max_span_bytes:
            for key in ("inputs", "outputs", "metadata", "tool_calls", "invocation_params"):
                if span.get(key):
                    span[key] = {"__cut__": marker, "head": encode_line(span[key])[:chars].decode("utf-8", "replace")}
            for key in ("input_text", "output_text"):
                if isinstance(span.get(key), str):
                    span[key] = span[key][:chars]
            if isinstance(span.get("error"), dict):
                span["error"]["traceback"] = str(span["error"].get("traceback"))[-chars:]
        span["cut"] = marker
        return span

    def _persist_run(self, run) -> None:
        """A top-level call ended: its spans go to disk now, to S3 from the upload worker."""
        self._raised_in.clear()
        try:
            self.spool.flush()  # a killed process still leaves every finished call on disk
            if self.uploader.registered or self.uploader.failing or asyncio._get_running_loop() is not None:
                # while S3 fails, calls do not sit out botocore's retries either; an event loop never waits on S3
                self.uploader.request()
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


def encode_line(span: dict) -> bytes:
    """One JSON line; orjson, or json where orjson refuses (lone surrogates are kept as their escapes)."""
    try:
        line = orjson.dumps(span)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(span, allow_nan=False).encode() + b"\n"  # ASCII: every break is escaped
    # str.splitlines() would break a line on these: escape them (rare, so checked before replacing)
    if b"\xc2\x85" in line or b"\xe2\x80\xa8" in line or b"\xe2\x80\xa9" in line:
        line = line.replace(b"\xc2\x85", b"\\u0085").replace(b"\xe2\x80\xa8", b"\\u2028").replace(
            b"\xe2\x80\xa9", b"\\u2029")
    return line + b"\n"


def _format_exception(error: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(error))
    except Exception:
        return f"{type(error).__name__}: {safe_text(error)}"


# Every uploader made in this process, for the exit hook (one small object per run).
_uploaders: set[TraceUploader] = set()
_uploaders_lock = threading.Lock()


def live_spools() -> set[Path]:
    """Spool folders that handlers of this process still own."""
    with _uploaders_lock:
        return {uploader.spool.directory.resolve() for uploader in _uploaders}


def _uploader_for(run, artifact_name, spool_dir, log_hyperparameters, strict, upload_interval_s,
                  redactor, store=None, otlp_endpoint=None, otlp_headers=None) -> TraceUploader:
    """One spool and uploader per (Run, artifact name): handlers made for the same Run share them.

    Each one is an execution of the run: a writer of its own segments, with its own metrics.
    """
    with _uploaders_lock:
        shared = getattr(run, "_langchain_trace_uploaders", None)
        if shared is None:
            shared = {}
            try:
                run._langchain_trace_uploaders = shared
                _hook_run_close(run, shared, redactor)
            except (AttributeError, TypeError):  # a Run that takes no attributes: nothing is shared
                pass
        if artifact_name in shared:
            return shared[artifact_name]
        unresolved = None
        if store is None:
            try:
                store = ExperimentsStore.for_run(run, artifact_name)
            except Exception as error:  # no default bucket, S3 or STS unreachable: track to the spool only
                if strict:
                    raise
                tc_name = getattr(getattr(run, "_trial_component", None), "trial_component_name", None)
                unresolved = store = UnresolvedStore(error, _identity_of(run), tc_name)
        if otlp_endpoint and unresolved is None:
            from ..backends.otlp import with_otlp_export  # noqa: PLC0415

            store = with_otlp_export(store, otlp_endpoint, otlp_headers)
        tc = getattr(run, "_trial_component", None)
        spool = Spool(
            Path(spool_dir) if spool_dir else default_spool_dir(),
            {"experiment_name": getattr(run, "experiment_name", None), "run_name": getattr(run, "run_name", None),
             "trial_component_name": getattr(store, "tc_name", None), "artifact_name": artifact_name, "trace_uri": store.trace_uri,
             "store": store.identity()},
        )
        # A run whose earlier execution ended (a re-executed cell, load_run) keeps its numbers until this one ends.
        earlier = getattr(tc, "end_time", None) is not None
        spool.meta["holds_numbers"] = earlier
        spool.append(encode_line({"schema_version": SCHEMA_VERSION, "type": "execution", "event": "start",
                                  "execution_id": spool.writer_id, "pid": os.getpid(),
                                  "earlier_execution": earlier}))
        metrics = RunMetrics(log_hyperparameters=log_hyperparameters)
        uploader = TraceUploader(store, spool, metrics, strict, min_interval_s=upload_interval_s,
                                 hold_numbers=earlier)
        uploader.failing = unresolved is not None  # the warning below says it all: no second one per upload
        if unresolved is not None:
            log.warning("SageMaker tracking: the trace store of run %s could not be resolved (%s). Its spans are "
                        "kept in %s, not in the run; the run gets no trace link, parameters or metrics from this "
                        "handler. Once the store is reachable, upload_pending_spools(session) sends the trace to the run.",
                        getattr(run, "run_name", None), unresolved.error, spool.where())
        _move_single_object_trace(run, artifact_name)
        shared[artifact_name] = uploader
        _uploaders.add(uploader)
        return uploader


def _identity_of(run) -> dict:
    """The store identity of a run whose bucket is unknown (backend, region, account: best effort)."""
    try:
        return store_identity(session_of(run))
    except Exception:
        return {}


def _move_single_object_trace(run, artifact_name: str) -> None:
    """A run traced before segments holds one object: it stays readable as '<name>-earlier'."""
    artifacts = getattr(getattr(run, "_trial_component", None), "output_artifacts", None)
    if not isinstance(artifacts, dict) or artifact_name not in artifacts:
        return
    value = str(getattr(artifacts[artifact_name], "value", "") or "")
    if value.startswith("s3://") and not value.endswith("/"):
        artifacts[f"{artifact_name}-earlier"] = artifacts.pop(artifact_name)


def _hook_run_close(run, uploaders: dict[str, TraceUploader], redactor: Redactor) -> None:
    """Run.__exit__ calls self.close(): an instance attribute lets the trace and metrics land
    before the trial component is saved, even if the user never calls flush_tracker().

    The failure message the SDK put in the run's status is redacted here, and an execution that
    failed after an earlier one leaves the run's parameters and metrics as the earlier one left them.
    """
    original = getattr(run, "close", None)
    if not callable(original):
        return

    def close(*args, **kwargs):
        failure = None
        current = list(uploaders.values())
        status = getattr(getattr(run, "_trial_component", None), "status", None)
        failed = getattr(status, "primary_status", None) == "Failed"
        if status is not None and getattr(status, "message", None):
            with contextlib.suppress(Exception):
                status.message = redactor.redact_text(safe_text(status.message))[:1024]  # the API's limit
        with contextlib.ExitStack() as held:  # no worker upload may touch the Run while it saves and closes
            for uploader in current:
                held.enter_context(uploader.run_lock)
            for uploader in current:
                try:
                    uploader.raise_stored_error()
                    _end_execution(uploader, status, failed)
                    if failed and uploader.hold_numbers and status is not None:
                        with contextlib.suppress(Exception):
                            status.message = (f"execution {uploader.spool.writer_id} failed: {status.message} "
                                              "(the run's parameters and metrics are still those of its "
                                              "earlier execution)")[:1024]
                    if uploader.hold_numbers and not failed:
                        uploader.hold_numbers = False
                    uploader.upload_locked()
                except Exception as error:  # strict mode only; the Run still closes first
                    failure = failure or error
            try:
                return original(*args, **kwargs)
            finally:
                for uploader in current:
                    uploader.retire()
                    uploader.spool.close_file()
                    _remove_if_confirmed(uploader)
                if failure is not None:
                    raise failure

    run.close = close


def _end_execution(uploader: TraceUploader, status, failed: bool) -> None:
    """The execution's own record: its status, parameters and totals, kept with its spans."""
    if uploader.spool.meta.get("ended"):
        return
    uploader.spool.meta["ended"] = True
    record = {"schema_version": SCHEMA_VERSION, "type": "execution", "event": "end",
              "execution_id": uploader.spool.writer_id,
              "status": "Failed" if failed else (getattr(status, "primary_status", None) or "Completed"),
              "message": getattr(status, "message", None) if failed else None,
              "params": uploader.metrics.params(), "totals": uploader.metrics.totals(),
              "numbers_sent_to_run": not (failed and uploader.hold_numbers)}
    with uploader.record_lock:
        uploader.spool.append(encode_line(to_jsonable(record)))


def _remove_if_confirmed(uploader: TraceUploader) -> bool:
    """Delete a spool once the run holds all of it and the store confirms the run links its segments."""
    try:
        if not uploader.spool.fully_uploaded() or (uploader.spool.size and not uploader.store.linked()):
            return False
    except Exception as error:
        log.info("SageMaker tracking: keeping %s (%s: %s).", uploader.spool.directory, type(error).__name__, error)
        return False
    uploader.spool.remove()  # a call after this (the Run closed) writes a new spool file
    return True


@atexit.register
def _finish_uploads() -> None:
    """Finish uploads in flight and send what is left before the interpreter goes; drop confirmed spools."""
    for uploader in list(_uploaders):
        spool = uploader.spool
        if spool.removed and not spool.flush() > spool.meta["uploaded_bytes"]:
            continue  # confirmed and removed, nothing written since
        if not spool.in_memory and not spool.removed and not spool.directory.exists():
            continue  # its folder was deleted (a test's tmp dir): nothing left to send
        try:
            uploader.wait(timeout=60)
            uploader.upload_now()
        except Exception as error:
            log.warning("SageMaker tracking: the last upload at exit failed (%s); the spans stay in %s.",
                        error, uploader.spool.where())
        with contextlib.suppress(Exception):
            _remove_if_confirmed(uploader)
