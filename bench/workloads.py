"""The chains and runs the benchmarks time: the scenario-2 chain and an N-call chain, on instant fake models."""

from __future__ import annotations

import json
import time
import warnings

from langchain_core.language_models.fake import FakeListLLM
from langchain_core.runnables import RunnableLambda

from helpers.experiments import Run

warnings.filterwarnings("ignore")

SYNOPSIS = "You are a playwright. Given the title of play, write a synopsis.\nTitle: {title}\nSynopsis:"
REVIEW = "You are a play critic. Review this play.\nPlay Synopsis: {synopsis}\nReview:"


def scenario_2_chain():
    """The seed's SimpleSequentialChain of two LLMChains (the form the seed's handler can track)."""
    from langchain_classic.chains import LLMChain, SimpleSequentialChain
    from langchain_core.prompts import PromptTemplate

    llm = FakeListLLM(responses=["a synopsis", "a review"])
    return SimpleSequentialChain(chains=[
        LLMChain(llm=llm, prompt=PromptTemplate.from_template(SYNOPSIS)),
        LLMChain(llm=llm, prompt=PromptTemplate.from_template(REVIEW)),
    ])


def llm_calls_chain(calls: int):
    """One top-level call making `calls` LLM calls (2 events each: start and end)."""
    llm = FakeListLLM(responses=["ok"])
    return RunnableLambda(lambda x: [llm.invoke(f"step {i}") for i in range(calls)], name="calls")


def noop_tracer():
    """langchain_core's BaseTracer keeping its run tree and writing nothing: the floor for any tracer."""
    from langchain_core.tracers.base import BaseTracer

    class NoopTracer(BaseTracer):
        def _persist_run(self, run) -> None:
            pass

    return NoopTracer()


def seed_handler(run):
    import logging

    from langchain_community.callbacks.sagemaker_callback import (
        SageMakerCallbackHandler as SeedHandler,
    )

    logging.getLogger("langchain_core.callbacks.manager").setLevel(logging.CRITICAL)
    return SeedHandler(run)


def our_handler(run, spool_dir):
    from helpers.tracking import SageMakerCallbackHandler

    return SageMakerCallbackHandler(run, spool_dir=spool_dir)


def open_run(session, experiment: str, name: str):
    """A Run to use in `with`: the SDK logs files only inside it, one entered Run at a time."""
    return Run(experiment_name=experiment, run_name=name, sagemaker_session=session)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def make_traced_runs(session, experiment: str, runs: int, spans: int) -> None:
    """Runs with a trace artifact each, written through the SageMaker API directly (no Run overhead)."""
    sm = session.sagemaker_client
    s3 = session.boto_session.client("s3")
    bucket = session.default_bucket()
    sm.create_experiment(ExperimentName=experiment)
    sm.create_trial(TrialName=f"{experiment}-trial", ExperimentName=experiment)
    body = "\n".join(json.dumps({
        "schema_version": 1, "type": "span", "trace_id": "t", "span_id": f"s{i}", "parent_id": None if i == 0 else "s0",
        "kind": "llm", "name": "llm", "start_time": "2026-01-01T00:00:00+00:00", "latency_ms": 1.0, "status": "ok",
        "input_text": "prompt " * 20, "output_text": "answer " * 20,
    }) for i in range(spans)).encode()
    for r in range(runs):
        name = f"{experiment}-run-{r}"
        key = f"trial-component-artifacts/{name}/langchain-trace.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        sm.create_trial_component(TrialComponentName=name, OutputArtifacts={
            "langchain-trace": {"Value": f"s3://{bucket}/{key}", "MediaType": "application/jsonl"}})
        sm.associate_trial_component(TrialComponentName=name, TrialName=f"{experiment}-trial")
