"""The real SageMaker SDK (Run, load_run, list_runs, ExperimentAnalytics) against the local stand-in."""

from __future__ import annotations

import json
import logging
import os
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
    import json, sys
    from helpers.experiments import ExperimentAnalytics, list_runs, load_run, open_session
    session = open_session("local", local_dir=sys.argv[1])
    run = load_run(experiment_name="exp-sub", run_name="run-1", sagemaker_session=session)
    runs = list_runs(experiment_name="exp-sub", sagemaker_session=session)
    frame = ExperimentAnalytics(experiment_name="exp-sub", sagemaker_session=session).dataframe()
    print(json.dumps({
        "loaded": run.run_name,
        "listed": [r.run_name for r in runs],
        "columns": list(frame.columns),
        "row": {k: str(v) for k, v in frame.iloc[0].items()},
    }))
    """
)


def test_another_process_sees_the_run(tmp_path):
    session = experiments.open_session("local", local_dir=tmp_path)
    with Run(experiment_name="exp-sub", run_name="run-1", sagemaker_session=session) as run:
        run.log_parameters({"temperature": 0.7, "llm_provider": "offline"})
        for value in (3.0, 1.0, 2.0):
            run.log_metric("total_tokens", value)
    out = subprocess.run(
        [sys.executable, "-c", _READER, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "SAGEMAKER_BACKEND": "local"},
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["loaded"] == "run-1"
    assert seen["listed"] == ["run-1"]
    for column in ("temperature", "llm_provider", "total_tokens - Min", "total_tokens - Max",
                   "total_tokens - Avg", "total_tokens - Last", "total_tokens - Count"):
        assert column in seen["columns"], column
    assert seen["row"]["llm_provider"] == "offline"
    assert float(seen["row"]["total_tokens - Last"]) == 2.0
    assert float(seen["row"]["total_tokens - Count"]) == 3


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
