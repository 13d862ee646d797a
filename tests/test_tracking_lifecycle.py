"""A run's trace over its life: upload pacing, partial failures, recovery in a live process, re-runs, resources."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time

from langchain_core.language_models.fake import FakeListLLM
from langchain_core.runnables import RunnableLambda
from test_tracking_uploads import read_trace as read_any_trace

from helpers.experiments import ExperimentAnalytics, Run, local_backend
from helpers.tracking import SageMakerCallbackHandler, upload_pending_spools

EXPERIMENT = "lifecycle-exp"


def llm_calls(n: int):
    """A top-level call that makes n LLM calls and returns its input."""
    llm = FakeListLLM(responses=["ok"])
    return RunnableLambda(lambda x: [llm.invoke(f"{x}-{i}") for i in range(n)] and x)


def read_trace(session, run_name, experiment=EXPERIMENT):
    return read_any_trace(session, run_name, experiment)


def metrics_row(session, run_name, experiment=EXPERIMENT):
    frame = ExperimentAnalytics(experiment_name=experiment, sagemaker_session=session).dataframe()
    return frame[frame["TrialComponentName"] == f"{experiment}-{run_name}"].iloc[0]


def test_fast_calls_share_uploads_and_waiting_never_sits_out_the_interval(local_session, spool_dir):
    backend = local_backend(local_session)
    chain = RunnableLambda(lambda x: x)
    with Run(experiment_name=EXPERIMENT, run_name="paced", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir, upload_interval_s=30)
        chain.invoke(0, config={"callbacks": [handler]})  # registers the artifact
        backend.reset_counts()
        for n in range(1, 31):
            chain.invoke(n, config={"callbacks": [handler]})
        started = time.monotonic()
        assert handler.wait_for_uploads(timeout=20)
        waited = time.monotonic() - started
        puts = backend.request_counts["s3.PutObject"]
    assert waited < 20 and puts == 1, (waited, dict(backend.request_counts))  # 30 calls, one upload
    assert [s["inputs"]["input"] for s in read_trace(local_session, "paced")] == list(range(31))


def test_a_metrics_request_failing_half_way_sends_no_value_twice(local_session, spool_dir, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    client = local_session.sagemaker_metrics_client
    real, requests = client.batch_put_metrics, []

    def first_request_lost(**kwargs):
        requests.append(len(kwargs["MetricData"]))
        if len(requests) == 1:
            raise ConnectionError("the first request was lost")
        return real(**kwargs)

    with Run(experiment_name=EXPERIMENT, run_name="half-sent", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        monkeypatch.setattr(client, "batch_put_metrics", first_request_lost)
        llm_calls(10).invoke(0, config={"callbacks": [handler]})  # 7 totals + 1 latency summary: 1 request, lost
        handler.flush_tracker()  # sends what was lost, once
    assert requests == [8, 8]
    row = metrics_row(local_session, "half-sent")
    assert row["llm_calls - Last"] == 10 and row["llm_latency_ms - Count"] == 1 and row["errors - Count"] == 1


def test_recovering_spools_in_a_live_process_leaves_its_own_handlers_alone(local_session, spool_dir, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    backend = local_backend(local_session)
    with Run(experiment_name=EXPERIMENT, run_name="still-mine", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        llm_calls(1).invoke(0, config={"callbacks": [handler]})
        backend.add_fault("s3.PutObject", times=None)  # S3 down: the next calls stay in the spool
        for n in range(1, 4):
            llm_calls(1).invoke(n, config={"callbacks": [handler]})
        handler.wait_for_uploads(timeout=60)
        assert upload_pending_spools(local_session, spool_dir=spool_dir) == []  # what the warning suggests
        backend.clear_faults()
    row = metrics_row(local_session, "still-mine")
    assert row["llm_calls - Last"] == 4 and row["llm_latency_ms_total - Count"] == 2  # two uploads, none twice
    assert len([s for s in read_trace(local_session, "still-mine") if s["parent_id"] is None]) == 4


def test_a_deleted_spool_folder_is_a_warning_not_an_error(local_session, spool_dir, monkeypatch, caplog):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    with caplog.at_level(logging.WARNING), Run(experiment_name=EXPERIMENT, run_name="swept",
                                               sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        llm_calls(1).invoke(0, config={"callbacks": [handler]})
        shutil.rmtree(handler.spool_path.parent)  # e.g. someone cleaned .trace-spool
        assert llm_calls(1).invoke(1, config={"callbacks": [handler]}) == 1
        handler.wait_for_uploads(timeout=60)
    assert str(handler.spool_path) in caplog.text
    assert len(read_trace(local_session, "swept")) == 2  # what was uploaded before stays


def test_running_a_run_name_again_is_a_new_execution_in_the_same_trace(local_session, spool_dir):
    for label in ("first", "second"):  # e.g. a notebook cell executed twice
        with Run(experiment_name=EXPERIMENT, run_name="again", sagemaker_session=local_session) as run:
            handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
            llm_calls(2).invoke(label, config={"callbacks": [handler]})
    roots = [s for s in read_trace(local_session, "again") if s["parent_id"] is None]
    assert [r["inputs"]["input"] for r in roots] == ["first", "second"]
    # each execution counts its own calls (the run's "Last" values are the latest execution's)
    row = metrics_row(local_session, "again")
    assert row["llm_calls - Last"] == 2 and row["llm_latency_ms - Count"] == 2


def test_closed_runs_hold_no_file_or_thread(local_session, spool_dir):
    def open_files():
        return len(os.listdir("/proc/self/fd"))

    def upload_threads():
        return sum(t.name == "sagemaker-trace-upload" for t in threading.enumerate())

    chain = RunnableLambda(lambda x: x)
    before = open_files()
    for n in range(30):
        with Run(experiment_name=EXPERIMENT, run_name=f"short-{n}", sagemaker_session=local_session) as run:
            handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
            for call in range(3):
                chain.invoke(call, config={"callbacks": [handler]})
    deadline = time.monotonic() + 10
    while upload_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upload_threads() == 0
    assert open_files() - before < 5


def test_while_s3_is_down_only_the_first_call_waits_and_the_run_exit_sends_everything(local_session, spool_dir,
                                                                                      monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    backend = local_backend(local_session)
    chain = llm_calls(1)
    with Run(experiment_name=EXPERIMENT, run_name="down-early", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        backend.add_fault("s3.PutObject", code="ServiceUnavailable", status=503, times=None)
        backend.latency_s = 0.3  # every attempt, retries included
        chain.invoke(0, config={"callbacks": [handler]})  # registering fails here, after botocore's retries
        started = time.perf_counter()
        chain.invoke(1, config={"callbacks": [handler]})
        felt = time.perf_counter() - started
        handler.wait_for_uploads(timeout=60)
        backend.latency_s = 0.0
        backend.clear_faults()
        # nothing reached the run yet: leaving the block must register the trace and log the rest
    assert felt < 0.3, f"the second call waited {felt:.2f} s for S3"
    roots = [s for s in read_trace(local_session, "down-early") if s["parent_id"] is None]
    assert [r["inputs"]["input"] for r in roots] == [0, 1]
    row = metrics_row(local_session, "down-early")
    assert row["llm_calls - Last"] == 2 and row["llm_latency_ms - Count"] == 1 and row["llm_type"] == "fake-list"
