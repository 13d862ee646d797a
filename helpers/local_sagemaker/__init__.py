"""An offline stand-in for SageMaker Experiments, sagemaker-metrics, S3 and STS, answering one boto3 Session.

State lives in SQLite plus a folder of objects under ``local_dir``; nothing leaves the process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ReadTimeoutError

from .errors import LocalServiceError, UnsupportedOperation
from .hook import RequestRouter, json_response
from .metrics_api import MetricsAPI, summarize
from .s3 import S3Backend, StsBackend
from .sagemaker_api import SageMakerAPI
from .search import entity_facts, metric_facts
from .store import Store
from .validation import validate

ACCOUNT_ID = "123456789012"

__all__ = ["ACCOUNT_ID", "LocalSageMaker", "LocalServiceError"]


@dataclass
class _Fault:
    code: str
    status: int
    times: int | None  # None: until cleared
    timeout: bool
    key: str | None = None  # S3 only: fail only calls on this object key


class LocalSageMaker:
    """The stand-in behind one local session: routes calls, counts them, injects latency and faults."""

    def __init__(self, local_dir: Path, region: str = "us-east-1", busy_timeout_s: float = 10.0):
        self.local_dir = Path(local_dir).resolve()
        self.local_dir.mkdir(parents=True, exist_ok=True)
        self.region = region
        self.store = Store(self.local_dir / "sagemaker.db", index=entity_facts, metric_index=metric_facts,
                           summarize=summarize, busy_timeout_s=busy_timeout_s)
        self.metrics = MetricsAPI(self.store, self._arn)
        self.sagemaker = SageMakerAPI(self.store, self._arn, ACCOUNT_ID)
        self.s3 = S3Backend(self.local_dir / "objects", ACCOUNT_ID, region)
        self.sts = StsBackend(ACCOUNT_ID)
        self.request_counts: Counter[str] = Counter()
        self.latency_s = 0.0
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()  # the SDK's upload_file calls from several threads

    def _arn(self, kind: str, name: str) -> str:
        # SageMaker lower-cases the name in an ARN
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT_ID}:{kind}/{name.lower()}"

    def attach(self, boto_session) -> None:
        """Answer every request of clients made from this boto3 Session from now on (create none before)."""
        RequestRouter(self).attach(boto_session.events)

    def reset_counts(self) -> None:
        with self._lock:
            self.request_counts.clear()

    def add_fault(self, operation: str, code: str = "InternalError", status: int = 500,
                  times: int | None = 1, timeout: bool = False, key: str | None = None) -> None:
        """Make the next `times` calls of e.g. "s3.PutObject" fail (None: until cleared).

        timeout=True raises botocore's ReadTimeoutError instead, which its retry logic treats as a timeout.
        key: fail only the calls on this S3 object key (e.g. one segment of a trace); others are served.
        """
        if "." not in operation:
            raise ValueError(f'operation must look like "s3.PutObject" (service.Operation); got {operation!r}.')
        if key is not None and not operation.startswith("s3."):
            raise ValueError(f"key= selects S3 objects; {operation!r} is not an S3 operation.")
        with self._lock:
            self._faults[operation] = _Fault(code, status, times, timeout, key)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, operation: str, params: dict) -> _Fault | None:
        with self._lock:
            fault = self._faults.get(operation)
            if fault is not None and fault.key is not None and params.get("Key") != fault.key:
                return None  # a fault on another object
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[operation]
            return fault

    def dispatch(self, service: str, operation_model, params: dict, request) -> tuple[int, dict, bytes]:
        """Serve one call: (HTTP status, headers, body) in the service's wire format."""
        operation = f"{service}.{operation_model.name}"
        with self._lock:
            self.request_counts[operation] += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        fault = self._take_fault(operation, params)
        if fault is not None:
            if fault.timeout:
                raise ReadTimeoutError(endpoint_url=request.url)
            raise LocalServiceError(fault.code, f"Injected fault on {operation}.", fault.status)
        if service == "s3":
            return self.s3.handle(operation_model, params, request)
        if service == "sts":
            return self.sts.handle(operation_model, params, request)
        api = {"sagemaker": self.sagemaker, "sagemaker-metrics": self.metrics}.get(service)
        handler = getattr(api, operation_model.name, None)
        if handler is None:
            raise UnsupportedOperation(service, operation_model.name)
        validate(operation_model, params)
        try:
            return json_response(operation_model, handler(params))
        except sqlite3.Error as error:  # locked past the bounded wait, or a damaged file
            raise self.store.service_error(error) from error
