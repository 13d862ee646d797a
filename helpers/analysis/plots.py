"""Comparison plots across runs: tokens and latency per run, or against a parameter such as temperature."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def plot_runs(runs: pd.DataFrame, metrics=("total_tokens", "llm_latency_ms_avg"), by: str = "run_name"):
    """One bar chart per metric: a bar per run, or per value of `by` (e.g. temperature, model_name),
    averaged over the runs that share it."""
    if runs.empty:
        raise ValueError("There are no runs to plot: load_runs found none (see its warning).")
    if by not in runs.columns:
        raise ValueError(f"Cannot group by {by!r}: not a column of the runs frame; have {list(runs.columns)}.")
    present = [m for m in metrics if m in runs.columns]
    if not present:
        raise ValueError(f"None of {list(metrics)} is a column of the runs frame; have {list(runs.columns)}.")
    values = runs[present].apply(pd.to_numeric, errors="coerce")
    grouped = values.groupby(runs[by]).mean().sort_index()
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], present, strict=True):
        positions = range(len(grouped))  # positions, not strings: "0.1" would read as a number
        ax.bar(positions, grouped[metric], color="#4e79a7")
        ax.set_xticks(positions, [str(v) for v in grouped.index])
        ax.set_title(metric if by == "run_name" else f"{metric} (mean per {by})")
        ax.set_xlabel(by)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_span_latency(spans: pd.DataFrame):
    """Latency of LLM and tool spans per run, as a box plot."""
    calls = spans[spans["kind"].isin(["llm", "chat_model", "tool"])]
    if calls.empty:
        raise ValueError("There are no LLM or tool spans to plot.")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    groups = [(name, g["latency_ms"].dropna()) for name, g in calls.groupby("run_name")]
    ax.boxplot([g for _, g in groups], tick_labels=[n for n, _ in groups])
    ax.set_ylabel("latency (ms)")
    ax.set_title("LLM and tool span latency per run")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig
