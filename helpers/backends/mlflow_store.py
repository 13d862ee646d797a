"""MlflowStore: the TraceStore of an MLflow run: segments as run artifacts, params and metrics, one trace per call.

Written synchronously from the uploader's thread through MLflow's tracking client (no async export queue,
so nothing is dropped), and idempotently: a segment or a trace sent again overwrites itself.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from . import mlflow_env

mlflow_env.apply()

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracing.client import TracingClient  # noqa: E402

from .mlflow_signing import signed_as  # noqa: E402
from .mlflow_traces import build_trace, trace_data  # noqa: E402
from .segment_lines import SegmentLines  # noqa: E402

log = logging.getLogger(__name__)

TRACE_TAG = "langchain.trace"  # the run tag naming the segments' artifact folder (like the Experiments artifact)
TRACES_PER_BATCH = 200  # calls whose spans go in one log_spans request
LINKS_PER_REQUEST = 100  # link_traces_to_run's limit
MAX_BATCH = 1000  # log_batch's limit for metrics
CHANGED_PARAM_PREFIX = "langchain.param."  # MLflow params are write-once: a changed value goes to a tag


def is_mlflow_run(run) -> bool:
    """An MLflow ActiveRun or Run (what mlflow.start_run() returns)."""
    info = getattr(run, "info", None)
    return getattr(info, "run_id", None) is not None and hasattr(info, "experiment_id")


class MlflowStore:
    """Segments under the run's artifact folder `artifact_name/`, traces in the run's experiment."""

    def __init__(self, tracking_uri: str, experiment_id: str, run_id: str, artifact_name: str):
        self.tracking_uri = tracking_uri
        self.experiment_id = experiment_id
        self.run_id = run_id
        self.artifact_name = artifact_name
        self.trace_uri = f"runs:/{run_id}/{artifact_name}/"
        self.client = signed_as(tracking_uri, mlflow.MlflowClient(tracking_uri))
        self.tracing = signed_as(tracking_uri, TracingClient(tracking_uri))
        self._open: dict[str, dict[str, dict]] = {}  # trace id -> span id -> span, until its root arrives
        self._lines = SegmentLines()  # span records, a line cut at a segment's end joined with the next
        self._params: dict[str, str] | None = None
        self.traces_logged = 0
        self._spans_supported = True

    @classmethod
    def for_run(cls, run, artifact_name: str, tracking_uri: str | None = None) -> MlflowStore:
        uri = tracking_uri or mlflow.get_tracking_uri()
        return cls(uri, run.info.experiment_id, run.info.run_id, artifact_name)

    def identity(self) -> dict:
        return {"backend": "mlflow", "tracking_uri": _safe_uri(self.tracking_uri),
                "experiment_id": self.experiment_id, "run_id": self.run_id}

    # Segments and traces

    def put_segment(self, name: str, body: bytes) -> None:
        """The segment as an artifact, then every call it completes as an MLflow trace."""
        self.put_artifact(name, body)
        self._traces_from(name, body)

    def put_artifact(self, name: str, body: bytes) -> None:
        folder, _, file_name = f"{self.artifact_name}/{name}".rpartition("/")
        with tempfile.TemporaryDirectory(prefix="mlflow-segment-") as tmp:
            path = Path(tmp) / file_name
            path.write_bytes(body)
            self.client.log_artifact(self.run_id, str(path), artifact_path=folder)

    def _traces_from(self, name: str, body: bytes) -> None:
        for record in self._lines.spans(name, body):
            self._open.setdefault(str(record.get("trace_id")), {})[record["span_id"]] = record
        roots = [tid for tid, spans in self._open.items() if any(not s.get("parent_id") for s in spans.values())]
        for start in range(0, len(roots), TRACES_PER_BATCH):
            chunk = roots[start : start + TRACES_PER_BATCH]
            self.log_traces([list(self._open[trace_id].values()) for trace_id in chunk])
            for trace_id in chunk:
                del self._open[trace_id]

    def log_traces(self, calls: list[list[dict]]) -> list[str]:
        """Each call's spans as one MLflow trace: all spans in one request (the store makes each trace's info from
        its spans: state, times, previews, token usage, name), then the traces linked to the run, 100 a request.

        (MLflow's own exporter sends a span per request, which grows quadratically on a SQL store; a trace info
        per call, start_trace, costs two commits each.) A server without span ingest gets info plus trace data.
        """
        built = [build_trace(spans, self.experiment_id, self.run_id) for spans in calls]
        if self._spans_supported:
            try:
                self.tracing.log_spans(self.experiment_id, [span for _, spans in built for span in spans])
            except (NotImplementedError, MlflowException) as error:  # a server without span ingest
                if isinstance(error, MlflowException) and "501" not in str(error) and \
                        "NOT_IMPLEMENTED" not in str(getattr(error, "error_code", "")):
                    raise
                self._spans_supported = False
        if self._spans_supported:
            ids = [info.trace_id for info, _ in built]
            for start in range(0, len(ids), LINKS_PER_REQUEST):
                self.client.link_traces_to_run(ids[start : start + LINKS_PER_REQUEST], self.run_id)
        else:
            for info, spans in built:
                self.tracing._upload_trace_data(self.tracing.start_trace(info), trace_data(spans))
        self.traces_logged += len(built)
        return [info.trace_id for info, _ in built]

    # Run linking, parameters, metrics

    def link(self) -> None:
        self.client.set_tag(self.run_id, TRACE_TAG, self.trace_uri)

    def linked(self) -> bool:
        return self.client.get_run(self.run_id).data.tags.get(TRACE_TAG) == self.trace_uri

    def put_params(self, params: dict) -> None:
        if not params:
            return
        if self._params is None:
            self._params = dict(self.client.get_run(self.run_id).data.params)
        new, changed = [], []
        for key, value in params.items():
            text = str(value)[:6000]
            if key not in self._params:
                new.append(Param(key, text))
            elif self._params[key] != text:
                changed.append(RunTag(CHANGED_PARAM_PREFIX + key, text))
        if new or changed:
            self.client.log_batch(self.run_id, params=new, tags=changed)
        self._params.update({p.key: p.value for p in new})

    def put_metrics(self, snapshot) -> None:
        now = int(time.time() * 1000)
        data = [Metric(k, float(v), now, 0) for k, v in snapshot.values().items()]
        for start in range(snapshot.accepted, len(data), MAX_BATCH):
            batch = data[start : start + MAX_BATCH]
            self.client.log_batch(self.run_id, metrics=batch)
            snapshot.accepted = start + len(batch)


def _safe_uri(uri: str) -> str:
    """A tracking URI without credentials (user:password@host)."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return uri
