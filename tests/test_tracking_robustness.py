"""Tracking under bad input, crashes and volume: never raises, loses nothing, stays bounded."""

from __future__ import annotations

import json
import math
import signal
import textwrap

import pytest
from conftest import run_python
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from helpers.analysis.traces import read_run_spans
from helpers.experiments import Run, open_session
from helpers.tracking import SageMakerCallbackHandler, upload_pending_spools
from helpers.tracking.redact import Redactor
from helpers.tracking.serialize import to_jsonable

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_value_serializes_to_strict_json(value):
    out = Redactor()(to_jsonable(value, max_chars=50))
    json.dumps(out, allow_nan=False)


def test_awkward_objects_serialize():
    import numpy as np

    cycle: dict = {}
    cycle["self"] = cycle
    value = {
        "doc": Document(page_content="hello", metadata={"source": "x"}),
        "nan": math.nan, "inf": -math.inf, "np": np.float32(1.5), "arr": np.arange(3),
        "bytes": b"\x00\x01", "cycle": cycle, "big": "y" * 10_000_000, "set": {1},
    }
    out = to_jsonable(value, max_chars=1000)
    assert out["doc"]["page_content"] == "hello"
    assert out["nan"] == "nan" and out["inf"] == "-inf" and out["np"] == 1.5 and out["arr"] == [0, 1, 2]
    assert out["cycle"]["self"].startswith("<cycle")
    assert out["big"].endswith("[truncated 9999000 chars]") and len(out["big"]) < 1100
    json.dumps(out, allow_nan=False)


def _trace(session, run_name, experiment):
    return read_run_spans(session, f"{experiment}-{run_name}")  # every segment of the trace


@pytest.mark.drills
@settings(max_examples=25, deadline=None)
@given(payload=json_values)
def test_fuzzed_payloads_through_a_tracked_chain(tmp_path_factory, payload):
    base = tmp_path_factory.mktemp("fuzz")
    session = open_session("local", local_dir=base / "local")
    with Run(experiment_name="fuzz", run_name="payload", sagemaker_session=session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=base / "spool", max_field_chars=200)
        RunnableLambda(lambda x: x).invoke({"payload": payload}, config={"callbacks": [handler]})
    spans = _trace(session, "payload", "fuzz")
    assert len(spans) == 1 and spans[0]["status"] == "ok"


@pytest.mark.drills
def test_ten_thousand_events_all_reach_the_artifact(local_session, spool_dir):
    step = RunnableLambda(lambda x: x + 1)

    def many(x):
        for _ in range(9_999):
            x = step.invoke(x)
        return x

    with Run(experiment_name="volume", run_name="ten-k", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        assert RunnableLambda(many).invoke(0, config={"callbacks": [handler]}) == 9_999
    spans = _trace(local_session, "ten-k", "volume")
    assert len(spans) == 10_000
    assert sorted(s["outputs"]["output"] for s in spans if s["parent_id"] is not None) == list(range(1, 10_000))


def killed_mid_run(local_dir, spool_dir, experiment: str, steps: str) -> None:
    """Runs `steps` in a new process holding `handler` inside an entered Run, then SIGKILLs it."""
    code = textwrap.dedent(f"""
        import os, signal
        from langchain_core.language_models.fake import FakeListLLM
        from langchain_core.runnables import RunnableLambda
        from helpers.experiments import open_session, Run, local_backend
        from helpers.tracking import SageMakerCallbackHandler
        s = open_session("local", local_dir={str(local_dir)!r})
        run = Run(experiment_name={experiment!r}, run_name="killed", sagemaker_session=s).__enter__()
        handler = SageMakerCallbackHandler(run, spool_dir={str(spool_dir)!r})
        llm = FakeListLLM(responses=["ok"])
    """) + textwrap.dedent(steps) + "os.kill(os.getpid(), signal.SIGKILL)  # the Run never closes\n"
    proc = run_python(code, env={"SAGEMAKER_TRACKING_STRICT": "0", "PYTEST_CURRENT_TEST": ""})
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def metrics_of(session, experiment: str):
    from helpers.experiments import ExperimentAnalytics

    return ExperimentAnalytics(experiment_name=experiment, sagemaker_session=session).dataframe().iloc[0]


@pytest.mark.drills
def test_a_killed_process_leaves_a_spool_that_uploads_later(local_dir, spool_dir):
    """2 calls reach S3, 3 more only the spool, then SIGKILL: recovery sends the trace and the missing metrics."""
    killed_mid_run(local_dir, spool_dir, "crash", """
        call = RunnableLambda(lambda x: llm.invoke(str(x)) and x * 10)
        for i in range(2):
            call.invoke(i, config={"callbacks": [handler]})
        handler.wait_for_uploads()
        local_backend(s).add_fault("s3.PutObject", times=None)
        for i in range(2, 5):
            call.invoke(i, config={"callbacks": [handler]})
        handler.wait_for_uploads()
    """)
    session = open_session("local", local_dir=local_dir)
    assert len(upload_pending_spools(session, spool_dir=spool_dir)) == 1
    spans = _trace(session, "killed", "crash")
    assert [s["outputs"]["output"] for s in spans if s["parent_id"] is None] == [0, 10, 20, 30, 40]
    row = metrics_of(session, "crash")
    latencies = [s["latency_ms"] for s in spans if s["kind"] == "llm"]
    assert row["llm_calls - Last"] == 5  # none lost, none twice: the exact sum of the 5 latencies
    assert row["llm_latency_ms_total - Last"] == pytest.approx(sum(latencies))
    assert upload_pending_spools(session, spool_dir=spool_dir) == []  # nothing left to do


@pytest.mark.drills
def test_a_process_killed_after_its_last_upload_left_a_complete_run(local_dir, spool_dir):
    killed_mid_run(local_dir, spool_dir, "crash-late", """
        chain = RunnableLambda(lambda x: [llm.invoke(str(i)) for i in range(6)] and x)
        for i in range(2):
            chain.invoke(i, config={"callbacks": [handler]})
        assert handler.wait_for_uploads(timeout=60)
    """)
    session = open_session("local", local_dir=local_dir)
    assert upload_pending_spools(session, spool_dir=spool_dir) == []  # nothing was left behind
    roots = [s for s in _trace(session, "killed", "crash-late") if s["parent_id"] is None]
    assert [r["inputs"]["input"] for r in roots] == [0, 1]  # the trace is linked to the run
    row = metrics_of(session, "crash-late")
    assert row["llm_calls - Last"] == 12 and row["llm_latency_ms_total - Last"] > 0


def test_unicode_line_breaks_stay_inside_one_line(local_session, spool_dir):
    with Run(experiment_name="lines", run_name="nel", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        RunnableLambda(lambda x: x).invoke({"\x85": "a\u2028b\u2029c"}, config={"callbacks": [handler]})
    spans = _trace(local_session, "nel", "lines")
    assert len(spans) == 1 and spans[0]["inputs"] == {"\x85": "a\u2028b\u2029c"}


def test_lone_surrogates_are_kept_not_dropped(local_session, spool_dir):
    with Run(experiment_name="lines", run_name="surrogate", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        RunnableLambda(lambda x: x).invoke({"text": "bad \ud800 decode"}, config={"callbacks": [handler]})
    spans = _trace(local_session, "surrogate", "lines")
    assert len(spans) == 1 and spans[0]["inputs"] == {"text": "bad \ud800 decode"}
