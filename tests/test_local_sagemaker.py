"""Behaviour of the local SageMaker stand-in: AWS-shaped errors, validation, counts, faults, offline, concurrency."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from helpers import experiments
from helpers.experiments import ExperimentAnalytics, Run, list_runs


def test_describe_missing_trial_component_is_resource_not_found(local_session):
    with pytest.raises(ClientError) as caught:
        local_session.sagemaker_client.describe_trial_component(TrialComponentName="nope")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    assert "nope" in caught.value.response["Error"]["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_duplicate_create_is_validation_exception_already_exists(local_session):
    client = local_session.sagemaker_client
    client.create_experiment(ExperimentName="dup")
    with pytest.raises(ClientError) as caught:
        client.create_experiment(ExperimentName="DUP")  # names are case-insensitive on AWS
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and "already exists" in error["Message"]


def test_too_long_name_fails_max_length_like_aws(local_session):
    with pytest.raises(ClientError) as caught:
        local_session.sagemaker_client.create_experiment(ExperimentName="a" * 121)
    message = caught.value.response["Error"]["Message"]
    # AWS reports every broken constraint: 121 characters also break the {0,119} pattern
    assert message.startswith("2 validation errors detected: Value 'aaaa")
    assert "Member must satisfy regular expression pattern" in message
    assert "at 'experimentName' failed to satisfy constraint: Member must have length less than or equal to 120" in message


def test_unsupported_operation_errors_naming_it(local_session):
    with pytest.raises(ClientError) as caught:
        local_session.sagemaker_client.list_training_jobs()
    error = caught.value.response["Error"]
    assert error["Code"] == "UnsupportedOperation"
    assert "sagemaker.ListTrainingJobs" in error["Message"]


def test_request_counts_per_operation(local_session, local_backend):
    local_backend.reset_counts()
    with Run(experiment_name="exp-c", run_name="counted", sagemaker_session=local_session) as run:
        run.log_parameter("p", 1)
        run.log_metric("m", 1.0)
    counts = local_backend.request_counts
    assert counts["sagemaker.CreateExperiment"] == 1
    assert counts["sagemaker.CreateTrialComponent"] == 1
    assert counts["sagemaker-metrics.BatchPutMetrics"] >= 1
    assert counts["sagemaker.UpdateTrialComponent"] >= 1
    local_backend.reset_counts()
    assert sum(local_backend.request_counts.values()) == 0


def test_injected_fault_is_retried_by_botocore(local_session, local_backend):
    client = local_session.sagemaker_client
    client.create_experiment(ExperimentName="faulty")
    local_backend.reset_counts()
    local_backend.add_fault("sagemaker.DescribeExperiment", code="InternalError", status=500, times=1)
    assert client.describe_experiment(ExperimentName="faulty")["ExperimentName"] == "faulty"
    assert local_backend.request_counts["sagemaker.DescribeExperiment"] == 2  # one failure, one retry


def test_persistent_fault_and_timeout_surface_then_clear(local_session, local_backend):
    client = local_session.sagemaker_client
    client.create_experiment(ExperimentName="faulty")
    local_backend.add_fault("sagemaker.DescribeExperiment", code="ThrottlingException", status=400, times=None)
    with pytest.raises(ClientError) as caught:
        client.describe_experiment(ExperimentName="faulty")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    local_backend.clear_faults()
    local_backend.add_fault("sagemaker.DescribeExperiment", timeout=True, times=None)
    with pytest.raises(ReadTimeoutError):
        client.describe_experiment(ExperimentName="faulty")
    local_backend.clear_faults()
    assert client.describe_experiment(ExperimentName="faulty")["ExperimentName"] == "faulty"


def test_search_filters_sorts_and_pages(local_session):
    for i in range(5):
        with Run(experiment_name="exp-s", run_name=f"run-{i}", sagemaker_session=local_session,
                 tags=[{"Key": "team", "Value": "blue" if i % 2 else "red"}]) as run:
            run.log_parameter("i", i)
    client = local_session.sagemaker_client
    by_tag = client.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={"Filters": [{"Name": "Tags.team", "Operator": "Equals", "Value": "blue"}]},
    )
    assert sorted(r["TrialComponent"]["TrialComponentName"] for r in by_tag["Results"]) == ["exp-s-run-1", "exp-s-run-3"]
    expression = {"Filters": [{"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": "exp-s"}]}
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = client.search(Resource="ExperimentTrialComponent", SearchExpression=expression,
                             SortBy="Name", SortOrder="Ascending", MaxResults=2, **kwargs)
        assert len(page["Results"]) <= 2
        seen += [r["TrialComponent"]["TrialComponentName"] for r in page["Results"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [f"exp-s-run-{i}" for i in range(5)]


def test_no_socket_leaves_loopback_during_a_round_trip(tmp_path, monkeypatch):
    attempts = []
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and sock.family != socket.AF_UNIX:
            attempts.append(address)
            raise OSError(f"test blocked a non-loopback connection to {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    session = experiments.open_session("local", local_dir=tmp_path)
    with Run(experiment_name="exp-net", run_name="offline", sagemaker_session=session) as run:
        run.log_parameters({"a": 1})
        run.log_metric("m", 2.0)
    frame = ExperimentAnalytics(experiment_name="exp-net", sagemaker_session=session).dataframe()
    assert list(frame["a"]) == [1.0]
    assert [r.run_name for r in list_runs(experiment_name="exp-net", sagemaker_session=session)] == ["offline"]
    assert attempts == []


_WRITER = textwrap.dedent(
    """
    import sys
    from helpers.experiments import Run, open_session
    session = open_session("local", local_dir=sys.argv[1])
    for i in range(int(sys.argv[3])):
        with Run(experiment_name="exp-many", run_name=f"{sys.argv[2]}-{i}", sagemaker_session=session) as run:
            run.log_parameter("i", i)
            run.log_metric("m", float(i))
    """
)


def test_two_processes_write_into_one_local_dir_without_losses(tmp_path):
    runs_each = 100
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), prefix, str(runs_each)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "SAGEMAKER_BACKEND": "local"})
        for prefix in ("p-a", "p-b")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err[-2000:]
    session = experiments.open_session("local", local_dir=tmp_path)
    runs = list_runs(experiment_name="exp-many", sagemaker_session=session)
    assert len(runs) == 2 * runs_each
    assert len({r.run_name for r in runs}) == 2 * runs_each
    client = session.sagemaker_client
    tc = client.describe_trial_component(TrialComponentName="exp-many-p-b-99")
    assert tc["Status"]["PrimaryStatus"] == "Completed"
    assert tc["Metrics"][0]["Last"] == 99.0


def test_state_is_under_local_dir(local_session, local_backend, local_dir):
    local_session.sagemaker_client.create_experiment(ExperimentName="where")
    assert local_backend.local_dir == local_dir.resolve()
    assert (local_dir / "sagemaker.db").exists()
    assert json.loads(json.dumps(local_session.sagemaker_client.describe_experiment(ExperimentName="where"),
                                 default=str))["ExperimentName"] == "where"


def test_graph_artifact_is_stored_with_lineage(local_session, local_backend):
    with Run(experiment_name="exp-l", run_name="lineage", sagemaker_session=local_session) as run:
        # the path log_confusion_matrix/log_roc_curve take once sklearn has computed the data
        run._log_graph_artifact(artifact_name="table", data={"type": "Table", "rows": [1, 2]},
                                graph_type="Table", is_output=True)
    assert local_backend.request_counts["sagemaker.CreateArtifact"] == 1
    assert local_backend.request_counts["sagemaker.AddAssociation"] == 1
    client = local_session.sagemaker_client
    (artifact,) = client.list_artifacts(ArtifactType="Table")["ArtifactSummaries"]
    uri = artifact["Source"]["SourceUri"]
    assert uri.startswith("s3://sagemaker-us-east-1-123456789012/") and uri.endswith(".json")
    bucket, key = uri[5:].split("/", 1)
    body = local_session.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(body)["rows"] == [1, 2]
    with pytest.raises(ClientError) as caught:  # the SDK skips this one as "already exists"
        client.create_artifact(ArtifactType="Table", Source={"SourceUri": uri})
    assert "already exists" in caught.value.response["Error"]["Message"]


def test_list_trial_components_by_experiment_and_trial(local_session):
    for name in ("a-1", "a-2"):
        with Run(experiment_name="exp-list", run_name=name, sagemaker_session=local_session):
            pass
    with Run(experiment_name="exp-else", run_name="b-1", sagemaker_session=local_session):
        pass
    client = local_session.sagemaker_client
    in_experiment = client.list_trial_components(ExperimentName="exp-list")["TrialComponentSummaries"]
    assert sorted(s["TrialComponentName"] for s in in_experiment) == ["exp-list-a-1", "exp-list-a-2"]
    in_trial = client.list_trial_components(TrialName="Default-Run-Group-exp-else")["TrialComponentSummaries"]
    assert [s["TrialComponentName"] for s in in_trial] == ["exp-else-b-1"]
    assert all(s["Status"]["PrimaryStatus"] == "Completed" for s in in_experiment + in_trial)
