"""Failure drills: S3 faults during tracked calls, and 64 concurrent top-level calls (`pytest -m drills`)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

from helpers.analysis.traces import read_run_spans
from helpers.experiments import Run, local_backend
from helpers.tracking import SageMakerCallbackHandler

pytestmark = pytest.mark.drills


def read_trace(session, experiment, run_name):
    return read_run_spans(session, f"{experiment}-{run_name}")  # every segment of the trace


def chain():
    return PromptTemplate.from_template("{n}") | FakeListLLM(responses=["x"]) | StrOutputParser()


@pytest.mark.parametrize("fault", [
    {"code": "SlowDown", "status": 503}, {"code": "InternalError", "status": 500}, {"timeout": True},
], ids=["throttling", "server-error", "timeout"])
def test_intermittent_s3_faults_lose_nothing(local_session, spool_dir, fault, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    backend = local_backend(local_session)
    with Run(experiment_name="drills", run_name="flaky", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        for n in range(20):
            if n % 3 == 1:  # one failed attempt, which botocore's retries absorb
                backend.add_fault("s3.PutObject", times=1, **fault)
            chain().invoke({"n": n}, config={"callbacks": [handler]})
    spans = read_trace(local_session, "drills", "flaky")
    roots = [s for s in spans if s["parent_id"] is None]
    assert sorted(s["inputs"]["n"] for s in roots) == list(range(20))


def test_permanent_s3_failure_keeps_the_spool_and_names_it(local_session, spool_dir, monkeypatch, caplog):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    backend = local_backend(local_session)
    with Run(experiment_name="drills", run_name="down", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        chain().invoke({"n": 0}, config={"callbacks": [handler]})  # registered while S3 was up
        backend.add_fault("s3.PutObject", code="ServiceUnavailable", status=503, times=None)
        with caplog.at_level(logging.WARNING):
            results = [chain().invoke({"n": n}, config={"callbacks": [handler]}) for n in range(1, 6)]
            handler.wait_for_uploads(timeout=60)  # uploads after the first run on a background worker
        assert results == ["x"] * 5
        assert str(handler.spool_path) in caplog.text and handler.spool_path.exists()
        assert handler.spool_path.read_text().count('"type":"span"') == 6 * 4  # (plus its execution record)
        backend.clear_faults()
        handler.flush_tracker()
    assert len([s for s in read_trace(local_session, "drills", "down") if s["parent_id"] is None]) == 6


def test_sixty_four_concurrent_top_level_calls(local_session, spool_dir):
    with Run(experiment_name="drills", run_name="sixty-four", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        with ThreadPoolExecutor(max_workers=64) as pool:
            outputs = list(pool.map(lambda n: chain().invoke({"n": n}, config={"callbacks": [handler]}), range(64)))
        handler.flush_tracker()
    assert outputs == ["x"] * 64
    spans = read_trace(local_session, "drills", "sixty-four")
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_id"] is None]
    assert len(spans) == 64 * 4 and sorted(r["inputs"]["n"] for r in roots) == list(range(64))
    for span in spans:
        assert span["parent_id"] is None or span["parent_id"] in ids
        root = next(r for r in roots if r["span_id"] == span["trace_id"])
        if span["kind"] == "prompt":
            assert span["input_text"] == str(root["inputs"]["n"])
