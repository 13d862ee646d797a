"""Uploads against the real SDK Run and the stand-in: off the caller's path, coalesced, bounded, complete at exit."""

from __future__ import annotations

import textwrap
import time

import pytest
from conftest import run_python
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda

from helpers.analysis.traces import read_run_spans
from helpers.experiments import ExperimentAnalytics, Run, local_backend
from helpers.tracking import SageMakerCallbackHandler

EXPERIMENT = "uploads-exp"


def read_trace(session, run_name, experiment=EXPERIMENT) -> list[dict]:
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=f"{experiment}-{run_name}")
    assert list(tc["OutputArtifacts"]) == ["langchain-trace"], "exactly one artifact per run"
    return read_run_spans(session, f"{experiment}-{run_name}")  # every segment of the trace


def joke_chain(llm):
    return PromptTemplate.from_template("tell me a joke about {topic}") | llm | StrOutputParser()


def test_later_calls_do_not_wait_for_s3_and_the_run_exit_brings_everything_in(local_session, spool_dir):
    backend = local_backend(local_session)
    chain = joke_chain(FakeListLLM(responses=["a joke"]))
    with Run(experiment_name=EXPERIMENT, run_name="slow-s3", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        chain.invoke({"topic": "fish"}, config={"callbacks": [handler]})  # the first upload, on this thread
        backend.latency_s = 0.3
        started = time.perf_counter()
        for topic in ("cats", "dogs", "owls"):
            chain.invoke({"topic": topic}, config={"callbacks": [handler]})
        felt = time.perf_counter() - started
        # no flush_tracker(): leaving the `with` block must be enough
    backend.latency_s = 0.0
    assert felt < 0.3, f"the caller waited {felt:.2f} s for S3"
    roots = [s for s in read_trace(local_session, "slow-s3") if s["parent_id"] is None]
    assert [r["inputs"]["topic"] for r in roots] == ["fish", "cats", "dogs", "owls"]
    row = ExperimentAnalytics(experiment_name=EXPERIMENT, sagemaker_session=local_session).dataframe().iloc[0]
    assert row["llm_calls - Last"] == 4 and 1 <= row["llm_latency_ms - Count"] <= 4  # one value per upload


def test_calls_during_an_upload_coalesce_into_one_more(local_session, spool_dir):
    backend = local_backend(local_session)
    chain = RunnableLambda(lambda x: x + 1)
    with Run(experiment_name=EXPERIMENT, run_name="coalesce", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        chain.invoke(0, config={"callbacks": [handler]})
        backend.reset_counts()
        backend.latency_s = 0.2
        for n in range(1, 21):
            chain.invoke(n, config={"callbacks": [handler]})
        assert handler.wait_for_uploads(timeout=60)
        backend.latency_s = 0.0
        puts = backend.request_counts["s3.PutObject"]
    assert 1 <= puts <= 3, dict(backend.request_counts)  # 20 calls, but at most one upload in flight
    assert [s["inputs"]["input"] for s in read_trace(local_session, "coalesce")] == list(range(21))


@pytest.mark.parametrize("llm_calls", [1, 14, 50])
def test_requests_per_top_level_call_one_trace_put_and_metrics_ten_values_a_request(local_session, spool_dir, llm_calls):
    llm = FakeListLLM(responses=["ok"])
    chain = RunnableLambda(lambda x: [llm.invoke(f"step {i}") for i in range(llm_calls)])
    backend = local_backend(local_session)
    with Run(experiment_name=EXPERIMENT, run_name=f"requests-{llm_calls}", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        chain.invoke("warm", config={"callbacks": [handler]})
        assert handler.wait_for_uploads(timeout=60)
        backend.reset_counts()
        chain.invoke("go", config={"callbacks": [handler]})
        assert handler.wait_for_uploads(timeout=60)
        counts = dict(backend.request_counts)
    # One new segment; the totals that changed (llm_calls and llm_latency_ms_total: FakeListLLM reports
    # no tokens) and one latency summary value, whatever the number of LLM calls: one request.
    assert counts == {"s3.PutObject": 1, "sagemaker-metrics.BatchPutMetrics": 1}, counts
    assert len(read_trace(local_session, f"requests-{llm_calls}")) == 2 * (llm_calls + 1)


@pytest.mark.parametrize("form", ["classic", "lcel"])
def test_scenario_one_single_llm_as_in_the_seed(local_session, spool_dir, form):
    from helpers.offline_model import OfflineLLM

    hparams = {"temperature": 0.1, "model_name": "gpt-3.5-turbo-instruct"}
    with Run(experiment_name=EXPERIMENT, run_name=f"scenario-1-{form}", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        llm = OfflineLLM(callbacks=[handler], **hparams)
        prompt = PromptTemplate.from_template("tell me a joke about {topic}")
        if form == "classic":
            LLMChain = pytest.importorskip("langchain_classic.chains").LLMChain  # not in the SDK v2 venv
            answer = LLMChain(llm=llm, prompt=prompt, callbacks=[handler]).run(topic="fish")
        else:
            answer = (prompt | llm).invoke({"topic": "fish"}, config={"callbacks": [handler]})
        handler.flush_tracker()  # as the seed's notebook does
    spans = read_trace(local_session, f"scenario-1-{form}")
    (llm_span,) = [s for s in spans if s["kind"] == "llm"]
    assert llm_span["input_text"] == "tell me a joke about fish" and llm_span["output_text"] == answer
    assert llm_span["invocation_params"]["model_name"] == "gpt-3.5-turbo-instruct"
    assert llm_span["attributes"]["gen_ai.request.temperature"] == 0.1
    row = ExperimentAnalytics(experiment_name=EXPERIMENT, sagemaker_session=local_session).dataframe().iloc[0]
    assert row["model_name"] == "gpt-3.5-turbo-instruct" and row["temperature"] == 0.1
    assert row["llm_calls - Last"] == 1 and row["output_tokens - Last"] == llm_span["usage"]["output_tokens"] > 0


def test_exit_finishes_an_upload_for_a_call_after_the_run_closed(local_dir, spool_dir):
    """atexit: a call that ends after `with Run` still reaches S3 before the interpreter goes."""
    code = textwrap.dedent(f"""
        from langchain_core.runnables import RunnableLambda
        from helpers.experiments import open_session, Run, local_backend
        from helpers.tracking import SageMakerCallbackHandler
        s = open_session("local", local_dir={str(local_dir)!r})
        with Run(experiment_name="exit", run_name="late", sagemaker_session=s) as run:
            handler = SageMakerCallbackHandler(run, spool_dir={str(spool_dir)!r})
            RunnableLambda(lambda x: x).invoke("inside", config={{"callbacks": [handler]}})
        local_backend(s).latency_s = 0.3  # the upload is still in flight when the script ends
        RunnableLambda(lambda x: x).invoke("after", config={{"callbacks": [handler]}})
    """)
    proc = run_python(code, env={"SAGEMAKER_TRACKING_STRICT": "0"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    from helpers.experiments import open_session

    session = open_session("local", local_dir=local_dir)
    assert [s["inputs"]["input"] for s in read_trace(session, "late", "exit")] == ["inside", "after"]
    assert not list(spool_dir.glob("*/langchain-trace.jsonl")), "a fully uploaded spool is removed at exit"


def test_two_handlers_on_one_run_share_the_trace_and_a_dropped_handler_still_lands(local_session, spool_dir):
    import gc

    backend = local_backend(local_session)
    with Run(experiment_name=EXPERIMENT, run_name="two-handlers", sagemaker_session=local_session) as run:
        first = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        RunnableLambda(lambda x: x).invoke("first", config={"callbacks": [first]})
        backend.latency_s = 0.2  # the next upload is still in flight when the block ends
        RunnableLambda(lambda x: x).invoke("second", config={"callbacks": [SageMakerCallbackHandler(run)]})
        gc.collect()  # the inline handler is gone; its upload must not be
    backend.latency_s = 0.0
    assert [s["inputs"]["input"] for s in read_trace(local_session, "two-handlers")] == ["first", "second"]
