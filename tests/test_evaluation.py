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
    """Every row the run's results artifact holds: each segment under its prefix, read in key order."""
    uri = tc["OutputArtifacts"]["evaluation-results"]["Value"]
    assert uri.endswith("/"), uri  # a prefix of segments
    bucket, prefix = uri[5:].split("/", 1)
    s3 = session.boto_session.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))
    rows = []
    for key in keys:
        rows += [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()]
    return rows


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


def test_a_spool_of_another_local_store_is_not_taken_for_this_runs_rows(local_session, tmp_path):
    """Two stand-in folders share the default bucket's name: the same experiment and run in the second store
    runs every row and holds them all (a spool of the first is another store's, not a resume)."""
    from helpers.experiments import open_session

    evaluate(chain, ROWS, ["contains"], experiment_name="ev", run_name="same", sagemaker_session=local_session,
             progress=False)
    other = open_session("local", local_dir=tmp_path / "another-store")
    result = evaluate(chain, ROWS, ["contains"], experiment_name="ev", run_name="same", sagemaker_session=other,
                      progress=False)
    assert result.resumed_rows == 0 and len(result.table()) == len(ROWS)
    rows = artifact_rows(other, tc_of(other, "ev", "same"))
    assert sorted(r["inputs"]["topic"] for r in rows if r.get("type") == "evaluation_row") == sorted(
        r["topic"] for r in ROWS)


@pytest.mark.drills
def test_memory_stays_flat_over_many_rows(local_session, tmp_path, monkeypatch):
    """The evaluation holds no row and no result; what it keeps per row is a hash and a latency."""
    import tracemalloc

    from helpers.evaluation.results import ResultsSpool

    peaks = []
    upload = ResultsSpool._upload

    def measured_upload(self):
        """The peak since the last upload; an upload itself reads at most one segment (SEGMENT_BYTES)."""
        peaks.append(tracemalloc.get_traced_memory()[1])
        upload(self)
        tracemalloc.reset_peak()

    monkeypatch.setattr(ResultsSpool, "_upload", measured_upload)  # every upload, periodic and final

    def peak_for(rows: int) -> int:
        path = tmp_path / f"rows-{rows}.jsonl"
        with open(path, "w") as handle:
            for i in range(rows):
                handle.write(json.dumps({"q": f"question {i} " + "x" * 200, "expected": str(i)}) + "\n")
        peaks.clear()
        tracemalloc.start()
        # the handler's background trace uploads are its own business (bench/ measures them): paused here
        evaluate(RunnableLambda(lambda row: row["q"].split()[1]), path, ["exact_match"], experiment_name="ev",
                 run_name=f"rows-{rows}", sagemaker_session=local_session, max_concurrency=4, progress=False,
                 handler_options={"upload_interval_s": 3600})
        tracemalloc.stop()
        return max(peaks)  # the peak between uploads (segments of at most 8 MB)

    peak_for(200)  # imports and botocore's service models load once
    small, large = peak_for(1_000), peak_for(6_000)
    # 5,000 more rows are 1.1 MB more input text and 3 MB more results: neither may be held in memory
    # 5,000 more rows may cost only what resume keeps per row (one hash, ~60 bytes, plus set overhead):
    # 1.25 MB is 250 bytes a row, far below a row's results (which stay on disk, not in memory)
    assert large - small < 1250 * 2**10, (small, large)


def result_segments(session, experiment, run):
    uri = tc_of(session, experiment, run)["OutputArtifacts"]["evaluation-results"]["Value"]
    bucket, prefix = uri[5:].split("/", 1)
    listed = session.boto_session.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"][len(prefix):] for o in listed)


def test_two_executions_of_one_run_write_their_own_segments_and_lose_no_row(local_session, tmp_path, monkeypatch):
    from helpers.analysis import load_results
    from helpers.evaluation.results import ResultsSpool

    calls = []

    def target(row):
        calls.append(row["topic"])
        if row["topic"] == "tea" and calls.count("tea") == 1:
            raise KeyboardInterrupt  # the first execution stops at row 4
        return row["topic"]

    # the first execution dies before any upload: its rows are only in its local spool
    monkeypatch.setattr(ResultsSpool, "_upload", lambda self: None)
    with pytest.raises(KeyboardInterrupt):
        evaluate(RunnableLambda(target), ROWS, ["exact_match"], experiment_name="ev", run_name="seg",
                 sagemaker_session=local_session, max_concurrency=1, progress=False)
    first = len(calls)  # fish, cats, rain, chess, tea (and owls, if it had started: its result is not kept)
    monkeypatch.undo()
    monkeypatch.setenv("SAGEMAKER_EVAL_SPOOL_DIR", str(tmp_path / "eval-spool"))
    monkeypatch.setenv("SAGEMAKER_TRACE_SPOOL_DIR", str(tmp_path / "trace-spool"))
    # the same machine resumes: it sends the first execution's rows and runs only the rest
    result = evaluate(RunnableLambda(target), ROWS[:5], ["exact_match"], experiment_name="ev", run_name="seg",
                      sagemaker_session=local_session, max_concurrency=1, progress=False)
    assert result.resumed_rows == 4 and calls[:5] == ["fish", "cats", "rain", "chess", "tea"] and calls[first:] == ["tea"]
    # another machine (no local spool) adds the last row as a writer of its own
    monkeypatch.setenv("SAGEMAKER_EVAL_SPOOL_DIR", str(tmp_path / "another-machine"))
    result = evaluate(RunnableLambda(target), ROWS, ["exact_match"], experiment_name="ev", run_name="seg",
                      sagemaker_session=local_session, max_concurrency=1, progress=False)
    assert result.resumed_rows == 5 and calls[first + 1:] == ["owls"]
    segments = result_segments(local_session, "ev", "seg")
    assert len({s.split("/")[0] for s in segments}) == 2, segments  # two writers, immutable segments each
    rows = artifact_rows(local_session, tc_of(local_session, "ev", "seg"))
    assert sorted(r["row"] for r in rows) == list(range(6))  # every row once, none lost, none twice
    assert list(result.table()["row"]) == list(range(6)) and result.table()["score.exact_match"].eq(1.0).all()
    assert len(load_results("ev", local_session)["seg"][1]) == 6
    assert {m["MetricName"]: m["Last"] for m in tc_of(local_session, "ev", "seg")["Metrics"]}["rows"] == 6


def test_a_run_with_one_results_object_from_before_segments_still_reads_and_resumes(local_session, tmp_path):
    from helpers.analysis import load_results
    from helpers.evaluation.evaluator import row_key
    from helpers.experiments import Run

    old = tmp_path / "old.jsonl"
    with open(old, "w") as handle:
        for i, row in enumerate(ROWS[:3]):
            handle.write(json.dumps({"schema_version": 1, "type": "evaluation_row", "row": i, "row_key": row_key(row),
                                     "inputs": {"topic": row["topic"]}, "output": row["topic"],
                                     "scores": {"exact_match": 1.0}, "latency_ms": 1.0, "error": None}) + "\n")
    with Run(experiment_name="ev", run_name="old", sagemaker_session=local_session) as run:
        run.log_file(str(old), name="evaluation-results", media_type="application/jsonl")
    assert len(load_results("ev", local_session)["old"][1]) == 3  # the single object reads
    calls = []
    result = evaluate(RunnableLambda(lambda row: calls.append(row) or row["topic"]), ROWS, ["exact_match"],
                      experiment_name="ev", run_name="old", sagemaker_session=local_session, progress=False)
    assert result.resumed_rows == 3 and sorted(c["topic"] for c in calls) == ["chess", "owls", "tea"]
    artifacts = tc_of(local_session, "ev", "old")["OutputArtifacts"]
    assert artifacts["evaluation-results"]["Value"].endswith("/")
    assert artifacts["evaluation-results-earlier"]["Value"].endswith(".jsonl")  # still linked, read first
    assert list(result.table()["row"]) == list(range(6)) and len(load_results("ev", local_session)["old"][1]) == 6


def test_an_llm_judge_is_tracked_in_the_run_pointing_at_each_row(local_session):
    from helpers.evaluation.cost import register_prices

    class PricedJudge(OfflineChatModel):
        """The offline judge under a provider and price of its own, so judging has a cost to count."""

        def _get_ls_params(self, stop=None, **kwargs):
            return {**super()._get_ls_params(stop=stop, **kwargs), "ls_provider": "test-provider"}

    register_prices({"priced-judge": {"input_mtok": 1.0, "output_mtok": 2.0}})
    judge_model = PricedJudge(model_name="priced-judge")
    judge = scorers.llm_judge("The joke is about the topic.", model=judge_model)
    result = evaluate(lambda p: RunnableLambda(lambda row: f"A joke about {row['topic']}"), ROWS[:3], [judge],
                      experiment_name="ev", run_name="judged", sagemaker_session=local_session, progress=False)
    tc = tc_of(local_session, "ev", "judged")
    rows = artifact_rows(local_session, tc)
    spans = read_run_spans(local_session, tc["TrialComponentName"])
    model_spans = [s for s in spans if s["kind"] in ("llm", "chat_model")]
    assert len(model_spans) == 3  # one judge call a row; the target made none
    by_row = {r["trace_id"]: r for r in rows}
    assert sorted(s["metadata"]["evaluation_trace_id"] for s in model_spans) == sorted(by_row)  # one a row
    for span in model_spans:
        assert "evaluation-scorer" in span["tags"] and span["name"] == "llm_judge"
        assert span["metadata"]["evaluation_row"] == by_row[span["metadata"]["evaluation_trace_id"]]["row"]
        assert span["usage"]["total_tokens"] > 0 and span["cost_usd"] > 0
    judged_tokens = sum(r["scoring_total_tokens"] for r in rows)
    assert judged_tokens > 0 and all(r["total_tokens"] == 0 and r["scoring_cost_usd"] > 0 for r in rows)
    metrics = {m["MetricName"]: m["Last"] for m in tc["Metrics"]}
    assert metrics["total_tokens"] == judged_tokens  # the run's totals include judging
    assert metrics["cost_usd"] == pytest.approx(sum(r["scoring_cost_usd"] for r in rows)) and metrics["cost_usd"] > 0
    assert result.metrics["llm_judge"] == pytest.approx(sum(r["scores"]["llm_judge"] for r in rows) / 3)
