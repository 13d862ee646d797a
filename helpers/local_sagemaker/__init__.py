"""An offline stand-in for SageMaker Experiments, S3 and STS, answering one boto3 Session in-process.

State lives in SQLite plus a folder of objects under ``local_dir``; nothing leaves the process.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

from botocore.exceptions import ReadTimeoutError

from .errors import LocalServiceError, UnsupportedOperation
from .hook import RequestRouter
from .sagemaker_api import SageMakerAPI
from .store import Store
from .validation import validate

ACCOUNT_ID = "123456789012"

__all__ = ["ACCOUNT_ID", "LocalSageMaker", "LocalServiceError"]


def _storage_backends(objects_dir: Path, region: str):
    """S3 and STS backends, imported late: they live in sibling modules maintained separately."""
    from .s3 import S3Backend

    try:
        from .sts import StsBackend
    except ImportError:  # older layout kept STS next to S3
        from .s3 import StsBackend
    return S3Backend(objects_dir, ACCOUNT_ID, region), StsBackend(ACCOUNT_ID)


class _Fault:
    def __init__(self, code, status, times, timeout):
        self.code, self.status, self.times, self.timeout = code, status, times, timeout


class LocalSageMaker:
    """The stand-in behind one local session: counts requests, injects latency and faults."""

    def __init__(self, local_dir: Path, region: str = "us-east-1"):
        self.local_dir = Path(local_dir).resolve()
        self.local_dir.mkdir(parents=True, exist_ok=True)
        self.region = region
        self.store = Store(self.local_dir / "sagemaker.db")
        self.sagemaker = SageMakerAPI(self.store, region, ACCOUNT_ID)
        self.s3, self.sts = _storage_backends(self.local_dir / "objects", region)
        self.request_counts: Counter[str] = Counter()
        self.latency_s = 0.0
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()

    def attach(self, boto_session) -> None:
        """Answer every request of clients made from this boto3 Session from now on."""
        RequestRouter(self).attach(boto_session.events)

    def reset_counts(self) -> None:
        with self._lock:
            self.request_counts.clear()

    def add_fault(self, operation: str, code: str = "InternalError", status: int = 500,
                  times: int | None = 1, timeout: bool = False) -> None:
        """Make the next `times` calls of e.g. "s3.PutObject" fail (None: until cleared)."""
        with self._lock:
            self._faults[operation] = _Fault(code, status, times, timeout)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, operation: str) -> _Fault | None:
        with self._lock:
            fault = self._faults.get(operation)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[operation]
            return fault

    def dispatch(self, service: str, operation_model, params: dict, request):
        operation = f"{service}.{operation_model.name}"
        with self._lock:
            self.request_counts[operation] += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        fault = self._take_fault(operation)
        if fault is not None:
            if fault.timeout:
                raise ReadTimeoutError(endpoint_url=request.url)
            raise LocalServiceError(fault.code, f"Injected fault on {operation}.", fault.status)
        if service == "s3":
            return self.s3.handle(operation_model, params, request)
        if service == "sts":
            return self.sts.handle(operation_model, params, request)
        if service in ("sagemaker", "sagemaker-metrics"):
            handler = getattr(self.sagemaker, operation_model.name, None)
            if handler is None:
                raise UnsupportedOperation(service, operation_model.name)
            validate(operation_model, params)
            body = json.dumps(handler(params)).encode()
            return 200, {"Content-Type": "application/x-amz-json-1.1"}, body
        raise UnsupportedOperation(service, operation_model.name)
