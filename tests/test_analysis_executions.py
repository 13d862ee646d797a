"""load_executions: each writer of a run's trace (killed and recovered, completed, failed) as one row."""

from __future__ import annotations

import pandas as pd
import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.runnables import RunnableLambda
from test_tracking_robustness import killed_mid_run

from helpers.analysis import load_executions
from helpers.analysis.executions import COLUMNS
from helpers.experiments import Run, load_run, local_backend, open_session
from helpers.tracking import SageMakerCallbackHandler, upload_pending_spools


def calls(handler, prefix: str, n: int, fail: bool = False):
    llm = FakeListLLM(responses=["ok"])

    def body(x):
        llm.invoke(x)
        if fail:
            raise RuntimeError(f"{x} failed")
        return x

    for i in range(n):
        RunnableLambda(body).invoke(f"{prefix}-{i}", config={"callbacks": [handler]})


def test_each_execution_of_a_run_is_one_row(local_dir, spool_dir):
    killed_mid_run(local_dir, spool_dir, "executions", """
        call = RunnableLambda(lambda x: llm.invoke(x) and x)
        call.invoke("sent-0", config={"callbacks": [handler]})
        handler.wait_for_uploads()  # one segment reaches S3 from the live process
        local_backend(s).add_fault("s3.PutObject", times=None)  # the rest only reaches the spool
        for i in range(2):
            call.invoke(f"spooled-{i}", config={"callbacks": [handler]})
    """)
    session = open_session("local", local_dir=local_dir)
    assert len(upload_pending_spools(session, spool_dir=spool_dir)) == 1
    with load_run(experiment_name="executions", run_name="killed", sagemaker_session=session) as run:
        calls(SageMakerCallbackHandler(run, spool_dir=spool_dir), "rerun", 3)
    with pytest.raises(RuntimeError), load_run(experiment_name="executions", run_name="killed",
                                                sagemaker_session=session) as run:
        calls(SageMakerCallbackHandler(run, spool_dir=spool_dir), "bad", 1, fail=True)
    with Run(experiment_name="executions", run_name="other", sagemaker_session=session) as run:
        calls(SageMakerCallbackHandler(run, spool_dir=spool_dir), "other", 1)

    frame = load_executions("executions", sagemaker_session=session)
    assert list(frame.columns) == COLUMNS
    killed = frame[frame["run_name"] == "killed"].reset_index(drop=True)
    assert killed["status"].tolist() == ["not ended", "Completed", "Failed"]  # in writing order
    assert killed["spans"].tolist() == [3 * 2, 3 * 2, 1 * 2]  # chain + llm per call
    assert killed["recovered"].tolist() == [True, False, False]
    crashed, rerun, failed = killed.to_dict("records")
    assert crashed["recovered_segments"] >= 1 and len(crashed["segments"]) > crashed["recovered_segments"]
    assert all(name.startswith(crashed["execution_id"] + "/") for name in crashed["segments"])
    assert isinstance(crashed["pid"], int) and crashed["earlier_execution"] is False
    assert rerun["earlier_execution"] is False  # the killed execution never ended
    assert failed["earlier_execution"] is True and rerun["totals"]["llm_calls"] == 3
    assert rerun["numbers_sent_to_run"] is True and failed["numbers_sent_to_run"] is False
    assert "bad-0 failed" in failed["message"] and failed["totals"]["errors"] == 1
    assert killed["started"].is_monotonic_increasing and killed["started"].notna().all()
    assert (killed["first_span_start"] >= killed["started"] - pd.Timedelta(seconds=1)).all()
    assert (killed["last_span_end"] >= killed["first_span_start"]).all() and killed["last_upload"].notna().all()
    assert not any(killed["unreadable_segments"].map(len))
    assert frame[frame["run_name"] == "other"]["status"].tolist() == ["Completed"]
    only = load_executions("executions", run_names=["other"], sagemaker_session=session)
    assert only["run_name"].tolist() == ["other"]


def test_an_unreadable_segment_is_named_on_its_execution(local_session, spool_dir):
    with Run(experiment_name="exec-denied", run_name="r", sagemaker_session=local_session) as run:
        calls(SageMakerCallbackHandler(run, spool_dir=spool_dir), "a", 1)
    (row,) = load_executions("exec-denied", sagemaker_session=local_session).to_dict("records")
    tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName="exec-denied-r")
    prefix = tc["OutputArtifacts"]["langchain-trace"]["Value"][5:].split("/", 1)[1]
    local_backend(local_session).add_fault("s3.GetObject", code="AccessDenied", status=403, times=None,
                                           key=prefix + row["segments"][-1])  # its last: the end record
    (denied,) = load_executions("exec-denied", sagemaker_session=local_session).to_dict("records")
    assert denied["unreadable_segments"] == [f"{row['segments'][-1]} (AccessDenied)"]
    assert denied["status"] == "not ended" and denied["spans"] == 2  # what the readable segment holds


def test_a_run_with_no_trace_has_no_execution_and_bad_input_is_named(local_session):
    with Run(experiment_name="exec-none", run_name="r", sagemaker_session=local_session):
        pass
    assert load_executions("exec-none", sagemaker_session=local_session).empty
    with pytest.raises(ValueError, match="experiment_name"):
        load_executions("", sagemaker_session=local_session)
