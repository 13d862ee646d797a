"""leaderboard: bootstrap CIs, paired differences against a baseline, disagreements, and the comparison plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.analysis import (
    disagreements,
    leaderboard,
    load_results,
    plot_score_vs_cost,
    plot_scores,
)
from helpers.analysis.comparison_plots import pareto_front
from helpers.analysis.leaderboard import bootstrap_mean_ci
from helpers.experiments import Run


def record(session, tmp_path, name, scores, cost=0.0, temperature=0.0):
    path = tmp_path / f"{name}.jsonl"
    with open(path, "w") as handle:
        for i, score in enumerate(scores):
            handle.write(json.dumps({"schema_version": 1, "type": "evaluation_row", "row": i, "row_key": f"k{i}",
                                     "output": f"{name} {i}", "scores": {"correct": score},
                                     "cost_usd": cost, "error": None}) + "\n")
    with Run(experiment_name="lb", run_name=name, sagemaker_session=session) as run:
        run.log_parameters({"temperature": temperature})
        run.log_file(str(path), name="evaluation-results", media_type="application/jsonl")


@pytest.fixture
def experiment(local_session, tmp_path):
    rng = np.random.default_rng(1)
    base = (rng.random(400) < 0.6).astype(float)
    better = base.copy()
    better[np.flatnonzero(base == 0)[:60]] = 1.0  # fixes 60 rows, breaks none: a real paired gain
    noisy = base.copy()
    flip = rng.choice(400, 20, replace=False)
    noisy[flip] = 1 - noisy[flip]  # as many rows broken as fixed, on average: no real difference
    record(local_session, tmp_path, "base", base, cost=1e-4)
    record(local_session, tmp_path, "better", better, cost=3e-4, temperature=0.5)
    record(local_session, tmp_path, "noisy", noisy, cost=1e-4, temperature=1.0)
    return local_session, base, better


def test_means_cis_and_paired_differences(experiment):
    session, base, better = experiment
    board = leaderboard("lb", metric="correct", baseline="base", sagemaker_session=session).set_index("run_name")
    assert board.index[0] == "better"  # best first
    row = board.loc["better"]
    assert row["correct"] == pytest.approx(better.mean()) and row["ci_low"] < row["correct"] < row["ci_high"]
    assert row["diff_vs_baseline"] == pytest.approx(60 / 400) and bool(row["significant"])
    assert row["diff_ci_low"] > 0 and row["paired_rows"] == 400 and row["temperature"] == 0.5
    assert not bool(board.loc["noisy", "significant"]) and board.loc["base", "diff_vs_baseline"] == 0
    assert board.loc["better", "cost_usd"] == pytest.approx(400 * 3e-4)


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_rows():
    rng = np.random.default_rng(0)
    small = bootstrap_mean_ci((rng.random(50) < 0.5).astype(float))
    large = bootstrap_mean_ci((rng.random(5000) < 0.5).astype(float))
    assert small[1] < small[0] < small[2] and (large[2] - large[1]) < (small[2] - small[1]) / 5


def test_bad_metric_and_baseline_are_named(experiment):
    session, *_ = experiment
    with pytest.raises(ValueError, match="No run has a score named 'acuracy'; scores recorded: correct"):
        leaderboard("lb", metric="acuracy", sagemaker_session=session)
    with pytest.raises(ValueError, match="baseline 'nope' is not an evaluated run"):
        leaderboard("lb", metric="correct", baseline="nope", sagemaker_session=session)


def test_disagreements_list_the_rows_that_differ(experiment):
    session, base, better = experiment
    results = load_results("lb", session)
    table = disagreements(results, "base", "better", "correct")
    assert len(table) == 60 and set(table["row"]) == set(np.flatnonzero(base != better))
    assert set(table.columns) >= {"row", "output (base)", "output (better)", "correct (base)", "correct (better)"}


def test_pareto_front_and_plots_have_labelled_axes(experiment):
    session, *_ = experiment
    board = leaderboard("lb", metric="correct", baseline="base", sagemaker_session=session)
    front = dict(zip(board["run_name"], pareto_front(board, "correct"), strict=True))
    means = dict(zip(board["run_name"], board["correct"], strict=True))
    assert front["better"]  # the best score, whatever it costs
    assert means["noisy"] != means["base"]  # same cost per row: the higher of the two dominates the other
    winner, loser = sorted(("noisy", "base"), key=means.get, reverse=True)
    assert front[winner] and not front[loser]
    frontier = plot_score_vs_cost(board)
    ax = frontier.axes[0]
    assert ax.get_xlabel() == "cost per row (USD)" and ax.get_ylabel() == "mean correct (0-1)"
    bars = plot_scores(board).axes[0]
    assert "95% bootstrap CI" in bars.get_xlabel() and bars.get_ylabel() == "variant (run)"
