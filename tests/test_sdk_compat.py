"""The same round trip on whichever SageMaker SDK major is installed (v3 in .venv, v2 in .venv-sdk-v2)."""

from __future__ import annotations

import importlib
from importlib.metadata import version

from langchain_core.language_models.fake import FakeListLLM

from helpers import experiments
from helpers.analysis.traces import read_run_spans
from helpers.experiments import SDK_MAJOR, ExperimentAnalytics, Run
from helpers.tracking import SageMakerCallbackHandler


def test_helpers_use_the_installed_sdk_major():
    assert SDK_MAJOR == int(version("sagemaker").split(".")[0])


_HOMES = {
    3: {"Run": "sagemaker.core.experiments.run", "load_run": "sagemaker.core.experiments.run",
        "list_runs": "sagemaker.core.experiments.run", "ExperimentAnalytics": "sagemaker.core.analytics",
        "Session": "sagemaker.core.helper.session_helper"},
    2: {"Run": "sagemaker.experiments.run", "load_run": "sagemaker.experiments.run",
        "list_runs": "sagemaker.experiments.run", "ExperimentAnalytics": "sagemaker.analytics",
        "Session": "sagemaker.session"},
}


def test_reexports_are_the_sdks_own_objects():
    for name, module in _HOMES[SDK_MAJOR].items():
        assert getattr(experiments, name) is getattr(importlib.import_module(module), name), name


def test_local_session_is_the_sdks_session_class(local_session):
    assert type(local_session) is experiments.Session
    assert local_session.boto_region_name == "us-east-1"
    assert local_session.default_bucket() == "sagemaker-us-east-1-123456789012"


def test_run_and_handler_round_trip(local_session, spool_dir):
    llm = FakeListLLM(responses=["a joke about fish"])
    with Run(experiment_name="compat-exp", run_name="compat-run", sagemaker_session=local_session) as run:
        run.log_parameter("sdk_major", SDK_MAJOR)
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        llm.invoke("tell me a joke about fish", config={"callbacks": [handler]})
    row = ExperimentAnalytics(experiment_name="compat-exp", sagemaker_session=local_session).dataframe().iloc[0]
    assert row["sdk_major"] == SDK_MAJOR and row["llm_calls - Last"] == 1
    assert row["langchain-trace - Value"].endswith("/")  # the trace is a prefix of segments
    span = read_run_spans(local_session, "compat-exp-compat-run")[0]
    assert span["output_text"] == "a joke about fish" and span["input_text"] == "tell me a joke about fish"
