"""Every frame helpers.analysis returns is plain pandas: astype, concat, merge, groupby and to_parquet work."""

from __future__ import annotations

import pandas as pd
import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

from helpers.analysis import load_runs, load_traces, temperature_sweeps
from helpers.experiments import Run
from helpers.offline_model import OfflineLLM
from helpers.tracking import SageMakerCallbackHandler

EXPERIMENT = "frames"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from helpers.experiments import open_session

    return open_session("local", local_dir=tmp_path_factory.mktemp("frames") / "sagemaker-local")


@pytest.fixture(scope="module")
def frames(session):
    local_session = session
    chain = PromptTemplate.from_template("tell me a joke about {topic}") | OfflineLLM() | StrOutputParser()
    for name, temperature in (("t-0", 0.0), ("t-5", 0.5)):
        with Run(experiment_name=EXPERIMENT, run_name=name, sagemaker_session=local_session) as run:
            run.log_parameters({"scenario": "joke"})
            chain.invoke({"topic": "fish"}, config={"callbacks": [SageMakerCallbackHandler(run)]})
            run.log_parameter("temperature", temperature)
    runs = load_runs(EXPERIMENT, sagemaker_session=local_session)
    spans, status = load_traces(EXPERIMENT, sagemaker_session=local_session, with_status=True)
    empty_spans, empty_status = load_traces("none-here", sagemaker_session=local_session, with_status=True)
    return {"runs": runs, "spans": spans, "status": status, "sweeps": temperature_sweeps(runs),
            "plain spans": load_traces(EXPERIMENT, sagemaker_session=local_session),
            "empty runs": load_runs("none-here", sagemaker_session=local_session),
            "empty spans": empty_spans, "empty status": empty_status}


def test_every_frame_survives_ordinary_pandas(frames, tmp_path):
    assert len(frames["spans"]) == 8 and len(frames["sweeps"]) == 2 and list(frames["status"]["trace_status"]) == ["ok"] * 2
    for label, frame in frames.items():
        assert isinstance(frame, pd.DataFrame) and frame.attrs == {}, label
        key = frame.columns[0]
        text = frame.astype(str)
        both = pd.concat([frame, text], ignore_index=True)
        assert len(both) == 2 * len(frame), label
        merged = frame.merge(frame, on=key, suffixes=("", "_again"))
        assert len(merged) >= len(frame), label
        frame.groupby(key).size()
        frame.to_parquet(tmp_path / f"{label.replace(' ', '-')}.parquet")
        assert len(pd.read_parquet(tmp_path / f"{label.replace(' ', '-')}.parquet")) == len(frame), label


def test_save_trace_writes_the_runs_trace_file(frames, session, tmp_path):
    import json

    from helpers.analysis import save_trace

    path = save_trace(EXPERIMENT, "t-0", to=tmp_path / "t-0.jsonl", sagemaker_session=session)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    spans = [r for r in records if r.get("type") == "span"]  # segments also hold header records
    assert [s["span_id"] for s in spans] == list(frames["spans"].loc[frames["spans"]["run_name"] == "t-0", "span_id"])


def test_run_names_stay_legible_with_50_runs():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.analysis import plot_runs

    runs = pd.DataFrame({"run_name": [f"sweep-temp-0-{i:02d}-with-a-longer-name" for i in range(50)],
                         "total_tokens": range(50)})
    fig = plot_runs(runs, metrics=("total_tokens",))
    fig.canvas.draw()
    boxes = sorted((label.get_window_extent() for label in fig.axes[0].get_yticklabels()), key=lambda b: b.y0)
    assert len(boxes) == 50 and all(a.y1 <= b.y0 + 0.5 for a, b in zip(boxes, boxes[1:], strict=False))
