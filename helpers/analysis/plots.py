"""Comparison plots across runs: tokens and latency per run, or against a parameter such as temperature."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def plot_runs(runs: pd.DataFrame, metrics=("total_tokens", "llm_latency_ms_avg"), by: str = "run_name"):
    """One bar chart per metric, a bar per run (or per value of `by`, e.g. temperature)."""
    present = [m for m in metrics if m in runs.columns]
    if not present:
        raise ValueError(f"None of {list(metrics)} is a column of the runs frame; have {list(runs.columns)}.")
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 3.5), squeeze=False)
    data = runs.sort_values(by) if by in runs.columns else runs
    for ax, metric in zip(axes[0], present, strict=True):
        ax.bar(data[by].astype(str), pd.to_numeric(data[metric], errors="coerce"), color="#4e79a7")
        ax.set_title(metric)
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
