"""Executes notebook 05 with papermill against the local stand-in, then checks the runs and scores it recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.analysis import leaderboard, load_results
from helpers.experiments import open_session

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_evaluate_variants.ipynb"
EXPERIMENT = "nb05-test"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import papermill

    out = tmp_path_factory.mktemp("nb05")
    local_dir = out / "sagemaker-local"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SAGEMAKER_EVAL_SPOOL_DIR", str(out / "eval-spool"))
        env.setenv("SAGEMAKER_TRACE_SPOOL_DIR", str(out / "trace-spool"))
        papermill.execute_notebook(str(NOTEBOOK), str(out / NOTEBOOK.name), cwd=str(NOTEBOOK.parent),
                                   kernel_name="python3", progress_bar=False,
                                   parameters={"experiment_name": EXPERIMENT, "backend": "local",
                                               "local_dir": str(local_dir), "llm_provider": "offline"})
    return out / NOTEBOOK.name, open_session("local", local_dir=local_dir)


def test_six_variants_are_completed_runs_with_their_scores(executed):
    _, session = executed
    results = load_results(f"{EXPERIMENT}-eval", session)
    assert sorted(results) == sorted(f"jokes-{p}-t{t}" for p in ("plain", "detailed") for t in ("0", "0-5", "1"))
    for tc, frame in results.values():
        assert tc["Status"]["PrimaryStatus"] == "Completed"
        assert len(frame) == 30 and frame["mentions_topic"].notna().all()
        metrics = {m["MetricName"]: m["Last"] for m in tc["Metrics"]}
        assert metrics["mentions_topic"] == pytest.approx(frame["mentions_topic"].mean())
        assert metrics["cost_usd"] == 0.0 and tc["Parameters"]["cost_basis"]["StringValue"].startswith("offline")


def test_temperature_and_prompt_change_the_recorded_scores(executed):
    _, session = executed
    board = leaderboard(f"{EXPERIMENT}-eval", metric="mentions_topic", baseline="jokes-plain-t0",
                        sagemaker_session=session).set_index("run_name")
    assert board.loc["jokes-plain-t0", "mentions_topic"] == 1.0  # no drift at temperature 0
    assert board.loc["jokes-plain-t1", "mentions_topic"] < 0.8
    assert bool(board.loc["jokes-plain-t1", "significant"]) and board.loc["jokes-plain-t1", "diff_vs_baseline"] < 0
    short = leaderboard(f"{EXPERIMENT}-eval", metric="short_enough", sagemaker_session=session).set_index("run_name")
    assert short.loc["jokes-detailed-t0", "short_enough"] < short.loc["jokes-plain-t0", "short_enough"]


def test_the_notebook_says_offline_scores_measure_nothing(executed):
    import nbformat

    book = nbformat.read(executed[0], as_version=4)
    assert "Offline scores measure nothing about real models" in book.cells[0].source
    images = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the frontier and the error bars
