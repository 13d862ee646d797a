"""Where a run's trace segments, parameters and metrics go: SageMaker Experiments (S3 and the trial component).

The uploader and recovery only call TraceStore's methods, so another backend (MLflow) can plug in here.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Protocol

from .metrics import MetricsSnapshot
from .redact import redact_logs

log = redact_logs(logging.getLogger(__name__))

SEGMENTS_MEDIA_TYPE = "application/x-langchain-trace-segments"  # the artifact is a prefix of JSONL segments
SEGMENT_MEDIA_TYPE = "application/jsonl"
METRICS_PER_REQUEST = 10  # BatchPutMetrics' limit


class TraceStore(Protocol):
    """What the uploader needs from a backend."""

    trace_uri: str

    def identity(self) -> dict: ...
    def put_segment(self, name: str, body: bytes) -> None: ...
    def link(self) -> None: ...
    def linked(self) -> bool: ...
    def put_params(self, params: dict) -> None: ...
    def put_metrics(self, snapshot: MetricsSnapshot) -> None: ...


def session_of(run):
    """The SageMaker Session behind a Run (v2 and v3 keep it on the trial component)."""
    return getattr(run, "sagemaker_session", None) or getattr(
        getattr(run, "_trial_component", None), "sagemaker_session", None)


def run_method(run, name: str):
    """A Run method without the SDK's inside-`with` check: the close and exit hooks run after
    Run.__exit__ cleared it, yet must still send what is left, with the SDK's own code."""
    method = getattr(type(run), name)
    return functools.partial(getattr(method, "__wrapped__", method), run)


def store_identity(session) -> dict:
    """Which store a session writes to: backend, region, account and bucket, or the stand-in's folder."""
    backend = getattr(session, "_local_sagemaker", None)
    region = getattr(getattr(session, "boto_session", None), "region_name", None)
    if backend is not None:
        return {"backend": "local", "region": region, "folder": str(getattr(backend, "local_dir", ""))}
    account = None
    try:
        account = session.account_id()
    except Exception as error:  # identity is best effort; the bucket still names the store
        log.debug("No account id for the trace store: %s", error)
    return {"backend": "aws", "region": region, "account": account}


def describe_store(identity: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in identity.items() if v)


def segment_name(writer_id: str, offset: int) -> str:
    """A writer's segment holding its spool's bytes from `offset` on: names sort in writing order."""
    return f"{writer_id}/{offset:012d}.jsonl"


class ExperimentsStore:
    """Segments go to S3 under the run's trace prefix; parameters and metrics to the trial component.

    With a live Run, every call goes through the SDK's Run (its trial component object is saved by
    the Run too); without one (recovery), through the session's clients, so the run's status is untouched.
    """

    def __init__(self, session, tc_name: str, artifact_name: str, trace_uri: str, run=None):
        self.session = session
        self.tc_name = tc_name
        self.artifact_name = artifact_name
        self.trace_uri = trace_uri
        self.run = run
        self._s3 = None

    @classmethod
    def for_run(cls, run, artifact_name: str) -> ExperimentsStore:
        session = session_of(run)
        tc = getattr(run, "_trial_component", None)
        tc_name = getattr(tc, "trial_component_name", None) or getattr(run, "run_name", "run")
        bucket, prefix = _artifact_location(run, session)
        uri = f"s3://{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}{tc_name}/{artifact_name}/"
        return cls(session, tc_name, artifact_name, uri, run)

    def identity(self) -> dict:
        bucket = self.trace_uri[5:].split("/", 1)[0]
        return {**store_identity(self.session), "bucket": bucket}

    @property
    def s3(self):
        if self._s3 is None:  # the session's own client: one per session, not one (thousands of objects) per run
            self._s3 = getattr(self.session, "s3_client", None) or self.session.boto_session.client("s3")
        return self._s3

    def put_segment(self, name: str, body: bytes) -> None:
        bucket, _, prefix = self.trace_uri[5:].partition("/")
        self.s3.put_object(Bucket=bucket, Key=prefix + name, Body=body, ContentType=SEGMENT_MEDIA_TYPE)

    def link(self) -> None:
        """The run's artifact names the prefix (the same value for every writer of the run)."""
        artifact = {self.artifact_name: {"Value": self.trace_uri, "MediaType": SEGMENTS_MEDIA_TYPE}}
        tc = getattr(self.run, "_trial_component", None)
        if tc is None:
            client = self.session.sagemaker_client
            held = client.describe_trial_component(TrialComponentName=self.tc_name).get("OutputArtifacts") or {}
            value = str(held.get(self.artifact_name, {}).get("Value") or "")
            if value.startswith("s3://") and not value.endswith("/"):  # a single-object trace stays readable
                artifact[f"{self.artifact_name}-earlier"] = held[self.artifact_name]
            client.update_trial_component(TrialComponentName=self.tc_name, OutputArtifacts=artifact)
            return
        from sagemaker.core.experiments._api_types import TrialComponentArtifact  # noqa: PLC0415

        tc.output_artifacts[self.artifact_name] = TrialComponentArtifact(self.trace_uri,
                                                                         media_type=SEGMENTS_MEDIA_TYPE)
        tc.save()

    def linked(self) -> bool:
        """The store says the run's artifact points at this trace's prefix."""
        described = self.session.sagemaker_client.describe_trial_component(TrialComponentName=self.tc_name)
        return (described.get("OutputArtifacts") or {}).get(self.artifact_name, {}).get("Value") == self.trace_uri

    def put_params(self, params: dict) -> None:
        if not params:
            return
        if self.run is not None:
            run_method(self.run, "log_parameters")(params)  # kept on the trial component, saved with it
            return
        values = {k: {"NumberValue": v} if isinstance(v, int | float) else {"StringValue": str(v)}
                  for k, v in params.items()}
        self.session.sagemaker_client.update_trial_component(TrialComponentName=self.tc_name, Parameters=values)

    def put_metrics(self, snapshot: MetricsSnapshot) -> None:
        """Totals, then the latency summary, in BatchPutMetrics requests of at most 10 values.

        Timestamps keep their fractions (the SDK's log_metric rounds down to the second), so the
        "Last" of a running total is the latest one even when two land in the same second.
        """
        now = time.time()
        data = [{"MetricName": k, "Value": float(v), "Timestamp": now} for k, v in snapshot.values().items()]
        client = getattr(self.session, "sagemaker_metrics_client", None)
        if client is None:  # an SDK without the metrics client: let the Run batch them
            for item in data:
                run_method(self.run, "log_metric")(name=item["MetricName"], value=item["Value"])
            snapshot.accepted = len(data)
            return
        for start in range(snapshot.accepted, len(data), METRICS_PER_REQUEST):
            batch = data[start : start + METRICS_PER_REQUEST]
            errors = client.batch_put_metrics(TrialComponentName=self.tc_name.lower(), MetricData=batch).get("Errors")
            snapshot.accepted = start + (min(e.get("MetricIndex", 0) for e in errors) if errors else len(batch))
            if errors:
                raise RuntimeError(f"BatchPutMetrics rejected {len(errors)} values: {errors[0]}")


def _artifact_location(run, session) -> tuple[str, str]:
    """The bucket and key prefix the SDK's artifact uploader would use for this run."""
    uploader = getattr(run, "_artifact_uploader", None)
    bucket = getattr(uploader, "artifact_bucket", None)
    prefix = getattr(uploader, "artifact_prefix", None) or "trial-component-artifacts"
    try:
        from sagemaker.core.s3 import determine_bucket_and_prefix  # noqa: PLC0415

        return determine_bucket_and_prefix(bucket=bucket, key_prefix=prefix, sagemaker_session=session)
    except ImportError:  # SDK v2
        return bucket or session.default_bucket(), prefix
