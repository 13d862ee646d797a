"""The ARN path offline: the real sagemaker-mlflow plugin, pointed at a loopback MLflow server by its
SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT, signs every request (SigV4, dummy keys) with the app's ARN header,
and a tracked scenario lands there: run, params, metrics, segments and the trace."""

from __future__ import annotations

import logging

import boto3
import mlflow
import pytest
from botocore.stub import Stubber
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from mlflow_loopback import mlflow_server

from helpers.backends import mlflow_setup, open_tracker, start_run
from helpers.offline_model import OfflineChatModel
from helpers.tracking import SageMakerCallbackHandler
from helpers.tracking.handler import _finish_uploads

APP_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-TESTLOOPBACK1"


@pytest.fixture
def global_tracking_uri():
    """MLflow's process-global tracking URI, restored after the test (connect() sets it to the ARN)."""
    from mlflow.tracking._tracking_service import utils

    before = utils._tracking_uri
    yield
    mlflow.set_tracking_uri(before)


@pytest.fixture
def aws_dummy(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "AKIDLOOPBACKTEST", "AWS_SECRET_ACCESS_KEY": "loopback-secret",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MLFLOW_TRACKING_URI", "SAGEMAKER_MLFLOW_ASSUME_ROLE_ARN"):
        monkeypatch.delenv(key, raising=False)


def test_an_mlflow_app_arn_goes_signed_to_its_endpoint_and_the_run_lands(tmp_path, monkeypatch, aws_dummy,
                                                                         no_network, spool_dir, caplog,
                                                                         global_tracking_uri):
    with mlflow_server(tmp_path / "server") as (url, requests):
        monkeypatch.setenv("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT", url)
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")  # the run's UI link, stubbed
        monkeypatch.setattr(mlflow_setup, "sagemaker_client", lambda region: sagemaker)
        stub = Stubber(sagemaker).__enter__()  # no presigned URL is asked for: the logged line holds no credential
        tracker = open_tracker("mlflow", "aws", tracking_uri=APP_ARN)
        chain = ChatPromptTemplate.from_template("tell me a joke about {topic}") | OfflineChatModel(
            model_name="offline-chat") | StrOutputParser()
        with caplog.at_level(logging.INFO), start_run("arn-experiment", "arn-run", tracker) as run:
            handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
            answer = chain.invoke({"topic": "fish"}, config={"callbacks": [handler]})
        page = f"#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
        line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("MLflow run arn-run (finished)"))
        assert "Open MLflow" in line and page in line and "presigned_ui_url" in line and "auth?" not in line
        stub.assert_no_pending_responses()
        caplog.clear()

        api = [r for r in requests.all() if r[1].startswith(("/api/", "/ajax-api/", "/v1/"))]
        assert api, "no request reached the loopback MLflow server"
        for method, path, headers in api:
            assert headers.get("x-sm-mlflow-app-arn") == APP_ARN, (method, path)
            auth = headers.get("authorization", "")
            assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDLOOPBACKTEST/"), (method, path, auth)
            assert "/us-east-1/sagemaker/aws4_request" in auth and "x-amz-date" in headers
        paths = {path for _, path, _ in api}
        assert any("runs/log-batch" in p for p in paths) and any("runs/create" in p for p in paths)

        direct = mlflow.MlflowClient(url)  # read back from the server itself, unsigned
        experiment = direct.get_experiment_by_name("arn-experiment")
        stored = direct.get_run(run.info.run_id)
        assert stored.info.run_name == "arn-run" and stored.data.params["model_name"] == "offline-chat"
        assert stored.data.metrics["llm_calls"] == 1
        (trace,) = direct.search_traces(locations=[experiment.experiment_id])
        assert {s.name for s in trace.data.spans} == {"RunnableSequence", "ChatPromptTemplate", "OfflineChatModel",
                                                      "StrOutputParser"}
        assert answer in str(trace.data.spans[0].outputs)

        # The global tracking URI moves on (another test, another cell): the run's store still signs as its ARN,
        # and the exit hook has nothing to send and logs nothing (it used to log the plugin's IndexError).
        mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
        seen = len(requests.all())
        with caplog.at_level(logging.DEBUG):
            assert handler.uploader.store.linked()
            _finish_uploads()
        later = requests.all()[seen:]
        assert later and all(h.get("x-sm-mlflow-app-arn") == APP_ARN and "authorization" in h for _, _, h in later)
        assert "IndexError" not in caplog.text and "failed" not in caplog.text
        assert not list(spool_dir.glob("*/*.jsonl"))  # confirmed and removed when the run ended
    assert no_network == []
