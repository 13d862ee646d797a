"""Uploads a run's trace spool and metrics: one worker per run, at most one upload in flight, requests coalesce.

Every call on the SDK's Run goes through here under one lock, because the Run is not thread-safe.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time

from boto3.s3.transfer import TransferConfig

from .metrics import MetricsSnapshot, RunMetrics
from .spool import Spool

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/jsonl"
METRICS_PER_REQUEST = 10  # BatchPutMetrics' limit
_MULTIPART_THRESHOLD = 8 * 1024 * 1024  # boto3's default: bigger traces go multipart
_IDLE_EXIT_S = 30.0  # an idle worker ends; the next request starts a new one


def session_of(run):
    """The SageMaker Session behind a Run (v2 and v3 keep it on the trial component)."""
    return getattr(run, "sagemaker_session", None) or getattr(
        getattr(run, "_trial_component", None), "sagemaker_session", None)


def run_method(run, name: str):
    """A Run method without the SDK's inside-`with` check: the close and exit hooks run after
    Run.__exit__ cleared it, yet must still send what is left, with the SDK's own code."""
    method = getattr(type(run), name)
    return functools.partial(getattr(method, "__wrapped__", method), run)


class TraceUploader:
    """request() from any thread returns at once; upload_now() uploads on the caller's thread.

    The worker uploads at most once per `min_interval_s`: a loop of fast calls re-sends the growing
    trace once a second, not once per call. wait() and upload_now() never wait for that interval.
    """

    def __init__(self, run, spool: Spool, metrics: RunMetrics, artifact_name: str, strict: bool,
                 min_interval_s: float = 1.0):
        self.run = run
        self.spool = spool
        self.metrics = metrics
        self.artifact_name = artifact_name
        self.strict = strict
        self.min_interval_s = min_interval_s
        self.trace_uri: str | None = None
        self.uploads = 0
        self.run_lock = threading.Lock()  # held for every call on the Run
        self.record_lock = threading.Lock()  # held while a span goes to the metrics and the spool
        self._wake = threading.Condition()
        self._pending = False
        self._busy = 0  # uploads in progress, on the worker or a caller
        self._hurry = 0  # callers waiting: the worker skips its interval
        self._retire = False
        self._last_upload = 0.0
        self._worker: threading.Thread | None = None
        self._failing = False
        self._error: BaseException | None = None  # strict mode: raised at the next wait() or upload_now()
        self._s3 = None

    @property
    def registered(self) -> bool:
        return self.trace_uri is not None

    @property
    def failing(self) -> bool:
        """The last upload failed (a warning named the spool); the next one may succeed."""
        return self._failing

    # Scheduling

    def request(self) -> None:
        """Ask for an upload; one already in flight is followed by exactly one more, whatever the number of asks."""
        with self._wake:
            self._pending = True
            self._retire = False
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="sagemaker-trace-upload", daemon=True)
                self._worker.start()
            self._wake.notify_all()

    def try_upload_now(self) -> bool:
        """Upload on this thread unless another upload holds the Run; then leave it to the worker."""
        if not self.run_lock.acquire(blocking=False):
            self.request()
            return False
        try:
            with self._in_progress():
                self._attempt_upload()
        finally:
            self.run_lock.release()
        return True

    def upload_now(self) -> bool:
        """Wait for any upload in flight, then upload everything recorded so far."""
        self.raise_stored_error()
        with self._in_progress(), self.run_lock:
            return self.upload_locked()

    def upload_locked(self) -> bool:
        """upload_now() for a caller that holds run_lock already."""
        with self._wake:
            self._pending = False  # this upload covers whatever was asked for until now
        return self._attempt_upload()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no upload is pending or in flight; False on timeout."""
        with self._wake:
            self._hurry += 1
            self._wake.notify_all()
            try:
                done = self._wake.wait_for(lambda: not self._pending and not self._busy, timeout)
            finally:
                self._hurry -= 1
        self.raise_stored_error()
        return done

    def retire(self) -> None:
        """The Run closed: let an idle worker end now instead of after its idle timeout."""
        with self._wake:
            self._retire = True
            self._wake.notify_all()

    @contextlib.contextmanager
    def _in_progress(self):
        """Counts an upload on a caller's thread, so wait() waits for it too."""
        with self._wake:
            self._busy += 1
        try:
            yield
        finally:
            with self._wake:
                self._busy -= 1
                self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._wake:
                if not self._wake.wait_for(lambda: self._pending or self._retire, _IDLE_EXIT_S) or not self._pending:
                    self._worker = None
                    return
                due = self._last_upload + self.min_interval_s
                self._wake.wait_for(lambda: self._hurry or not self._pending, max(0.0, due - time.monotonic()))
                if not self._pending:  # an upload_now() covered it
                    continue
                self._pending = False
                self._busy += 1
            try:
                with self.run_lock:
                    self._attempt_upload()
            except BaseException as error:  # only strict mode raises here: keep it for the caller's next wait()
                self._error = error
            finally:
                with self._wake:
                    self._busy -= 1
                    self._wake.notify_all()

    def raise_stored_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    # One upload (the caller holds run_lock)

    def _attempt_upload(self) -> bool:
        """One upload; in non-strict mode a failure is a warning (once) and False."""
        try:
            return self._upload()
        except Exception as error:
            if self.strict:
                raise
            if not self._failing:
                log.warning(
                    "SageMaker tracking: uploading the trace failed (%s: %s). The spans are safe in %s; "
                    "they are uploaded with the next call, flush_tracker(), or upload_pending_spools().",
                    type(error).__name__, error, self.spool.path,
                )
            self._failing = True
            return False
        finally:
            self._last_upload = time.monotonic()

    def _upload(self) -> bool:
        size = self.spool.flush()
        trace_changed = size != self.spool.meta["uploaded_bytes"] or (not self.registered and size > 0)
        snapshot = self.metrics.take()
        if not trace_changed and snapshot is None:
            return True
        try:
            if snapshot is not None and snapshot.params:
                run_method(self.run, "log_parameters")(snapshot.params)  # kept on the trial component, saved with it
            if trace_changed:
                self._put_trace()
            if snapshot is not None:
                self._put_metrics(snapshot)
        except Exception:
            if snapshot is not None:
                self.metrics.give_back(snapshot)
            raise
        if snapshot is not None:
            self.metrics.confirm(snapshot)
        self.spool.mark_uploaded(size, latencies_sent=self.metrics.latencies_sent,
                                 metrics_pending=self.metrics.pending())
        self.uploads += 1
        if self._failing:
            log.info("SageMaker tracking: the trace upload works again; %s is in the run.", self.spool.path.name)
            self._failing = False
        return True

    def _put_trace(self) -> None:
        """The first upload registers the artifact with log_file; later ones overwrite it with one PutObject."""
        if self.trace_uri is None:
            run_method(self.run, "log_file")(str(self.spool.path), name=self.artifact_name, media_type=MEDIA_TYPE)
            trial_component = getattr(self.run, "_trial_component", None)
            artifact = getattr(trial_component, "output_artifacts", {}).get(self.artifact_name)
            self.trace_uri = getattr(artifact, "value", None) or ""
            if trial_component is not None:  # linked to the run now: a killed process leaves it findable
                trial_component.save()
            return
        if not self.trace_uri.startswith("s3://"):
            run_method(self.run, "log_file")(str(self.spool.path), name=self.artifact_name, media_type=MEDIA_TYPE)
            return
        bucket, _, key = self.trace_uri[5:].partition("/")
        if self._s3 is None:
            self._s3 = session_of(self.run).boto_session.client("s3")
        if self.spool.path.stat().st_size < _MULTIPART_THRESHOLD:  # one request, no transfer threads
            self._s3.put_object(Bucket=bucket, Key=key, Body=self.spool.path.read_bytes(), ContentType=MEDIA_TYPE)
        else:
            # No transfer threads: this works at interpreter exit too.
            self._s3.upload_file(str(self.spool.path), bucket, key, ExtraArgs={"ContentType": MEDIA_TYPE},
                                 Config=TransferConfig(use_threads=False))

    def _put_metrics(self, snapshot: MetricsSnapshot) -> None:
        put_metrics(self.run, self.spool.meta.get("trial_component_name"), snapshot)


def put_metrics(run, tc_name: str | None, snapshot: MetricsSnapshot) -> None:
    """Totals, then LLM latencies, in BatchPutMetrics requests of at most 10 values.

    Timestamps keep their fractions (the SDK's log_metric rounds down to the second), so the
    "Last" of a running total is the latest one even when two land in the same second.
    """
    now = time.time()
    data = [{"MetricName": k, "Value": float(v), "Timestamp": now} for k, v in snapshot.totals.items()]
    first_latency = len(data)
    data += [{"MetricName": "llm_latency_ms", "Value": float(v), "Timestamp": now} for v in snapshot.latencies]
    client = getattr(session_of(run), "sagemaker_metrics_client", None)
    if client is None or not tc_name:  # an SDK without the metrics client: let the Run batch them
        for item in data:
            run_method(run, "log_metric")(name=item["MetricName"], value=item["Value"])
        return
    for start in range(0, len(data), METRICS_PER_REQUEST):
        batch = data[start : start + METRICS_PER_REQUEST]
        errors = client.batch_put_metrics(TrialComponentName=tc_name.lower(), MetricData=batch).get("Errors")
        accepted = start + (min(e.get("MetricIndex", 0) for e in errors) if errors else len(batch))
        snapshot.latencies_accepted = max(0, accepted - first_latency)
        if errors:
            raise RuntimeError(f"BatchPutMetrics rejected {len(errors)} values: {errors[0]}")
