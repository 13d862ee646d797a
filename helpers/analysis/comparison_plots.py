"""Plots of a leaderboard: score vs cost with the Pareto front, and mean scores with 95% CI error bars.

Both take the DataFrame from helpers.analysis.leaderboard and return a matplotlib Figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pareto_front(board: pd.DataFrame, metric: str, cost: str = "cost_usd_per_row") -> pd.Series:
    """True for the variants no other variant beats on both score (higher) and cost (lower)."""
    scores, costs = board[metric].to_numpy(float), board[cost].fillna(0.0).to_numpy(float)
    front = []
    for i in range(len(board)):
        dominated = np.any((scores >= scores[i]) & (costs <= costs[i]) & ((scores > scores[i]) | (costs < costs[i])))
        front.append(not dominated)
    return pd.Series(front, index=board.index, name="pareto")


def plot_score_vs_cost(board: pd.DataFrame, metric: str | None = None, cost: str = "cost_usd_per_row"):
    """Each variant at (cost per row, mean score), the Pareto front joined by a line."""
    import matplotlib.pyplot as plt

    metric = metric or board.attrs["metric"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    front = pareto_front(board, metric, cost)
    costs = board[cost].fillna(0.0)
    ax.scatter(costs[~front], board.loc[~front, metric], color="tab:gray", label="dominated")
    ax.scatter(costs[front], board.loc[front, metric], color="tab:red", zorder=3, label="Pareto front")
    ordered = board[front].assign(_c=costs[front]).sort_values("_c")
    ax.plot(ordered["_c"], ordered[metric], color="tab:red", linewidth=1)
    for _, row in board.iterrows():
        ax.annotate(row["run_name"], (0.0 if pd.isna(row[cost]) else row[cost], row[metric]),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("cost per row (USD)")
    ax.set_ylabel(f"mean {metric} (0-1)")
    ax.set_title(f"{metric} vs cost: higher and further left is better")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_scores(board: pd.DataFrame, metric: str | None = None):
    """Mean score of each variant with its 95% bootstrap confidence interval."""
    import matplotlib.pyplot as plt

    metric = metric or board.attrs["metric"]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(board) + 1.5))
    lower = (board[metric] - board["ci_low"]).clip(lower=0)
    upper = (board["ci_high"] - board[metric]).clip(lower=0)
    ax.errorbar(board[metric], range(len(board)), xerr=[lower, upper], fmt="o", capsize=4)
    ax.set_yticks(range(len(board)), board["run_name"])
    ax.invert_yaxis()
    ax.set_xlabel(f"mean {metric} (0-1), with 95% bootstrap CI")
    ax.set_ylabel("variant (run)")
    fig.tight_layout()
    return fig
