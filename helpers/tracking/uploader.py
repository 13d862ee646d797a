"""Uploads a run's trace spool and metrics: one worker per run, at most one upload in flight, requests coalesce.

Every call on the SDK's Run goes through here under one lock, because the Run is not thread-safe.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from .metrics import RunMetrics
from .redact import redact_logs
from .spool import Spool
from .store import TraceStore, segment_name

log = redact_logs(logging.getLogger(__name__))

SEGMENT_BYTES = 8 * 1024 * 1024  # one PutObject each; a backlog after an outage goes as several
_IDLE_EXIT_S = 30.0  # an idle worker ends; the next request starts a new one


class UnresolvedStore:
    """The store of a run whose bucket or trace location could not be resolved: every upload fails with the
    reason, so the spans stay in the spool (for upload_pending_spools) and the chain runs on."""

    trace_uri = None

    def __init__(self, error: BaseException, identity: dict, tc_name: str | None):
        self.error = f"{type(error).__name__}: {error}"
        self._identity = identity
        self.tc_name = tc_name  # named in the spool, so recovery finds the run

    def identity(self) -> dict:
        return self._identity

    def _refuse(self, *args, **kwargs):
        raise RuntimeError(f"the run's trace store could not be resolved ({self.error})")

    put_segment = link = put_params = put_metrics = _refuse

    def linked(self) -> bool:
        return False


class TraceUploader:
    """request() from any thread returns at once; upload_now() uploads on the caller's thread.

    The worker uploads at most once per `min_interval_s`: a loop of fast calls re-sends the growing
    trace once a second, not once per call. wait() and upload_now() never wait for that interval.
    """

    def __init__(self, store: TraceStore, spool: Spool, metrics: RunMetrics, strict: bool,
                 min_interval_s: float = 1.0, hold_numbers: bool = False):
        self.store = store
        self.spool = spool
        self.metrics = metrics
        self.strict = strict
        self.min_interval_s = min_interval_s
        # A re-run of a run whose earlier execution ended: its parameters and metrics wait for its own end,
        # so a failure leaves the earlier numbers alone.
        self.hold_numbers = hold_numbers
        self.linked = False
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

    @property
    def registered(self) -> bool:
        return self.linked

    @property
    def failing(self) -> bool:
        """The last upload failed (a warning named the spool); the next one may succeed."""
        return self._failing

    @failing.setter
    def failing(self, value: bool) -> None:
        self._failing = value

    # Scheduling

    def request(self) -> None:
        """Ask for an upload; one already in flight is followed by exactly one more, whatever the number of asks."""
        with self._wake:
            if self._pending and self._worker is not None and not self._retire:
                return  # asked already: the worker uploads at its time (waking it costs the caller)
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
                    "SageMaker tracking: uploading the trace failed (%s: %s). The spans not yet in the run are "
                    "kept in %s; they are uploaded with the next call, flush_tracker(), or upload_pending_spools().",
                    type(error).__name__, error, self.spool.where(),
                )
            self._failing = True
            return False
        finally:
            self._last_upload = time.monotonic()

    def _upload(self) -> bool:
        size = self.spool.flush()
        snapshot = None if self.hold_numbers else self.metrics.take()
        try:
            sent = self.send_segments(size)
            if not self.linked and (size > 0 or snapshot is not None):
                self.store.link()
                self.linked = True
                self.spool.meta["linked"] = True
            if snapshot is not None:
                self.store.put_params(snapshot.params)
                self.store.put_metrics(snapshot)
        except Exception:
            if snapshot is not None:
                self.metrics.give_back(snapshot)
            raise
        if snapshot is not None:
            self.metrics.confirm(snapshot)
        self.spool.mark_uploaded(size, latencies_sent=self.metrics.latencies_sent,
                                 metrics_pending=self.metrics.pending() and not self.hold_numbers)
        if sent or snapshot is not None:
            self.uploads += 1
        if self._failing:
            log.info("SageMaker tracking: the trace upload works again; %s is in the run.", self.spool.path.name)
            self._failing = False
        return True

    def send_segments(self, size: int) -> int:
        """The spool's bytes past what the run holds, as new segments of at most SEGMENT_BYTES each."""
        done, sent = self.spool.meta["uploaded_bytes"], 0
        while done < size:
            body = self.spool.read(done, min(SEGMENT_BYTES, size - done))
            self.store.put_segment(segment_name(self.spool.writer_id, done), body)
            done += len(body)
            sent += 1
            self.spool.mark_uploaded(done, write=done < size)  # the last one is written with the upload's end
        return sent

    def send_numbers(self) -> None:
        """Parameters and metrics held back during the execution (see hold_numbers)."""
        self.hold_numbers = False
        self._attempt_upload()
