"""Behaviour of the local SageMaker stand-in: AWS-shaped errors, validation, counts, faults, offline, concurrency."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from helpers import experiments
from helpers.experiments import ExperimentAnalytics, Run


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


@pytest.mark.parametrize("service, operation, named", [
    ("ec2", "describe_instances", "ec2.DescribeInstances"),        # the ec2 protocol
    ("sns", "list_topics", "sns.ListTopics"),                      # query
    ("cloudwatch", "list_metrics", "cloudwatch.ListMetrics"),      # json, picked from the service's protocols
    ("lambda", "list_functions", "lambda.ListFunctions"),          # rest-json
    ("route53", "list_hosted_zones", "route-53.ListHostedZones"),  # rest-xml (named by its service id)
])
def test_any_service_gets_an_aws_shaped_error_naming_the_operation(local_session, service, operation, named):
    client = local_session.boto_session.client(service)
    with pytest.raises(ClientError) as caught:
        getattr(client, operation)()
    error = caught.value.response["Error"]
    assert error["Code"] == "UnsupportedOperation" and named in error["Message"]


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


_WRITER = textwrap.dedent(
    """
    import json, sys, time
    from helpers.experiments import Run, open_session
    session = open_session("local", local_dir=sys.argv[1])
    started = time.time()
    for i in range(int(sys.argv[3])):
        with Run(experiment_name="exp-many", run_name=f"{sys.argv[2]}-{i}", sagemaker_session=session) as run:
            run.log_parameter("i", i)
            for step in range(3):
                run.log_metric("m", float(i + step), step=step)
    print(json.dumps({"started": started, "ended": time.time()}))
    """
)


@pytest.mark.drills
def test_two_processes_write_into_one_local_dir_without_losses(tmp_path):
    runs_each = 100
    logs = [(tmp_path / f"writer-{n}.log").open("w+") for n in range(2)]
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "state"), prefix, str(runs_each)],
                         stdout=subprocess.PIPE, stderr=log, text=True,
                         env={**os.environ, "SAGEMAKER_BACKEND": "local"})
        for prefix, log in zip(("p-a", "p-b"), logs, strict=True)
    ]
    spans = []
    for writer, log in zip(writers, logs, strict=True):
        out, _ = writer.communicate(timeout=600)
        log.seek(0)
        assert writer.returncode == 0, log.read()[-3000:]
        log.close()
        spans.append(json.loads(out.strip().splitlines()[-1]))
    # the writers really overlapped, so the store saw concurrent writes
    assert max(s["started"] for s in spans) < min(s["ended"] for s in spans)

    session = experiments.open_session("local", local_dir=tmp_path / "state")
    # list_runs builds a Run (several calls) per run, which is slow for 200: list the components instead
    pages = session.sagemaker_client.get_paginator("list_trial_components").paginate(ExperimentName="exp-many")
    names = {s["TrialComponentName"] for page in pages for s in page["TrialComponentSummaries"]}
    assert names == {f"exp-many-{p}-{i}" for p in ("p-a", "p-b") for i in range(runs_each)}
    frame = ExperimentAnalytics(experiment_name="exp-many", sagemaker_session=session).dataframe()
    assert len(frame) == 2 * runs_each
    assert (frame["m - Count"] == 3).all()
    assert sorted(frame["i"]) == sorted(list(range(runs_each)) * 2)
    assert (frame["m - Last"] == frame["i"] + 2).all()
    statuses = {
        session.sagemaker_client.describe_trial_component(TrialComponentName=name)["Status"]["PrimaryStatus"]
        for name in frame["TrialComponentName"]
    }
    assert statuses == {"Completed"}


def test_threads_share_one_stand_in(local_session):
    """upload_file calls from several threads; every write must land."""
    client = local_session.sagemaker_client
    client.create_trial_component(TrialComponentName="threaded")
    metrics = local_session.boto_session.client("sagemaker-metrics")

    def put(worker: int):
        for step in range(5):
            metrics.batch_put_metrics(
                TrialComponentName="threaded",
                MetricData=[{"MetricName": f"w{worker}", "Value": float(step), "Timestamp": 1_700_000_000 + step}],
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(8)))
    summaries = client.describe_trial_component(TrialComponentName="threaded")["Metrics"]
    assert sorted(m["MetricName"] for m in summaries) == [f"w{i}" for i in range(8)]
    assert all(m["Count"] == 5 and m["Last"] == 4.0 for m in summaries)


def test_metric_summaries_match_statistics(local_session):
    client = local_session.sagemaker_client
    client.create_trial_component(TrialComponentName="stats")
    values = [3.5, -1.0, 8.25, 0.0, 2.0]
    metrics = local_session.boto_session.client("sagemaker-metrics")
    # logged out of time order: "Last" is the latest timestamp, not the latest call
    stamps = [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in (5, 1, 9, 3, 7)]
    answer = metrics.batch_put_metrics(
        TrialComponentName="stats",
        MetricData=[{"MetricName": "loss", "Value": v, "Timestamp": t} for v, t in zip(values, stamps, strict=True)],
    )
    assert answer.get("Errors", []) == []
    (summary,) = client.describe_trial_component(TrialComponentName="stats")["Metrics"]
    assert summary["Count"] == 5 and summary["Min"] == -1.0 and summary["Max"] == 8.25
    assert summary["Avg"] == pytest.approx(statistics.fmean(values))
    assert summary["StdDev"] == pytest.approx(statistics.stdev(values))
    assert summary["Last"] == 8.25 and summary["TimeStamp"] == stamps[2]


def test_metrics_for_a_missing_trial_component_are_refused(local_session):
    metrics = local_session.boto_session.client("sagemaker-metrics")
    with pytest.raises(ClientError) as caught:
        metrics.batch_put_metrics(
            TrialComponentName="ghost", MetricData=[{"MetricName": "m", "Value": 1.0, "Timestamp": 1_700_000_000}]
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # botocore checks only minimums; AWS also checks maximums, enums and patterns
        (lambda c: c.list_trial_components(MaxResults=101),
         "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"),
        (lambda c: c.list_trial_components(SortBy="Size"),
         "Value 'Size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [Name, CreationTime]"),
        (lambda c: c.create_trial_component(TrialComponentName="ok", Parameters={"p": {"StringValue": "x" * 2501}}),
         "at 'parameters.p.member.stringValue' failed to satisfy constraint: Member must have length less than or equal to 2500"),
        (lambda c: c.create_experiment(ExperimentName="e", Tags=[{"Key": "k", "Value": "v"}] * 51),
         "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"),
    ],
)
def test_aws_side_constraints_from_the_service_model(local_session, call, expected):
    with pytest.raises(ClientError) as caught:
        call(local_session.sagemaker_client)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value ")
    assert expected in error["Message"]


def test_metric_batches_over_ten_are_refused_like_aws(local_session):
    local_session.sagemaker_client.create_trial_component(TrialComponentName="batch")
    metrics = local_session.boto_session.client("sagemaker-metrics")
    data = [{"MetricName": "m", "Value": float(i), "Timestamp": 1_700_000_000 + i} for i in range(11)]
    with pytest.raises(ClientError) as caught:
        metrics.batch_put_metrics(TrialComponentName="batch", MetricData=data)
    assert "at 'metricData' failed to satisfy constraint: Member must have length less than or equal to 10" in (
        caught.value.response["Error"]["Message"]
    )


def test_answers_hold_only_what_the_output_shape_holds(local_session):
    """Describe does not leak Tags or Parents; Search results carry both, as on AWS."""
    with Run(experiment_name="exp-shape", run_name="r", sagemaker_session=local_session,
             tags=[{"Key": "team", "Value": "blue"}]):
        pass
    client = local_session.sagemaker_client
    described = client.describe_trial_component(TrialComponentName="exp-shape-r")
    assert "Tags" not in described and "Parents" not in described
    assert "Tags" not in client.describe_experiment(ExperimentName="exp-shape")
    (summary,) = client.list_trial_components(ExperimentName="exp-shape")["TrialComponentSummaries"]
    assert "Parameters" not in summary and summary["TrialComponentName"] == "exp-shape-r"
    (found,) = client.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={"Filters": [{"Name": "TrialComponentName", "Operator": "Equals", "Value": "exp-shape-r"}]},
    )["Results"]
    component = found["TrialComponent"]
    assert {"Key": "team", "Value": "blue"} in component["Tags"]
    assert component["Parents"] == [{"TrialName": "Default-Run-Group-exp-shape", "ExperimentName": "exp-shape"}]


def test_list_filters_by_creation_time(local_session):
    client = local_session.sagemaker_client
    client.create_trial_component(TrialComponentName="early")
    middle = datetime.now(UTC)
    time.sleep(0.05)
    client.create_trial_component(TrialComponentName="late")
    names = lambda **kw: [s["TrialComponentName"] for s in client.list_trial_components(**kw)["TrialComponentSummaries"]]  # noqa: E731
    assert names(CreatedAfter=middle) == ["late"]
    assert names(CreatedBefore=middle) == ["early"]
    assert names(SortBy="Name", SortOrder="Ascending") == ["early", "late"]


def test_tags_are_kept_and_listed(local_session):
    client = local_session.sagemaker_client
    arn = client.create_experiment(ExperimentName="tagged")["ExperimentArn"]
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "3"}])
    assert client.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as caught:
        client.list_tags(ResourceArn=arn.replace("tagged", "missing"))
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


def test_bad_page_token_is_a_validation_exception(local_session):
    with pytest.raises(ClientError) as caught:
        local_session.sagemaker_client.list_trial_components(NextToken="not-ours")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_other_services_get_an_error_not_the_network(local_session, local_backend, no_network):
    lambda_client = local_session.boto_session.client("lambda")
    with pytest.raises(ClientError) as caught:
        lambda_client.list_functions()
    assert caught.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert "lambda.ListFunctions" in caught.value.response["Error"]["Message"]
    assert local_backend.request_counts["lambda.ListFunctions"] == 1
    assert no_network == []


def test_only_the_local_sessions_clients_are_answered(local_session, local_backend):
    """The hook lives on one boto3 Session: a client from any other session goes its own way."""
    other = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    client = other.client("sagemaker", endpoint_url="http://127.0.0.1:9",  # closed loopback port
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2))
    local_backend.reset_counts()
    with pytest.raises(EndpointConnectionError):
        client.list_experiments()
    assert sum(local_backend.request_counts.values()) == 0
    # and the local session still answers
    assert local_session.sagemaker_client.list_experiments()["ExperimentSummaries"] == []


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
