"""Comparison plots across runs: a metric per run, per temperature within a sweep, and span latency per kind.

Every axis says its unit; run names sit on the vertical axis, so they stay legible with 50 runs.
"""

from __future__ import annotations

import textwrap

import pandas as pd

UNITS = {"input_tokens": "tokens", "output_tokens": "tokens", "total_tokens": "tokens", "llm_calls": "calls",
         "tool_calls": "calls", "errors": "failed calls", "cost_usd": "USD", "llm_latency_ms": "ms",
         "llm_latency_ms_avg": "ms, mean per LLM call", "llm_latency_ms_max": "ms, slowest LLM call"}
_BAR = "#4e79a7"
_KIND_GROUPS = {"LLM calls": ("llm", "chat_model"), "tool calls": ("tool",)}


def axis_label(metric: str) -> str:
    """'total_tokens (tokens)': the metric and its unit."""
    unit = UNITS.get(metric) or UNITS.get(metric.rsplit("_", 1)[0])
    return f"{metric} ({unit})" if unit else metric


def _height(rows: int) -> float:
    return max(2.5, 0.28 * rows + 1.2)


def plot_runs(runs: pd.DataFrame, metrics=("total_tokens", "llm_latency_ms_avg"), by: str = "run_name"):
    """One horizontal bar chart per metric: a bar per run, or per value of `by` (the mean of the runs that
    share it, marked n=...)."""
    import matplotlib.pyplot as plt  # here, not at import: notebooks 01-03 never plot

    if runs.empty:
        raise ValueError("There are no runs to plot: load_runs found none (see its warning).")
    if by not in runs.columns:
        raise ValueError(f"Cannot group by {by!r}: not a column of the runs frame; have {list(runs.columns)}.")
    present = [m for m in metrics if m in runs.columns]
    if not present:
        raise ValueError(f"None of {list(metrics)} is a column of the runs frame; have {list(runs.columns)}.")
    values = runs[present].apply(pd.to_numeric, errors="coerce")
    grouped = values.groupby(runs[by]).mean().sort_index()
    counts = values.groupby(runs[by]).size().reindex(grouped.index)
    fig, axes = plt.subplots(1, len(present), figsize=(5.5 * len(present), _height(len(grouped))), squeeze=False)
    for ax, metric in zip(axes[0], present, strict=True):
        positions = range(len(grouped))  # positions, not strings: "0.1" would read as a number
        bars = ax.barh(positions, grouped[metric], color=_BAR)
        ax.set_yticks(positions, [str(v) for v in grouped.index])
        ax.invert_yaxis()  # first row at the top, as in the table
        ax.set_xlabel(axis_label(metric))
        ax.set_ylabel(by)
        if by == "run_name":
            ax.set_title(f"{metric}: one bar per run")
        else:
            ax.set_title(f"{metric}: mean of the runs per {by}")
            ax.bar_label(bars, labels=[f"n={n}" if n > 1 else "" for n in counts], padding=2, fontsize=8)
    fig.tight_layout()
    return fig


def plot_temperature_sweeps(sweeps: pd.DataFrame, metrics=("output_tokens", "llm_latency_ms_avg")):
    """For each sweep of temperature_sweeps(): a bar per temperature, labelled with how many runs it averages."""
    import matplotlib.pyplot as plt  # here, not at import: notebooks 01-03 never plot

    if sweeps.empty:
        raise ValueError("No runs differ only in temperature: run `make sweep` to make some.")
    present = [m for m in metrics if m in sweeps.columns]
    names = list(dict.fromkeys(sweeps["sweep"]))
    fig, axes = plt.subplots(len(names), len(present), figsize=(6 * len(present), 3.6 * len(names)), squeeze=False)
    for row, name in zip(axes, names, strict=True):
        group = sweeps[sweeps["sweep"] == name]
        positions = range(len(group))
        for ax, metric in zip(row, present, strict=True):
            bars = ax.bar(positions, group[metric], color=_BAR)
            ax.set_xticks(positions, [f"{t:g}" for t in group["temperature"]])
            ax.bar_label(bars, labels=[f"n={n}" for n in group["n_runs"]], padding=2, fontsize=8)
            ax.set_xlabel("temperature")
            ax.set_ylabel(axis_label(metric))
            ax.set_title(f"{metric}, mean per temperature\n" + "\n".join(textwrap.wrap(name, 60)), fontsize=9)
            ax.margins(y=0.15)
    fig.tight_layout()
    return fig


def plot_span_latency(spans: pd.DataFrame):
    """Latency per run as box plots, LLM calls and tool calls apart; failed spans shown as red crosses, not boxed."""
    import matplotlib.pyplot as plt  # here, not at import: notebooks 01-03 never plot

    calls = spans[spans["kind"].isin([k for kinds in _KIND_GROUPS.values() for k in kinds])]
    if calls.empty:
        raise ValueError("There are no LLM or tool spans to plot.")
    run_names = sorted(calls["run_name"].unique())
    fig, axes = plt.subplots(1, len(_KIND_GROUPS), figsize=(11, _height(len(run_names))), squeeze=False, sharey=True)
    for ax, (title, kinds) in zip(axes[0], _KIND_GROUPS.items(), strict=True):
        these = calls[calls["kind"].isin(kinds)]
        ok = these[these["status"] != "error"]
        data = [ok.loc[ok["run_name"] == name, "latency_ms"].dropna().tolist() for name in run_names]
        ax.boxplot(data, positions=range(len(run_names)), orientation="horizontal", widths=0.6,
                   tick_labels=run_names)
        failed = these[these["status"] == "error"]
        if not failed.empty:
            ax.scatter(failed["latency_ms"], [run_names.index(n) for n in failed["run_name"]], marker="x",
                       color="#e15759", label=f"failed ({len(failed)})", zorder=3)
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("latency (ms)")
        ax.set_title(f"{title}: {len(ok)} ok, {len(failed)} failed")
    axes[0][0].invert_yaxis()
    axes[0][0].set_ylabel("run_name")
    fig.tight_layout()
    return fig
