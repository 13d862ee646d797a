"""Drills for the segment design: concurrent writers, re-runs, recovery and a flaky store lose nothing.

Each writer (process, execution, recovery) writes only its own segment objects under the run's prefix.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.runnables import RunnableLambda
from test_tracking_robustness import killed_mid_run

from helpers.analysis import load_traces
from helpers.analysis.traces import read_run_spans
from helpers.experiments import ExperimentAnalytics, Run, load_run, local_backend, open_session
from helpers.tracking import SageMakerCallbackHandler, upload_pending_spools

pytestmark = pytest.mark.drills


def roots(session, experiment, run_name="killed"):
    return sorted(s["inputs"]["input"] for s in read_run_spans(session, f"{experiment}-{run_name}")
                  if s["parent_id"] is None)


def row_of(session, experiment, run_name):
    frame = ExperimentAnalytics(experiment_name=experiment, sagemaker_session=session).dataframe()
    return frame[frame["TrialComponentName"] == f"{experiment}-{run_name}"].iloc[0]


def test_two_processes_tracking_one_run_name_at_once_lose_no_call(local_dir, spool_dir):
    code = textwrap.dedent(f"""
        import sys
        from langchain_core.language_models.fake import FakeListLLM
        from langchain_core.runnables import RunnableLambda
        from helpers.experiments import open_session, load_run
        from helpers.tracking import SageMakerCallbackHandler
        s = open_session("local", local_dir={str(local_dir)!r})
        who = sys.argv[1]
        with load_run(experiment_name="two-procs", run_name="shared", sagemaker_session=s) as run:
            handler = SageMakerCallbackHandler(run, spool_dir={str(spool_dir)!r}, upload_interval_s=0.01)
            llm = FakeListLLM(responses=["ok"])
            for i in range(40):
                RunnableLambda(lambda x: llm.invoke(x) and x).invoke(f"{{who}}-{{i}}", config={{"callbacks": [handler]}})
    """)
    session = open_session("local", local_dir=local_dir)
    with Run(experiment_name="two-procs", run_name="shared", sagemaker_session=session):
        pass
    env = {**os.environ, "SAGEMAKER_TRACKING_STRICT": "1", "PYTEST_CURRENT_TEST": ""}
    procs = [subprocess.Popen([sys.executable, "-c", code, who], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for who in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()[-3000:]
    assert roots(session, "two-procs", "shared") == sorted(f"{w}-{i}" for w in "ab" for i in range(40))


def test_recovery_after_the_run_name_was_re_run_keeps_both(local_dir, spool_dir):
    killed_mid_run(local_dir, spool_dir, "rerun-crash", """
        local_backend(s).add_fault("s3.PutObject", times=None)  # nothing of this execution reaches S3
        for i in range(3):
            RunnableLambda(lambda x: x).invoke(f"killed-{i}", config={"callbacks": [handler]})
    """)
    session = open_session("local", local_dir=local_dir)
    with load_run(experiment_name="rerun-crash", run_name="killed", sagemaker_session=session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        for i in range(5):
            llm = FakeListLLM(responses=["ok"])
            RunnableLambda(lambda x, llm=llm: llm.invoke(x) and x).invoke(f"rerun-{i}", config={"callbacks": [handler]})
    assert len(upload_pending_spools(session, spool_dir=spool_dir)) == 1
    assert roots(session, "rerun-crash") == sorted([f"killed-{i}" for i in range(3)] + [f"rerun-{i}" for i in range(5)])
    assert row_of(session, "rerun-crash", "killed")["llm_calls - Last"] == 5  # the re-run's numbers stay
    assert not list(spool_dir.iterdir()), "recovered and completed spools are removed"


def test_an_earlier_trace_that_cannot_be_read_is_not_replaced(local_session, spool_dir):
    backend = local_backend(local_session)
    with Run(experiment_name="denied", run_name="r", sagemaker_session=local_session) as run:
        RunnableLambda(lambda x: x).invoke("first", config={"callbacks": [SageMakerCallbackHandler(run, spool_dir=spool_dir)]})
    backend.add_fault("s3.GetObject", code="AccessDenied", status=403, times=None)  # reading is denied
    with load_run(experiment_name="denied", run_name="r", sagemaker_session=local_session) as run:
        RunnableLambda(lambda x: x).invoke("second", config={"callbacks": [SageMakerCallbackHandler(run, spool_dir=spool_dir)]})
    backend.clear_faults()
    assert roots(local_session, "denied", "r") == ["first", "second"]


def test_recovery_refuses_to_send_a_spool_to_another_store(tmp_path, spool_dir, caplog):
    killed_mid_run(tmp_path / "store-a", spool_dir, "cross", """
        local_backend(s).add_fault("s3.PutObject", times=None)
        RunnableLambda(lambda x: x).invoke("from-a", config={"callbacks": [handler]})
    """)
    store_b = open_session("local", local_dir=tmp_path / "store-b")
    with Run(experiment_name="cross", run_name="killed", sagemaker_session=store_b) as run:
        RunnableLambda(lambda x: x).invoke("from-b", config={"callbacks": [SageMakerCallbackHandler(run, spool_dir=spool_dir)]})
    with caplog.at_level(logging.WARNING):
        assert upload_pending_spools(store_b, spool_dir=spool_dir) == []
    assert str(tmp_path / "store-a") in caplog.text and str(tmp_path / "store-b") in caplog.text
    assert roots(store_b, "cross") == ["from-b"]  # B's trace untouched
    store_a = open_session("local", local_dir=tmp_path / "store-a")
    assert len(upload_pending_spools(store_a, spool_dir=spool_dir)) == 1  # its own store takes it
    assert roots(store_a, "cross") == ["from-a"]


def test_a_throttled_update_trial_component_keeps_the_spool_until_the_run_links_it(local_session, spool_dir,
                                                                                   monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    backend = local_backend(local_session)
    run = Run(experiment_name="throttled", run_name="r", sagemaker_session=local_session).__enter__()
    handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
    backend.add_fault("sagemaker.UpdateTrialComponent", code="ThrottlingException", status=400, times=None)
    RunnableLambda(lambda x: x).invoke("one", config={"callbacks": [handler]})  # the segment lands, the link fails
    with pytest.raises(Exception, match="Throttling"):  # the SDK's own save at close fails too
        run.__exit__(None, None, None)
    assert handler.spool.directory.exists(), "never linked: the spool must stay"
    backend.clear_faults()
    handler.uploader.retire()
    handler.spool.remove = lambda: None  # this process "dies" with its lock released
    os.close(handler.spool._lock_fd)
    handler.spool._lock_fd = None
    from helpers.tracking import handler as handler_module

    handler_module._uploaders.discard(handler.uploader)
    assert len(upload_pending_spools(local_session, spool_dir=spool_dir)) == 1
    assert roots(local_session, "throttled", "r") == ["one"]
    assert not handler.spool.directory.exists()


def test_a_reused_pid_does_not_hide_a_dead_writers_spool(local_dir, spool_dir):
    killed_mid_run(local_dir, spool_dir, "pid-reuse", """
        local_backend(s).add_fault("s3.PutObject", times=None)
        RunnableLambda(lambda x: x).invoke("lost?", config={"callbacks": [handler]})
    """)
    (meta_path,) = spool_dir.glob("*/meta.json")
    meta = json.loads(meta_path.read_text())
    meta["pid"] = 1  # a live process (init) now has the dead writer's PID
    meta_path.write_text(json.dumps(meta))
    session = open_session("local", local_dir=local_dir)
    assert len(upload_pending_spools(session, spool_dir=spool_dir)) == 1  # the free lock says it is dead
    assert roots(session, "pid-reuse") == ["lost?"]


def test_a_failed_re_run_keeps_the_earlier_success_numbers_and_its_own_apart(local_session, spool_dir):
    def calls(n, fail=False):
        llm = FakeListLLM(responses=["ok"])

        def body(x):
            for i in range(n):
                llm.invoke(f"{x}-{i}")
            if fail:
                raise RuntimeError("the provider is down")
            return x
        return RunnableLambda(body)

    with Run(experiment_name="rerun-fail", run_name="r", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        run.log_parameter("provider", "offline")
        calls(3).invoke("good", config={"callbacks": [handler]})
    before = row_of(local_session, "rerun-fail", "r")
    with pytest.raises(RuntimeError), load_run(experiment_name="rerun-fail", run_name="r",
                                                sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        calls(1, fail=True).invoke("bad", config={"callbacks": [handler]})
    after = row_of(local_session, "rerun-fail", "r")
    for column in ("llm_calls - Last", "errors - Last", "llm_latency_ms - Count", "llm_latency_ms_total - Last"):
        assert after[column] == before[column], column
    tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName="rerun-fail-r")
    assert tc["Status"]["PrimaryStatus"] == "Failed" and "earlier execution" in tc["Status"]["Message"]
    spans = load_traces("rerun-fail", sagemaker_session=local_session)
    assert sorted(spans[spans["parent_id"].isna()]["status"]) == ["error", "ok"]
    executions = [json.loads(line) for line in _trace_lines(local_session, "rerun-fail-r")
                  if '"type":"execution"' in line and '"event":"end"' in line]
    assert [e["status"] for e in executions] == ["Completed", "Failed"]
    assert executions[1]["totals"]["errors"] == 1 and executions[1]["totals"]["llm_calls"] == 1  # counted once
    assert executions[1]["numbers_sent_to_run"] is False


def _trace_lines(session, tc_name):
    from helpers.analysis.traces import read_trace_text

    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=tc_name)
    return read_trace_text(session.boto_session.client("s3"), tc).splitlines()


def test_an_old_single_object_trace_still_reads_and_survives_a_re_run(local_session, spool_dir, tmp_path):
    old = tmp_path / "langchain-trace.jsonl"
    old.write_text(json.dumps({"schema_version": 1, "type": "span", "trace_id": "t", "span_id": "old-1",
                               "parent_id": None, "kind": "chain", "name": "old", "inputs": {"input": "old"},
                               "status": "ok", "start_time": "2026-01-01T00:00:00+00:00"}) + "\n")
    with Run(experiment_name="legacy", run_name="r", sagemaker_session=local_session) as run:
        run.log_file(str(old), name="langchain-trace", media_type="application/jsonl")
    assert roots(local_session, "legacy", "r") == ["old"]
    with load_run(experiment_name="legacy", run_name="r", sagemaker_session=local_session) as run:
        RunnableLambda(lambda x: x).invoke("new", config={"callbacks": [SageMakerCallbackHandler(run, spool_dir=spool_dir)]})
    assert roots(local_session, "legacy", "r") == ["new", "old"]
    assert len(load_traces("legacy", sagemaker_session=local_session)) == 2


def test_a_local_crash_spool_is_not_sent_with_an_aws_session(tmp_path, spool_dir, caplog):
    """The notebooks share one spool folder and run names: a local crash's spool must not reach the AWS run."""
    killed_mid_run(tmp_path / "local", spool_dir, "shared-names", """
        local_backend(s).add_fault("s3.PutObject", times=None)
        RunnableLambda(lambda x: x).invoke("local-crash", config={"callbacks": [handler]})
    """)
    aws = open_session("local", local_dir=tmp_path / "aws")  # answered offline, but it looks like AWS:
    del aws._local_sagemaker  # the store identity is then backend=aws, region, account (from STS)
    with Run(experiment_name="shared-names", run_name="killed", sagemaker_session=aws) as run:
        RunnableLambda(lambda x: x).invoke("real-run", config={"callbacks": [SageMakerCallbackHandler(run, spool_dir=spool_dir)]})
    with caplog.at_level(logging.WARNING):
        assert upload_pending_spools(aws, spool_dir=spool_dir) == []
    refusal = next(r.getMessage() for r in caplog.records if "belongs to the store" in r.getMessage())
    assert "backend=local" in refusal and str(tmp_path / "local") in refusal
    assert "backend=aws" in refusal and "account=123456789012" in refusal
    assert roots(aws, "shared-names") == ["real-run"]  # the AWS run untouched
    assert len(list(spool_dir.iterdir())) == 1  # the local spool is kept for its own store
    local = open_session("local", local_dir=tmp_path / "local")
    assert len(upload_pending_spools(local, spool_dir=spool_dir)) == 1
    assert roots(local, "shared-names") == ["local-crash"]
