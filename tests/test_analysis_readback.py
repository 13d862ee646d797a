"""helpers.analysis against the stand-in: tidy runs, spans across runs, per-run status for bad traces."""

from __future__ import annotations

import json

import matplotlib
import pytest

matplotlib.use("Agg")

from helpers.analysis import load_runs, load_traces, plot_runs, trace_html  # noqa: E402
from helpers.experiments import Run  # noqa: E402

EXPERIMENT = "ReadBack-Exp"  # mixed case: Run lower-cases it, ExperimentAnalytics does not


def span(i, parent=None, kind="chain", **extra):
    return {"schema_version": 1, "type": "span", "trace_id": "t0", "span_id": f"s{i}", "parent_id": parent,
            "kind": kind, "name": f"step-{i}", "start_time": f"2026-01-01T00:00:0{i}+00:00",
            "end_time": f"2026-01-01T00:00:0{i}+00:00", "latency_ms": 10.0 * (i + 1), "status": "ok",
            "input_text": f"<in {i}>", "output_text": f"out {i}", **extra}


def log_run(session, tmp_path, name, lines, temperature):
    with Run(experiment_name=EXPERIMENT, run_name=name, sagemaker_session=session) as run:
        run.log_parameters({"temperature": temperature, "model_name": "m"})
        run.log_metric("total_tokens", 10 * temperature)
        if lines is not None:
            path = tmp_path / name / "langchain-trace.jsonl"
            path.parent.mkdir()
            path.write_text("\n".join(lines) + "\n")
            run.log_file(str(path), name="langchain-trace")


def test_runs_and_spans_with_bad_input_reported_per_run(local_session, tmp_path, caplog):
    good = [json.dumps(span(0)), json.dumps(span(1, "s0", kind="llm", usage={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}))]
    log_run(local_session, tmp_path, "good", good, 0.1)
    log_run(local_session, tmp_path, "damaged", [json.dumps(span(0)), '{"truncated": ', json.dumps({"type": "other"})], 0.5)
    log_run(local_session, tmp_path, "no-trace", None, 0.9)

    runs = load_runs(EXPERIMENT, sagemaker_session=local_session)
    assert sorted(runs["run_name"]) == ["damaged", "good", "no-trace"]
    assert {"temperature", "total_tokens", "total_tokens_max", "trace_uri"} <= set(runs.columns)

    with caplog.at_level("WARNING"):
        spans, run_status = load_traces(EXPERIMENT, sagemaker_session=local_session, with_status=True)
    status = dict(run_status[["run_name", "trace_status"]].values)
    assert status == {"good": "ok", "damaged": "skipped_lines (2)", "no-trace": "no_trace"}
    assert "damaged" in caplog.text
    good_spans = spans[spans["run_name"] == "good"]
    assert good_spans["parent_id"].isna().tolist() == [True, False] and good_spans["parent_id"].iloc[1] == "s0" and good_spans["total_tokens"].iloc[1] == 7
    assert len(spans[spans["run_name"] == "damaged"]) == 1

    sequential = load_traces(EXPERIMENT, run_names=["good"], sagemaker_session=local_session, max_workers=1)
    assert list(sequential["span_id"]) == ["s0", "s1"]

    html = trace_html(spans, "good")
    assert html.index("step-0") < html.index("step-1") and "&lt;in 1&gt;" in html and "<in 1>" not in html

    fig = plot_runs(runs, metrics=("total_tokens",), by="temperature")
    widths = [bar.get_width() for bar in fig.axes[0].patches]
    assert widths == [1.0, 5.0, 9.0]


def test_a_missing_object_is_reported_not_raised(local_session, tmp_path):
    log_run(local_session, tmp_path, "gone", [json.dumps(span(0))], 0.1)
    runs = load_runs(EXPERIMENT, sagemaker_session=local_session)
    bucket, key = runs["trace_uri"][0][5:].split("/", 1)
    local_session.boto_session.client("s3").delete_object(Bucket=bucket, Key=key)
    spans, status = load_traces(EXPERIMENT, sagemaker_session=local_session, with_status=True)
    assert spans.attrs == {}
    (marker,) = spans.itertuples()  # no span, one row saying which object could not be read and why
    assert marker.kind == "unreadable_segment" and marker.name == key and "NoSuchKey" in marker.error
    assert status["trace_status"][0] == "missing_object (NoSuchKey)" and status["spans"][0] == 0
    assert status["unreadable_segments"][0] == [f"s3://{bucket}/{key} (NoSuchKey)"]


def test_runs_sharing_a_temperature_share_a_bar():
    import pandas as pd

    runs = pd.DataFrame({"run_name": ["a", "b", "c"], "temperature": [0.1, 0.1, 0.5], "total_tokens": [10, 200, 4]})
    fig = plot_runs(runs, metrics=("total_tokens",), by="temperature")
    assert [bar.get_width() for bar in fig.axes[0].patches] == [105.0, 4.0]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0.1", "0.5"]
    assert fig.axes[0].get_xlabel() == "total_tokens (tokens)" and "n=2" in [t.get_text() for t in fig.axes[0].texts]


def test_an_experiment_with_no_runs_says_where_it_looked(local_session, local_dir, caplog):
    with caplog.at_level("WARNING"):
        runs = load_runs("nothing-here", sagemaker_session=local_session)
        spans = load_traces("nothing-here", sagemaker_session=local_session)
    assert runs.empty and "run_name" in runs.columns and spans.empty
    assert caplog.text.count("'nothing-here' has no runs") == 2 and str(local_dir) in caplog.text
    with pytest.raises(ValueError, match="no runs to plot"):
        plot_runs(runs)


def test_one_unreadable_segment_is_marked_and_the_others_still_read(local_session, spool_dir, caplog, tmp_path):
    """Three executions, each a writer of its segments (its spans, then its end record): the first one's span
    segment is denied, the second's corrupt; the third's reads, and each bad one is named."""
    from langchain_core.runnables import RunnableLambda

    from helpers.analysis.segments import list_segments
    from helpers.experiments import load_run, local_backend
    from helpers.tracking import SageMakerCallbackHandler

    for index, opener in enumerate([Run, load_run, load_run]):
        with opener(experiment_name="segments", run_name="r", sagemaker_session=local_session) as run:
            handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
            RunnableLambda(lambda x: x, name=f"call-{index}").invoke(f"call-{index}", config={"callbacks": [handler]})
    tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName="segments-r")
    s3 = local_session.boto_session.client("s3")
    segments = list_segments(s3, tc["OutputArtifacts"]["langchain-trace"]["Value"])
    writers = list(dict.fromkeys(s.writer for s in segments))
    assert len(writers) == 3 and all(s.name.startswith(f"{s.writer}/") for s in segments)
    denied, corrupt = (next(s for s in segments if s.writer == w) for w in writers[:2])  # each writer's first
    bucket = denied.uri[5:].split("/", 1)[0]
    s3.put_object(Bucket=bucket, Key=corrupt.uri[5:].split("/", 1)[1], Body=b"\x00\xff garbage\n{not json\n")
    local_backend(local_session).add_fault("s3.GetObject", code="AccessDenied", status=403, times=None,
                                           key=denied.uri[5:].split("/", 1)[1])
    with caplog.at_level("WARNING"):
        spans, status = load_traces("segments", sagemaker_session=local_session, with_status=True)
    assert spans["name"].tolist() == [denied.name, corrupt.name, "call-2"]  # in writing order
    assert spans["kind"].tolist() == ["unreadable_segment", "unreadable_segment", "chain"]
    assert "AccessDenied" in spans["error"][0] and "corrupt: 2 lines" in spans["error"][1]
    assert spans["start_time"].notna().all()  # a marker stands at its writer's creation time
    (row,) = status.to_dict("records")
    assert row["trace_status"] == f"missing_segments (1 of {len(segments)}), skipped_lines (2)" and row["spans"] == 1
    assert row["unreadable_segments"] == [f"{denied.uri} (AccessDenied)", f"{corrupt.uri} (2 lines skipped)"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name.startswith("helpers")]
    assert len(warnings) == 1 and denied.uri in warnings[0] and corrupt.uri in warnings[0]
    html = trace_html(spans, "r")
    assert "2 segments of this trace could not be read" in html and denied.uri in html and "call-2" in html
    assert html.count('class="trace"') == 1  # the markers are named, not drawn as calls

    from helpers.analysis import save_trace

    caplog.clear()
    with caplog.at_level("WARNING"):
        saved = save_trace("segments", "r", to=tmp_path / "r.jsonl", sagemaker_session=local_session).read_text()
    assert '"call-2"' in saved and '"call-0"' not in saved and "garbage" in saved  # what the store holds, in order
    assert denied.uri in caplog.text and "1 of 6 trace segments could not be read" in caplog.text


def test_a_denied_listing_is_one_marker_not_an_error(local_session, spool_dir):
    from langchain_core.runnables import RunnableLambda

    from helpers.experiments import local_backend
    from helpers.tracking import SageMakerCallbackHandler

    with Run(experiment_name="listing", run_name="r", sagemaker_session=local_session) as run:
        RunnableLambda(lambda x: x).invoke("q", config={"callbacks": [SageMakerCallbackHandler(run, spool_dir=spool_dir)]})
    local_backend(local_session).add_fault("s3.ListObjectsV2", code="AccessDenied", status=403, times=None)
    spans, status = load_traces("listing", sagemaker_session=local_session, with_status=True)
    assert spans["kind"].tolist() == ["unreadable_segment"] and "listing failed: AccessDenied" in spans["error"][0]
    assert status["trace_status"][0] == "missing_object (listing failed: AccessDenied)"
