"""The SDK's own life cycle on the stand-in: update, remove, refused and forced deletes, lineage read back.

Runs on SDK v3 (make test) and v2 (make test-sdk-v2); classes come through sdk_integ's sdk_import.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from sdk_integ.sdk import sdk_import

from helpers.experiments import Run

Experiment, = sdk_import("sagemaker.experiments.experiment", "Experiment")
_Trial, = sdk_import("sagemaker.experiments.trial", "_Trial")
_TrialComponent, = sdk_import("sagemaker.experiments.trial_component", "_TrialComponent")
Artifact, = sdk_import("sagemaker.lineage.artifact", "Artifact")
Association, = sdk_import("sagemaker.lineage.association", "Association")


@pytest.fixture(autouse=True)
def _no_throttling_waits(monkeypatch):
    """The SDK's clean-up sleeps 1.2 s per call against AWS throttling; the stand-in does not throttle."""
    real = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: real(min(s, 0.01)))


def test_save_updates_experiment_and_trial(local_session):
    experiment = Experiment.create(experiment_name="life-exp", description="first", sagemaker_session=local_session)
    experiment.description, experiment.display_name = "second", "Life-Exp"
    experiment.save()
    loaded = Experiment.load(experiment_name="life-exp", sagemaker_session=local_session)
    assert (loaded.description, loaded.display_name) == ("second", "Life-Exp")
    trial = _Trial.create(trial_name="life-trial", experiment_name="life-exp", sagemaker_session=local_session)
    trial.display_name = "renamed"
    trial.save()
    assert _Trial.load(trial_name="life-trial", sagemaker_session=local_session).display_name == "renamed"
    assert loaded.last_modified_time >= loaded.creation_time


def test_deletes_refuse_what_aws_refuses_then_clean_up_whole(local_session):
    client = local_session.sagemaker_client
    experiment = Experiment.create(experiment_name="del-exp", sagemaker_session=local_session)
    trial = _Trial.create(trial_name="del-trial", experiment_name="del-exp", sagemaker_session=local_session)
    component = _TrialComponent.create(trial_component_name="del-tc", sagemaker_session=local_session)
    trial.add_trial_component(component)
    for refused in (experiment.delete, trial.delete, component.delete):
        with pytest.raises(ClientError) as caught:
            refused()
        assert caught.value.response["Error"]["Code"] == "ValidationException"
    trial.remove_trial_component(component)
    assert list(trial.list_trial_components()) == []
    trial.add_trial_component(component)
    component.delete(force_disassociate=True)
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_trial_component(TrialComponentName="del-tc")
    trial.delete()
    experiment.delete()
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_experiment(ExperimentName="del-exp")


def test_delete_all_removes_an_experiment_of_runs(local_session, local_backend):
    for i in range(3):
        with Run(experiment_name="all-exp", run_name=f"run-{i}", sagemaker_session=local_session) as run:
            run.log_metric("m", float(i))
    Experiment.load(experiment_name="all-exp", sagemaker_session=local_session)._delete_all(action="--force")
    client = local_session.sagemaker_client
    assert client.list_experiments()["ExperimentSummaries"] == []
    assert client.list_trials()["TrialSummaries"] == []
    assert client.list_trial_components()["TrialComponentSummaries"] == []
    assert local_backend.store.select("SELECT count(*) FROM metrics") == [(0,)]


def test_lineage_that_run_writes_reads_back(local_session):
    with Run(experiment_name="lineage-exp", run_name="lineage-run", sagemaker_session=local_session) as run:
        # the path log_confusion_matrix / log_roc_curve take once sklearn has computed the data
        run._log_graph_artifact(artifact_name="matrix", data={"type": "ConfusionMatrix"},
                                graph_type="ConfusionMatrix", is_output=True)
        run._log_graph_artifact(artifact_name="table", data={"type": "Table"}, graph_type="Table", is_output=False)
        tc_arn = run._trial_component.trial_component_arn
    produced = list(Association.list(source_arn=tc_arn, sagemaker_session=local_session))
    contributed = list(Association.list(destination_arn=tc_arn, sagemaker_session=local_session))
    assert [a.association_type for a in produced] == ["Produced"]
    assert [a.association_type for a in contributed] == ["ContributedTo"]
    output = Artifact.load(artifact_arn=produced[0].destination_arn, sagemaker_session=local_session)
    source = Artifact.load(artifact_arn=contributed[0].source_arn, sagemaker_session=local_session)
    assert (output.artifact_name, output.artifact_type) == ("matrix", "ConfusionMatrix")
    assert (source.artifact_name, source.artifact_type) == ("table", "Table")
    assert output.source.source_uri.startswith("s3://") and output.source.source_uri.endswith(".json")
    with pytest.raises(ClientError) as caught:  # still associated: AWS-like refusal
        output.delete()
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    output.delete(disassociate=True)  # the SDK's path: its associations first, then the artifact
    assert list(Association.list(source_arn=tc_arn, sagemaker_session=local_session)) == []
    with pytest.raises(ClientError):
        Artifact.load(artifact_arn=output.artifact_arn, sagemaker_session=local_session)


def test_tags_delete_and_metrics_read_back(local_session):
    client = local_session.sagemaker_client
    arn = client.create_trial_component(TrialComponentName="tagged",
                                        Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])["TrialComponentArn"]
    client.delete_tags(ResourceArn=arn, TagKeys=["a"])
    assert client.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    metrics = local_session.boto_session.client("sagemaker-metrics")
    metrics.batch_put_metrics(TrialComponentName="tagged", MetricData=[
        {"MetricName": "loss", "Value": v, "Timestamp": 1_700_000_000 + s, "Step": s} for s, v in enumerate([3.0, 2.0, 1.0])])
    (result,) = metrics.batch_get_metrics(MetricQueries=[{
        "MetricName": "loss", "ResourceArn": arn, "MetricStat": "Avg", "Period": "IterationNumber",
        "XAxisType": "IterationNumber"}])["MetricQueryResults"]
    assert result["Status"] == "Complete"
    assert result["XAxisValues"] == [0, 1, 2] and result["MetricValues"] == [3.0, 2.0, 1.0]
