"""The real SageMaker SDK (Run, load_run, list_runs, ExperimentAnalytics) against the local stand-in."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics
import subprocess
import sys
import textwrap

import pytest
from botocore.exceptions import ClientError

from helpers import experiments
from helpers.experiments import ExperimentAnalytics, Run, list_runs, load_run


def _describe(session, experiment, run_name):
    tc_name = f"{experiment}-{run_name}"
    return session.sagemaker_client.describe_trial_component(TrialComponentName=tc_name)


def test_run_records_parameters_metrics_and_completed_status(local_session):
    with Run(experiment_name="exp-a", run_name="run-1", sagemaker_session=local_session) as run:
        run.log_parameters({"temperature": 0.1, "model_name": "offline"})
        run.log_parameter("max_tokens", 256)
        for step in range(15):
            run.log_metric("latency_ms", float(step * 2), step=step)

    tc = _describe(local_session, "exp-a", "run-1")
    assert tc["Status"]["PrimaryStatus"] == "Completed"
    assert tc["Parameters"]["temperature"] == {"NumberValue": 0.1}
    assert tc["Parameters"]["model_name"] == {"StringValue": "offline"}
    assert tc["Parameters"]["max_tokens"] == {"NumberValue": 256.0}
    (summary,) = [m for m in tc["Metrics"] if m["MetricName"] == "latency_ms"]
    assert summary["Count"] == 15
    assert (summary["Min"], summary["Max"], summary["Last"]) == (0.0, 28.0, 28.0)
    assert summary["Avg"] == pytest.approx(14.0)
    assert tc["StartTime"] <= tc["EndTime"]


def test_run_marked_failed_when_body_raises(local_session):
    with pytest.raises(RuntimeError, match="boom"):
        with Run(experiment_name="exp-a", run_name="run-fails", sagemaker_session=local_session):
            raise RuntimeError("boom")
    tc = _describe(local_session, "exp-a", "run-fails")
    assert tc["Status"]["PrimaryStatus"] == "Failed"
    assert "boom" in tc["Status"]["Message"]


def test_failure_with_a_multi_line_message_is_recorded(local_session):
    with pytest.raises(AssertionError):
        with Run(experiment_name="exp-a", run_name="run-lines", sagemaker_session=local_session):
            raise AssertionError("first line\nsecond line\n\tthird")
    status = _describe(local_session, "exp-a", "run-lines")["Status"]
    assert status["PrimaryStatus"] == "Failed" and "second line" in status["Message"]


def test_run_name_with_underscore_is_rejected_like_aws(local_session):
    with pytest.raises(ClientError) as caught:
        with Run(experiment_name="exp-a", run_name="bad_name", sagemaker_session=local_session):
            pass
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value ")
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in error["Message"]


def test_same_run_name_twice_loads_the_existing_run(local_session):
    for value in (1, 2):
        with Run(experiment_name="exp-a", run_name="again", sagemaker_session=local_session) as run:
            run.log_metric("x", float(value))
    tc = _describe(local_session, "exp-a", "again")
    (summary,) = tc["Metrics"]
    assert summary["Count"] == 2 and summary["Last"] == 2.0


_READER = textwrap.dedent(
    """
    import hashlib, json, socket, sys

    # SDK v2 builds a default JumpStart session while it is imported, which makes boto3 look for credentials
    # (EC2 metadata); that is the SDK's import, not a call of ours, so the guard starts after the imports.
    from helpers.experiments import ExperimentAnalytics, list_runs, load_run, open_session

    real_connect = socket.socket.connect
    blocked = []

    def guarded(sock, address):  # this process too must stay off the network
        host = address[0] if isinstance(address, tuple) else address
        if sock.family != socket.AF_UNIX and not (str(host).startswith("127.") or host in ("localhost", "::1")):
            blocked.append(str(address))
            raise OSError(f"blocked a connection to {address}")
        return real_connect(sock, address)

    socket.socket.connect = guarded

    session = open_session("local", local_dir=sys.argv[1])
    client = session.sagemaker_client
    loaded = {}
    for name in ("good", "bad"):
        # not entered: entering a loaded run marks it InProgress again, as on AWS
        run = load_run(experiment_name="exp-rt", run_name=name, sagemaker_session=session)
        tc = client.describe_trial_component(TrialComponentName=run._trial_component.trial_component_name)
        loaded[name] = {"run_name": run.run_name, "status": tc["Status"]["PrimaryStatus"],
                        "message": tc["Status"].get("Message", "")}
    listed = sorted(r.run_name for r in list_runs(experiment_name="exp-rt", sagemaker_session=session))
    frame = ExperimentAnalytics(experiment_name="exp-rt", sagemaker_session=session).dataframe()
    frame = frame.set_index("TrialComponentName")
    weights_uri = frame.loc["exp-rt-good", "weights - Value"]
    bucket, key = weights_uri[len("s3://"):].split("/", 1)
    body = session.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    print(json.dumps({
        "loaded": loaded,
        "listed": listed,
        "columns": list(frame.columns),
        "good": frame.loc["exp-rt-good"].to_dict(),
        "weights_sha256": hashlib.sha256(body).hexdigest(),
        "blocked": blocked,
    }, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    """
)


def test_round_trip_is_read_back_in_a_new_process(tmp_path, no_network):
    """Item by item what a user does, then a fresh interpreter reads it all back; no socket leaves loopback."""
    session = experiments.open_session("local", local_dir=tmp_path / "state")
    backend = experiments.local_backend(session)
    notes = tmp_path / "notes.txt"
    notes.write_text("small file\n")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(9 * 1024 * 1024))  # over 8 MB: upload_file goes multipart
    tokens = [float(v) for v in (5, 3, 8, 1, 9, 2, 7, 4, 6, 10, 11, 0)]  # 12 > one batch of 10

    with Run(experiment_name="exp-rt", run_name="good", sagemaker_session=session) as run:
        run.log_parameters({"temperature": 0.7, "llm_provider": "offline"})
        run.log_parameter("max_tokens", 256)
        for step, value in enumerate(tokens):
            run.log_metric("total_tokens", value, step=step)
        run.log_file(str(notes), name="notes")
        run.log_file(str(weights), name="weights")
        run.log_artifact("dataset", "s3://some-bucket/data.csv", media_type="text/csv", is_output=False)
    with pytest.raises(RuntimeError, match="model fell over"):
        with Run(experiment_name="exp-rt", run_name="bad", sagemaker_session=session) as run:
            run.log_parameter("temperature", 0.9)
            raise RuntimeError("model fell over")

    counts = backend.request_counts
    assert counts["sagemaker-metrics.BatchPutMetrics"] >= 2  # the SDK sends at most 10 values per call
    assert counts["s3.UploadPart"] >= 2 and counts["s3.CompleteMultipartUpload"] == 1

    out = subprocess.run(
        [sys.executable, "-c", _READER, str(tmp_path / "state")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "SAGEMAKER_BACKEND": "local"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    assert seen["blocked"] == [] and no_network == []
    assert seen["listed"] == ["bad", "good"]
    assert {name: run["run_name"] for name, run in seen["loaded"].items()} == {"good": "good", "bad": "bad"}
    assert seen["loaded"]["good"]["status"] == "Completed"
    assert seen["loaded"]["bad"]["status"] == "Failed" and "model fell over" in seen["loaded"]["bad"]["message"]
    good = seen["good"]
    assert (good["temperature"], good["llm_provider"], good["max_tokens"]) == (0.7, "offline", 256.0)
    assert good["Experiments"] == ["exp-rt"]
    assert good["total_tokens - Count"] == len(tokens)
    assert (good["total_tokens - Min"], good["total_tokens - Max"]) == (0.0, 11.0)
    assert good["total_tokens - Avg"] == pytest.approx(statistics.fmean(tokens))
    assert good["total_tokens - StdDev"] == pytest.approx(statistics.stdev(tokens))
    assert good["total_tokens - Last"] == 0.0
    assert good["dataset - Value"] == "s3://some-bucket/data.csv" and good["dataset - MediaType"] == "text/csv"
    for name in ("notes", "weights"):
        assert good[f"{name} - Value"].startswith("s3://sagemaker-us-east-1-123456789012/"), name
    assert seen["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_list_runs_and_analytics_in_process(local_session):
    for name in ("r-1", "r-2", "r-3"):
        with Run(experiment_name="exp-b", run_name=name, sagemaker_session=local_session) as run:
            run.log_parameter("name", name)
    with Run(experiment_name="exp-other", run_name="r-9", sagemaker_session=local_session):
        pass
    names = sorted(r.run_name for r in list_runs(experiment_name="exp-b", sagemaker_session=local_session))
    assert names == ["r-1", "r-2", "r-3"]
    frame = ExperimentAnalytics(experiment_name="exp-b", sagemaker_session=local_session).dataframe()
    assert sorted(frame["name"]) == ["r-1", "r-2", "r-3"]
    loaded = load_run(experiment_name="exp-b", run_name="r-2", sagemaker_session=local_session)
    assert loaded.run_name == "r-2"


def test_open_session_rejects_unknown_mode():
    with pytest.raises(ValueError, match="auto, local, aws"):
        experiments.open_session("cloud")


def test_open_session_auto_picks_local_without_credentials(tmp_path, monkeypatch, caplog):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "SAGEMAKER_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("SAGEMAKER_LOCAL_DIR", str(tmp_path / "state"))
    with caplog.at_level(logging.INFO, logger="helpers.experiments"):
        session = experiments.open_session()
    backend = experiments.local_backend(session)
    assert backend is not None and backend.local_dir == (tmp_path / "state").resolve()
    assert any("local" in r.getMessage() and "no AWS credentials" in r.getMessage() for r in caplog.records)


def test_sagemaker_backend_env_overrides_auto(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_BACKEND", "local")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    session = experiments.open_session(local_dir=tmp_path)
    assert experiments.local_backend(session) is not None
    monkeypatch.setenv("SAGEMAKER_BACKEND", "moon")
    with pytest.raises(ValueError, match="SAGEMAKER_BACKEND"):
        experiments.open_session(local_dir=tmp_path)


def test_aws_session_has_no_local_backend(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    session = experiments.open_session("aws", region="eu-west-1")
    assert experiments.local_backend(session) is None
    assert session.boto_region_name == "eu-west-1"


def test_open_session_puts_artifacts_in_the_bucket_it_is_given(tmp_path):
    session = experiments.open_session("local", local_dir=tmp_path / "state", bucket="my-llm-traces")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with Run(experiment_name="bucket-exp", run_name="mine", sagemaker_session=session) as run:
        run.log_file(str(note), name="note")
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName="bucket-exp-mine")
    uri = tc["OutputArtifacts"]["note"]["Value"]
    assert uri.startswith("s3://my-llm-traces/")
    body = session.boto_session.client("s3").get_object(Bucket="my-llm-traces", Key=uri[len("s3://my-llm-traces/"):])
    assert body["Body"].read() == b"hello"
