"""The MLflow backend: the handler given an MLflow run writes params, metrics, segments and one MLflow trace
per top-level call (span types, our ids, times, inputs, outputs, tokens, errors); nothing lost; no network."""

from __future__ import annotations

import mlflow
import pytest
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from helpers.analysis import load_runs, load_traces
from helpers.backends import open_tracker, start_run
from helpers.backends.mlflow_setup import TrackingSetupError, check_arn, check_versions
from helpers.offline_model import OfflineChatModel
from helpers.tracking import SageMakerCallbackHandler


@pytest.fixture
def tracking(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("MLFLOW_LOCAL_DIR", str(tmp_path / "mlflow"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker = open_tracker("mlflow", "local")
    yield tracker
    assert no_network == [], f"MLflow connected outside loopback: {no_network}"


def _traces(experiment_name):
    experiment = mlflow.get_experiment_by_name(experiment_name)
    return mlflow.search_traces(locations=[experiment.experiment_id], return_type="list", max_results=100_000)


def _chain():
    model = OfflineChatModel(model_name="offline-chat", temperature=0.3)
    return ChatPromptTemplate.from_template("tell me a joke about {topic}") | model | StrOutputParser()


def test_mlflow_run_gets_params_metrics_segments_and_a_trace(tracking, spool_dir):
    with start_run("exp-a", "run-1", tracking) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        answer = _chain().invoke({"topic": "fish"}, config={"callbacks": [handler]})
    stored = mlflow.get_run(run.info.run_id)
    assert stored.data.params["model_name"] == "offline-chat"
    assert stored.data.params["temperature"] == "0.3"
    assert stored.data.metrics["llm_calls"] == 1
    assert stored.data.metrics["total_tokens"] > 0
    assert stored.data.tags["langchain.trace"] == f"runs:/{run.info.run_id}/langchain-trace/"
    segments = mlflow.MlflowClient().list_artifacts(run.info.run_id, "langchain-trace")
    assert len(segments) == 1 and segments[0].is_dir

    (trace,) = _traces("exp-a")
    assert [t.info.trace_id for t in mlflow.search_traces(locations=[run.info.experiment_id], run_id=run.info.run_id,
                                                          return_type="list")] == [
        trace.info.trace_id]  # linked to its run
    assert trace.info.tags["mlflow.traceName"] == "RunnableSequence" and trace.info.state == "OK"
    assert "fish" in trace.info.request_preview
    spans = {s.name: s for s in trace.data.spans}
    assert spans["RunnableSequence"].span_type == "CHAIN" and spans["RunnableSequence"].parent_id is None
    assert spans["ChatPromptTemplate"].span_type == "CHAIN"
    assert spans["StrOutputParser"].span_type == "PARSER"
    chat = spans["OfflineChatModel"]
    assert chat.span_type == "CHAT_MODEL"
    assert chat.parent_id == spans["RunnableSequence"].span_id
    assert "fish" in str(chat.inputs) and answer in str(chat.outputs)
    assert chat.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == stored.data.metrics["total_tokens"]
    assert chat.attributes["mlflow.llm.model"] == "offline-chat"
    assert chat.attributes["mlflow.message.format"] == "langchain"
    assert chat.attributes["gen_ai.request.model"] == "offline-chat"
    # our ids, kinds and times are kept
    ours = load_traces("exp-a", sagemaker_session=tracking)
    row = ours[ours["name"] == "OfflineChatModel"].iloc[0]
    assert chat.attributes["langchain.span_id"] == row["span_id"]
    assert chat.attributes["langchain.parent_id"] == row["parent_id"]
    assert chat.attributes["langchain.kind"] == "chat_model"
    assert abs(chat.start_time_ns / 1e6 - row["start_time"].timestamp() * 1000) < 1
    assert abs((chat.end_time_ns - chat.start_time_ns) / 1e6 - row["latency_ms"]) < 1
    assert trace.info.token_usage["total_tokens"] == stored.data.metrics["total_tokens"]


def test_errors_are_error_spans_with_the_exception(tracking, spool_dir):
    @tool
    def broken(text: str) -> str:
        """Always fails."""
        raise ValueError("the tool broke")

    with pytest.raises(ValueError), start_run("exp-err", "run-err", tracking) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        broken.invoke({"text": "x"}, config={"callbacks": [handler]})
    (trace,) = _traces("exp-err")
    (span,) = trace.data.spans
    assert span.span_type == "TOOL" and span.status.status_code == "ERROR"
    event = span.events[0]
    assert event.name == "exception" and event.attributes["exception.type"] == "ValueError"
    assert "the tool broke" in event.attributes["exception.message"]
    assert trace.info.state == "ERROR"
    assert mlflow.get_run(run.info.run_id).data.metrics["errors"] == 1
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"


def test_secrets_are_redacted_in_mlflow_traces(tracking, spool_dir):
    secret = "sk-" + "a1B2" * 12
    chain = RunnableLambda(lambda x: f"echo {x['q']}")
    with start_run("exp-secret", "run-s", tracking) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        chain.invoke({"q": "hi", "api_key": secret}, config={"callbacks": [handler]})
    (trace,) = _traces("exp-secret")
    assert secret not in trace.to_json()


def test_load_runs_and_load_traces_have_the_experiments_columns(tracking, spool_dir, local_session):
    for name, session in (("exp-same", tracking), ("exp-same", local_session)):
        with start_run(name, "run-1", session) as run:
            handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
            _chain().invoke({"topic": "fish"}, config={"callbacks": [handler]})
    ml_runs, sm_runs = load_runs("exp-same", sagemaker_session=tracking), load_runs("exp-same", local_session)
    wanted = ["run_name", "model_name", "temperature", "llm_calls", "input_tokens", "output_tokens",
              "llm_latency_ms_avg", "trace_uri"]
    assert set(wanted) <= set(ml_runs.columns) and set(wanted) <= set(sm_runs.columns)
    for column in ("run_name", "model_name", "temperature", "llm_calls", "input_tokens", "output_tokens"):
        assert ml_runs[column].iloc[0] == sm_runs[column].iloc[0], column
    ml_spans, ml_status = load_traces("exp-same", sagemaker_session=tracking, with_status=True)
    sm_spans = load_traces("exp-same", sagemaker_session=local_session)
    assert list(ml_spans.columns) == list(sm_spans.columns)
    assert ml_spans["name"].tolist() == sm_spans["name"].tolist()
    assert ml_spans["output_text"].tolist() == sm_spans["output_text"].tolist()
    assert ml_status["trace_status"].tolist() == ["ok"]


def test_a_rerun_of_a_run_name_appends_to_the_same_mlflow_run(tracking, spool_dir):
    ids = set()
    for _ in range(2):
        with start_run("exp-rerun", "run-x", tracking) as run:
            handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
            _chain().invoke({"topic": "fish"}, config={"callbacks": [handler]})
            ids.add(run.info.run_id)
    assert len(ids) == 1
    assert len(_traces("exp-rerun")) == 2
    assert len(load_traces("exp-rerun", sagemaker_session=tracking)) == 8


def test_bad_arn_missing_server_and_version_mismatch_each_say_one_line(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # mlflow.set_tracking_uri sets it
    with pytest.raises(TrackingSetupError, match="not an MLflow App or tracking-server ARN.*list-mlflow-apps"):
        check_arn("arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/x")
    parts = check_arn("arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABC123")
    assert parts["kind"] == "mlflow-app" and parts["region"] == "us-east-1"
    with pytest.raises(TrackingSetupError, match="client 3.17.2 does not match the server's MLflow 3.0.0"):
        check_versions("3.17.2", "3.0.0")
    check_versions("3.17.2", "3.17.0")
    with pytest.raises(TrackingSetupError, match="needs an MLflow App or tracking-server ARN"):
        from helpers.backends.mlflow_setup import resolve_uri

        resolve_uri(None, "aws")


def test_an_unreachable_tracking_uri_is_one_line(no_network, monkeypatch):
    from helpers.backends.mlflow_setup import ensure_experiment

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    with pytest.raises(TrackingSetupError, match="cannot be reached"):
        ensure_experiment("http://127.0.0.1:9", "exp")


@pytest.mark.drills
def test_a_thousand_fast_calls_are_a_thousand_traces(tracking, spool_dir):
    chain = RunnableLambda(lambda x: x) | RunnableLambda(lambda x: AIMessage(content=f"{x}"))
    with start_run("exp-1000", "run-1000", tracking) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        for i in range(1000):
            chain.invoke(i, config={"callbacks": [handler]})
    traces = _traces("exp-1000")
    assert len(traces) == 1000
    assert sum(len(t.data.spans) for t in traces) == 3000


@pytest.mark.drills
def test_a_ten_thousand_span_trace_keeps_every_span(tracking, spool_dir):
    step = RunnableLambda(lambda x: x + 1)

    def many(x, config):
        for _ in range(9_999):
            x = step.invoke(x, config=config)
        return x

    with start_run("exp-10k", "run-10k", tracking) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        assert RunnableLambda(many).invoke(0, config={"callbacks": [handler]}) == 9_999
    (trace,) = _traces("exp-10k")
    assert len(trace.data.spans) == 10_000


@pytest.mark.notebooks
def test_notebooks_01_and_04_run_with_tracker_mlflow(tmp_path, monkeypatch):
    from helpers.notebook_runner import main

    monkeypatch.setenv("MLFLOW_LOCAL_DIR", str(tmp_path / "mlflow"))
    monkeypatch.setenv("SAGEMAKER_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["--llm", "offline", "--backend", "local", "--tracker", "mlflow", "--only", "01", "04",
                 "--experiment", "nb-mlflow", "--output-dir", str(tmp_path / "build"), "--no-html"]) == 0
    tracker = open_tracker("mlflow", "local")
    runs = load_runs("nb-mlflow", sagemaker_session=tracker)
    assert runs["run_name"].tolist() == ["run-scenario-1"] and runs["llm_calls"].iloc[0] == 1
    spans = load_traces("nb-mlflow", sagemaker_session=tracker)
    assert set(spans["kind"]) >= {"llm", "chain"}
    assert len(_traces("nb-mlflow")) == 1
    executed = (tmp_path / "build" / "04_compare_runs.ipynb").read_text()
    assert "run-scenario-1" in executed and '"output_type": "error"' not in executed


APP_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-PAIRING1"
SERVER_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team-server"


@pytest.fixture
def stubbed_sagemaker(monkeypatch):
    """botocore's Stubber on a real SageMaker client, returned for every ARN (no request leaves the process)."""
    import boto3
    from botocore.stub import Stubber
    from mlflow.tracking._tracking_service import utils

    from helpers.backends import mlflow_setup

    for key, value in {"AWS_ACCESS_KEY_ID": "AKIDSTUB", "AWS_SECRET_ACCESS_KEY": "stub-secret",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT", raising=False)
    clients = {}

    def client(region):
        if region not in clients:
            made = boto3.client("sagemaker", region_name=region)
            clients[region] = (made, Stubber(made).__enter__())
        return clients[region][0]

    monkeypatch.setattr(mlflow_setup, "sagemaker_client", client)
    before = utils._tracking_uri
    yield lambda region: (client(region), clients[region][1])[1]
    mlflow.set_tracking_uri(before)
    for _, stubber in clients.values():
        stubber.assert_no_pending_responses()


def test_a_server_on_another_mlflow_version_is_one_clear_line(stubbed_sagemaker, no_network, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    stub = stubbed_sagemaker("us-east-1")
    stub.add_response("describe_mlflow_app", {"Arn": APP_ARN, "MlflowVersion": "3.0.1"}, {"Arn": APP_ARN})
    with pytest.raises(TrackingSetupError) as raised:
        open_tracker("mlflow", "aws", tracking_uri=APP_ARN)
    message = str(raised.value)
    assert "\n" not in message and f"MLflow client {mlflow.__version__} does not match the server's MLflow 3.0.1" \
        in message and "mlflow==3.0.*" in message
    other = stubbed_sagemaker("eu-west-1")
    same = ".".join(mlflow.__version__.split(".")[:2]) + ".0"
    other.add_response("describe_mlflow_tracking_server", {"MlflowVersion": same},
                       {"TrackingServerName": "team-server"})
    assert open_tracker("mlflow", "aws", tracking_uri=SERVER_ARN).tracking_uri == SERVER_ARN  # a matching minor
    assert no_network == []


def test_the_run_link_on_aws_names_the_run_page_and_the_presigned_url_is_only_returned(stubbed_sagemaker, no_network):
    """The logged link holds no credential; presigned_ui_url returns the sign-in URL at the run's page."""
    from helpers.backends.mlflow_setup import presigned_ui_url, ui_link

    stub = stubbed_sagemaker("us-east-1")
    signed = "https://app-pairing1.mlflow.sagemaker.us-east-1.app.aws/auth?authToken=opaque"
    stub.add_response("create_presigned_mlflow_app_url", {"AuthorizedUrl": signed},
                      {"Arn": APP_ARN, "ExpiresInSeconds": 300, "SessionExpirationDurationInSeconds": 43200})
    link = ui_link(APP_ARN, "7", "abc")
    assert "Open MLflow" in link and "#/experiments/7/runs/abc" in link and "presigned_ui_url" in link
    assert "authToken" not in link and "opaque" not in link
    assert presigned_ui_url(APP_ARN, "7", "abc") == signed + "#/experiments/7/runs/abc"
    server = stubbed_sagemaker("eu-west-1")
    server.add_response("create_presigned_mlflow_tracking_server_url", {"AuthorizedUrl": "https://t.example/x"},
                        {"TrackingServerName": "team-server", "ExpiresInSeconds": 300,
                         "SessionExpirationDurationInSeconds": 43200})
    assert presigned_ui_url(SERVER_ARN, "7") == "https://t.example/x#/experiments/7"
    stub.assert_no_pending_responses()
    server.assert_no_pending_responses()
    assert ui_link("http://127.0.0.1:5000", "7", "abc") == "http://127.0.0.1:5000/#/experiments/7/runs/abc"
    assert no_network == []


def test_an_experiment_name_mlflow_refuses_is_one_clear_line(tracking, spool_dir):
    for name in ("", "x" * 600):
        with pytest.raises(TrackingSetupError) as raised, start_run(name, "run-1", tracking) as run:
            SageMakerCallbackHandler(run, spool_dir=spool_dir)
        message = str(raised.value)
        assert "\n" not in message and "MLflow refused the experiment" in message and len(message) < 700
        assert "Choose another experiment name" in message
    assert not spool_dir.exists()  # no handler was made: nothing to keep
    assert [e.name for e in mlflow.MlflowClient(tracking.tracking_uri).search_experiments()] == ["Default"]
