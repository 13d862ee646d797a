"""Search on the stand-in as AWS answers it: filters, nested filters, sub-expressions, sorts, paging, errors.

ExperimentAnalytics (the real SDK) sorts by a parameter and by a metric; pandas checks the order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from helpers.experiments import ExperimentAnalytics

TEMPERATURES = [0.9, 0.1, 10.0, 9.0, 0.5, 2.0]
ACCURACY = [0.3, 0.8, 0.55, 0.1, 0.95, 0.6]


def _populate(local_session):
    """Six runs in one experiment (two trials), each with parameters, tags and an accuracy metric."""
    client = local_session.sagemaker_client
    metrics = local_session.boto_session.client("sagemaker-metrics")
    client.create_experiment(ExperimentName="search-exp")
    for trial in ("trial-a", "trial-b"):
        client.create_trial(TrialName=trial, ExperimentName="search-exp")
    for i, (temperature, accuracy) in enumerate(zip(TEMPERATURES, ACCURACY, strict=True)):
        name = f"tc-{i}"
        client.create_trial_component(
            TrialComponentName=name, DisplayName=f"Run-{i}",
            Status={"PrimaryStatus": "Completed" if i % 3 else "Failed"},
            Parameters={"temperature": {"NumberValue": temperature},
                        "model": {"StringValue": "gpt-small" if i % 2 else "gpt-large"}},
            InputArtifacts={"data": {"Value": f"s3://bucket/data-{i}.csv", "MediaType": "text/csv"}},
            Tags=[{"Key": "team", "Value": "blue" if i < 3 else "red"}],
        )
        client.associate_trial_component(TrialComponentName=name, TrialName="trial-a" if i < 4 else "trial-b")
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        metrics.batch_put_metrics(TrialComponentName=name, MetricData=[
            {"MetricName": "accuracy", "Value": accuracy / 2, "Timestamp": stamp, "Step": 0},
            {"MetricName": "accuracy", "Value": accuracy, "Timestamp": stamp.replace(second=1), "Step": 1},
        ])
    return client


@pytest.fixture(scope="module")
def shared_session(tmp_path_factory):
    """One populated store for the tests that only read (and those whose writes touch nothing they check)."""
    from helpers.experiments import open_session

    session = open_session("local", local_dir=tmp_path_factory.mktemp("search"))
    _populate(session)
    return session


@pytest.fixture
def populated(shared_session):
    return shared_session.sagemaker_client


def _search(client, *filters, **kwargs):
    expression = kwargs.pop("expression", None) or {"Filters": list(filters)}
    names, token = [], None
    while True:
        page = client.search(Resource="ExperimentTrialComponent", SearchExpression=expression,
                             **kwargs, **({"NextToken": token} if token else {}))
        names += [r["TrialComponent"]["TrialComponentName"] for r in page["Results"]]
        token = page.get("NextToken")
        if not token:
            return names


def _where(predicate) -> set[str]:
    return {f"tc-{i}" for i in range(len(TEMPERATURES)) if predicate(i)}


@pytest.mark.parametrize("sort_by, column", [("Parameters.temperature", "temperature"),
                                             ("Metrics.accuracy.Max", "accuracy - Max")])
@pytest.mark.parametrize("order", ["Ascending", "Descending"])
def test_analytics_sorted_by_a_parameter_or_a_metric_matches_pandas(shared_session, sort_by, column, order):
    frame = ExperimentAnalytics(experiment_name="search-exp", sagemaker_session=shared_session,
                                sort_by=sort_by, sort_order=order).dataframe()
    assert len(frame) == len(TEMPERATURES)
    expected = frame.sort_values(column, ascending=order == "Ascending", kind="stable")
    assert list(frame[column]) == list(expected[column])
    assert list(frame[column]) != list(frame[column].sort_values(ascending=order != "Ascending"))


def test_analytics_metric_and_parameter_filters(shared_session):
    expression = {"Filters": [{"Name": "Metrics.accuracy.Max", "Operator": "GreaterThan", "Value": "0.5"},
                              {"Name": "Parameters.model", "Operator": "Equals", "Value": "gpt-small"}]}
    frame = ExperimentAnalytics(search_expression=expression, sagemaker_session=shared_session).dataframe()
    assert set(frame["TrialComponentName"]) == _where(lambda i: ACCURACY[i] > 0.5 and i % 2)


@pytest.mark.parametrize("name, op, value, predicate", [
    ("Parameters.temperature", "GreaterThan", "9", lambda i: TEMPERATURES[i] > 9),  # 10 > 9 as numbers
    ("Parameters.temperature", "GreaterThanOrEqualTo", "9", lambda i: TEMPERATURES[i] >= 9),
    ("Parameters.temperature", "LessThan", "0.5", lambda i: TEMPERATURES[i] < 0.5),
    ("Parameters.temperature", "LessThanOrEqualTo", "0.5", lambda i: TEMPERATURES[i] <= 0.5),
    ("Parameters.temperature", "Equals", "2", lambda i: TEMPERATURES[i] == 2),
    ("Parameters.temperature", "NotEquals", "2", lambda i: TEMPERATURES[i] != 2),
    ("Parameters.temperature", "In", "0.1, 10", lambda i: TEMPERATURES[i] in (0.1, 10)),
    ("Parameters.model", "Contains", "large", lambda i: i % 2 == 0),
    ("Parameters.model", "GreaterThan", "gpt-p", lambda i: i % 2 == 1),  # strings as strings
    ("Parameters.model", "Exists", None, lambda i: True),
    ("Parameters.missing", "NotExists", None, lambda i: True),
    ("Parameters.missing", "Exists", None, lambda i: False),
    ("Metrics.accuracy.Max", "GreaterThan", "0.5", lambda i: ACCURACY[i] > 0.5),
    ("Metrics.accuracy.Min", "LessThan", "0.2", lambda i: ACCURACY[i] / 2 < 0.2),
    ("Metrics.accuracy.Count", "Equals", "2", lambda i: True),
    ("Metrics.accuracy.Last", "GreaterThanOrEqualTo", "0.8", lambda i: ACCURACY[i] >= 0.8),
    ("Metrics.accuracy.Avg", "GreaterThan", "0.3", lambda i: ACCURACY[i] * 0.75 > 0.3),
    ("Metrics.accuracy.StdDev", "GreaterThan", "0", lambda i: True),
    ("Tags.team", "Equals", "red", lambda i: i >= 3),
    ("Parents.TrialName", "Equals", "trial-b", lambda i: i >= 4),
    ("Parents.ExperimentName", "Equals", "search-exp", lambda i: True),
    ("InputArtifacts.data.Value", "Contains", "data-2", lambda i: i == 2),
    ("InputArtifacts.data.MediaType", "Equals", "text/csv", lambda i: True),
    ("TrialComponentName", "In", "tc-1,tc-4", lambda i: i in (1, 4)),
    ("DisplayName", "Equals", "Run-3", lambda i: i == 3),
    ("Status.PrimaryStatus", "Equals", "Failed", lambda i: i % 3 == 0),
    ("CreationTime", "GreaterThan", "2020-01-01T00:00:00Z", lambda i: True),
    ("LastModifiedTime", "LessThan", "2020-01-01T00:00:00Z", lambda i: False),
    ("Source.SourceArn", "Exists", None, lambda i: False),
])
def test_every_operator_on_every_kind_of_property(populated, name, op, value, predicate):
    condition = {"Name": name, "Operator": op, **({"Value": value} if value is not None else {})}
    assert set(_search(populated, condition)) == _where(predicate)


def test_nested_filters_hold_for_one_element_and_sub_expressions_combine(populated):
    nested = {"NestedFilters": [{"NestedPropertyName": "Parents", "Filters": [
        {"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": "search-exp"},
        {"Name": "Parents.TrialName", "Operator": "Equals", "Value": "trial-a"}]}]}
    assert set(_search(populated, expression=nested)) == _where(lambda i: i < 4)
    either = {"Operator": "Or", "SubExpressions": [
        {"Filters": [{"Name": "Tags.team", "Operator": "Equals", "Value": "red"}]},
        {"Filters": [{"Name": "Parameters.temperature", "Operator": "LessThan", "Value": "0.2"}]}]}
    assert set(_search(populated, expression=either)) == _where(lambda i: i >= 3 or TEMPERATURES[i] < 0.2)
    metric = {"NestedFilters": [{"NestedPropertyName": "Metrics", "Filters": [
        {"Name": "Metrics.MetricName", "Operator": "Equals", "Value": "accuracy"},
        {"Name": "Metrics.Max", "Operator": "GreaterThan", "Value": "0.7"}]}]}
    assert set(_search(populated, expression=metric)) == _where(lambda i: ACCURACY[i] > 0.7)


@pytest.mark.parametrize("expression, named", [
    ({"Filters": [{"Name": "Paramters.temperature", "Operator": "Equals", "Value": "1"}]}, "Paramters.temperature"),
    ({"Filters": [{"Name": "Metrics.accuracy.Median", "Operator": "GreaterThan", "Value": "1"}]}, "Metrics.accuracy.Median"),
    ({"NestedFilters": [{"NestedPropertyName": "DisplayName", "Filters": [
        {"Name": "DisplayName.x", "Operator": "Equals", "Value": "1"}]}]}, "DisplayName"),
    ({"Filters": [{"Name": "Metrics.accuracy.Max", "Operator": "GreaterThan", "Value": "high"}]}, "high"),
    ({"Filters": [{"Name": "DisplayName", "Operator": "Equals"}]}, "DisplayName"),
])
def test_a_malformed_expression_is_a_validation_exception_naming_the_bad_part(populated, expression, named):
    with pytest.raises(ClientError) as caught:
        populated.search(Resource="ExperimentTrialComponent", SearchExpression=expression)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and named in error["Message"]


def test_sort_on_an_unknown_property_is_refused(populated):
    with pytest.raises(ClientError) as caught:
        populated.search(Resource="ExperimentTrialComponent", SortBy="Parameters")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_paging_is_stable_when_the_store_changes_between_pages(local_session):
    populated = _populate(local_session)  # its own store: this test deletes
    first = populated.search(Resource="ExperimentTrialComponent", SortBy="Parameters.temperature",
                             SortOrder="Ascending", MaxResults=2)
    populated.create_trial_component(TrialComponentName="tc-new", Parameters={"temperature": {"NumberValue": 0.0}})
    populated.disassociate_trial_component(TrialComponentName="tc-5", TrialName="trial-b")
    populated.delete_trial_component(TrialComponentName="tc-5")
    names = [r["TrialComponent"]["TrialComponentName"] for r in first["Results"]]
    token = first["NextToken"]
    while token:
        page = populated.search(Resource="ExperimentTrialComponent", NextToken=token, MaxResults=2)
        names += [r["TrialComponent"]["TrialComponentName"] for r in page["Results"]]
        token = page.get("NextToken")
    by_temperature = sorted(range(len(TEMPERATURES)), key=lambda i: TEMPERATURES[i])
    assert names == [f"tc-{i}" for i in by_temperature if i != 5]  # no repeat, no skip; the deleted one gone


def test_search_over_experiments_and_trials(populated):
    experiments = populated.search(Resource="Experiment", SearchExpression={"Filters": [
        {"Name": "ExperimentName", "Operator": "Equals", "Value": "search-exp"}]})["Results"]
    assert [r["Experiment"]["ExperimentName"] for r in experiments] == ["search-exp"]
    trials = populated.search(Resource="ExperimentTrial", SortBy="TrialName", SortOrder="Ascending", SearchExpression={
        "Filters": [{"Name": "TrialComponentSummaries.TrialComponentName", "Operator": "Equals", "Value": "tc-4"}]})
    (record,) = trials["Results"]
    assert record["Trial"]["TrialName"] == "trial-b"
    assert {s["TrialComponentName"] for s in record["Trial"]["TrialComponentSummaries"]} == {"tc-4", "tc-5"}


def test_other_search_resources_answer_unsupported_501(populated):
    with pytest.raises(ClientError) as caught:
        populated.search(Resource="TrainingJob")
    assert caught.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_list_rules_from_the_model(populated):
    with pytest.raises(ClientError) as caught:
        populated.list_trial_components(ExperimentName="search-exp", TrialName="trial-a")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "ExperimentName" in caught.value.response["Error"]["Message"]
    arn = populated.describe_trial_component(TrialComponentName="tc-0")["TrialComponentArn"]
    populated.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(30)])
    assert len(populated.list_tags(ResourceArn=arn)["Tags"]) == 31  # the model's ListTags minimum page is 50
    page = populated.list_trial_components()
    assert len(page["TrialComponentSummaries"]) == 6 and "NextToken" not in page  # documented default: 10
    with pytest.raises(ClientError) as caught:
        populated.list_trial_components(MaxResults=101)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_created_by_and_metadata_properties_are_returned(populated):
    populated.create_trial(TrialName="with-meta", ExperimentName="search-exp",
                           MetadataProperties={"CommitId": "abc123", "Repository": "repo"})
    trial = populated.describe_trial(TrialName="with-meta")
    assert trial["MetadataProperties"] == {"CommitId": "abc123", "Repository": "repo"}
    assert trial["CreatedBy"]["IamIdentity"]["Arn"].endswith(":user/local")
    assert "LastModifiedBy" in populated.describe_trial_component(TrialComponentName="tc-0")
