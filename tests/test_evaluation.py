"""evaluate(): one tracked run, per-row results artifact, aggregates as metrics, bad input up front, resume."""

from __future__ import annotations

import json
import math

import pytest
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from helpers.analysis.traces import read_run_spans
from helpers.evaluation import evaluate, scorers
from helpers.evaluation.evaluator import EvaluationInputError
from helpers.offline_model import OfflineChatModel

ROWS = [{"topic": t, "expected": t} for t in ("fish", "cats", "rain", "chess", "tea", "owls")]


def chain(parameters):
    return ChatPromptTemplate.from_template("Tell me a joke about {topic}.") | OfflineChatModel(
        temperature=parameters.get("temperature", 0.0))


def tc_of(session, experiment, run):
    return session.sagemaker_client.describe_trial_component(TrialComponentName=f"{experiment}-{run}")


def artifact_rows(session, tc):
    bucket, key = tc["OutputArtifacts"]["evaluation-results"]["Value"][5:].split("/", 1)
    body = session.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture(autouse=True)
def eval_spool(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_EVAL_SPOOL_DIR", str(tmp_path / "eval-spool"))
    monkeypatch.setenv("SAGEMAKER_TRACE_SPOOL_DIR", str(tmp_path / "trace-spool"))


def test_one_run_holds_every_row_its_trace_and_the_aggregates(local_session):
    def boom(inputs, output, expected):
        raise RuntimeError("scorer bug")

    result = evaluate(chain, ROWS, [scorers.contains(), "similarity", boom], experiment_name="ev", run_name="r1",
                      sagemaker_session=local_session, parameters={"temperature": 0.0}, progress=False)
    tc = tc_of(local_session, "ev", "r1")
    assert tc["Status"]["PrimaryStatus"] == "Completed"
    rows = artifact_rows(local_session, tc)
    assert sorted(r["row"] for r in rows) == list(range(6))
    assert all(r["scores"]["contains"] == 1.0 and r["scores"]["boom"] is None for r in rows)
    assert all(r["score_errors"]["boom"] == "RuntimeError: scorer bug" for r in rows)
    # every row's trace id is the root span of its call in the run's trace
    spans = read_run_spans(local_session, tc["TrialComponentName"])  # every segment of the trace
    roots = {s["trace_id"] for s in spans if s["parent_id"] is None}
    assert roots == {r["trace_id"] for r in rows}
    metrics = {m["MetricName"]: m["Last"] for m in tc["Metrics"]}
    assert metrics["contains"] == 1.0 and metrics["rows"] == 6 and metrics["scorer_errors"] == 6
    assert metrics["similarity"] == pytest.approx(sum(r["scores"]["similarity"] for r in rows) / 6)
    assert metrics["latency_p95_ms"] >= metrics["latency_p50_ms"] > 0
    assert metrics["input_tokens"] == sum(r["input_tokens"] for r in rows) and metrics["cost_usd"] == 0.0
    assert "boom" not in metrics  # no score at all: no mean
    params = tc["Parameters"]
    assert params["temperature"]["NumberValue"] == 0.0 and params["price_source"]["StringValue"].startswith("genai")
    assert math.isnan(result.table()["score.boom"].iloc[0])


def test_a_failing_row_is_recorded_and_the_others_go_on(local_session):
    def flaky(row):
        if row["topic"] == "rain":
            raise ValueError("no rain today")
        return f"about {row['topic']}"

    evaluate(RunnableLambda(flaky), ROWS, ["contains"], experiment_name="ev", run_name="r2",
             sagemaker_session=local_session, progress=False)
    tc = tc_of(local_session, "ev", "r2")
    rows = {r["topic"] if "topic" in r else r["inputs"]["topic"]: r for r in artifact_rows(local_session, tc)}
    assert rows["rain"]["error"]["type"] == "ValueError" and rows["rain"]["scores"]["contains"] is None
    assert rows["fish"]["scores"]["contains"] == 1.0
    metrics = {m["MetricName"]: m["Last"] for m in tc["Metrics"]}
    assert metrics["row_errors"] == 1 and metrics["contains"] == 1.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"data": [{"topic": "a"}, {"subject": "b"}]}, "Row 1 lacks the field 'topic'"),
    ({"scorers": ["exact_matsch"]}, "No scorer named 'exact_matsch'"),
    ({"run_name": "temp_0.5"}, "not a valid SageMaker run name"),
    ({"prices": {"m": {"input_mtok": "cheap", "output_mtok": 1}}}, "not a number"),
])
def test_bad_input_is_reported_before_any_row_runs(local_session, kwargs, message):
    calls = []
    target = RunnableLambda(lambda row: calls.append(row) or "x")
    args = {"data": ROWS, "scorers": ["contains"], "run_name": "bad", **kwargs}
    if "data" in kwargs:
        target = ChatPromptTemplate.from_template("{topic}") | RunnableLambda(lambda p: calls.append(p) or "x")
    with pytest.raises((EvaluationInputError, ValueError), match=message):
        evaluate(target, args["data"], args["scorers"], experiment_name="ev", run_name=args["run_name"],
                 sagemaker_session=local_session, prices=kwargs.get("prices"), progress=False)
    assert calls == []
    assert local_session.sagemaker_client.search(Resource="ExperimentTrialComponent")["Results"] == []


def test_an_interrupted_evaluation_resumes_without_rerunning_recorded_rows(local_session):
    seen = []

    def target(row):
        seen.append(row["topic"])
        if row["topic"] == "tea" and len(seen) < 10:
            raise KeyboardInterrupt  # the user stops the cell
        return row["topic"]

    with pytest.raises(KeyboardInterrupt):
        evaluate(RunnableLambda(target), ROWS, ["exact_match"], experiment_name="ev", run_name="r3",
                 sagemaker_session=local_session, max_concurrency=1, progress=False)
    tc = tc_of(local_session, "ev", "r3")
    assert tc["Status"]["PrimaryStatus"] == "Failed"
    recorded = {r["row"] for r in artifact_rows(local_session, tc)}
    assert {0, 1, 2, 3} <= recorded and 4 not in recorded  # nothing finished is lost (rows in flight finish)
    seen.clear()
    seen.extend(["x"] * 10)  # the second time, tea works
    result = evaluate(RunnableLambda(target), ROWS, ["exact_match"], experiment_name="ev", run_name="r3",
                      sagemaker_session=local_session, max_concurrency=1, progress=False)
    assert seen[10:] == ["tea"] + ([] if 5 in recorded else ["owls"]) and result.resumed_rows == len(recorded)
    tc = tc_of(local_session, "ev", "r3")
    assert tc["Status"]["PrimaryStatus"] == "Completed"
    assert sorted(r["row"] for r in artifact_rows(local_session, tc)) == list(range(6))
    assert {m["MetricName"]: m["Last"] for m in tc["Metrics"]}["rows"] == 6


def test_resume_works_from_the_run_artifact_when_the_local_spool_is_gone(local_session, tmp_path, monkeypatch):
    evaluate(chain, ROWS[:3], ["contains"], experiment_name="ev", run_name="r4", sagemaker_session=local_session,
             progress=False)
    monkeypatch.setenv("SAGEMAKER_EVAL_SPOOL_DIR", str(tmp_path / "another-machine"))
    result = evaluate(chain, ROWS, ["contains"], experiment_name="ev", run_name="r4",
                      sagemaker_session=local_session, progress=False)
    assert result.resumed_rows == 3 and len(result.table()) == 6


@pytest.mark.drills
def test_memory_stays_flat_over_many_rows(local_session, tmp_path, monkeypatch):
    """The evaluation holds no row and no result; what it keeps per row is a hash and a latency."""
    import tracemalloc

    from helpers.evaluation.results import ResultsSpool

    peaks = []
    upload = ResultsSpool.upload
    monkeypatch.setattr(ResultsSpool, "upload", lambda self: (peaks.append(tracemalloc.get_traced_memory()[1]),
                                                              upload(self)))

    def peak_for(rows: int) -> int:
        path = tmp_path / f"rows-{rows}.jsonl"
        with open(path, "w") as handle:
            for i in range(rows):
                handle.write(json.dumps({"q": f"question {i} " + "x" * 200, "expected": str(i)}) + "\n")
        tracemalloc.start()
        # the handler's background trace uploads are its own business (bench/ measures them): paused here
        evaluate(RunnableLambda(lambda row: row["q"].split()[1]), path, ["exact_match"], experiment_name="ev",
                 run_name=f"rows-{rows}", sagemaker_session=local_session, max_concurrency=4, progress=False,
                 handler_options={"upload_interval_s": 3600})
        tracemalloc.stop()
        return peaks[-1]  # the peak before the results file is uploaded (in 8 MB parts when large)

    peak_for(200)  # imports and botocore's service models load once
    small, large = peak_for(1_000), peak_for(6_000)
    # 5,000 more rows are 1.1 MB more input text and 3 MB more results: neither may be held in memory
    # 5,000 more rows may cost only what resume keeps per row (one hash, ~60 bytes, plus set overhead):
    # 1.25 MB is 250 bytes a row, far below a row's results (which stay on disk, not in memory)
    assert large - small < 1250 * 2**10, (small, large)
