"""Reading an experiment back: runs, spans and executions as DataFrames, a trace view, and comparison plots."""

from .comparison_plots import plot_score_vs_cost, plot_scores
from .executions import load_executions
from .leaderboard import disagreements, leaderboard, load_results
from .plots import plot_runs, plot_span_latency, plot_temperature_sweeps
from .runs import latency_caveat, load_runs, parameter_columns, temperature_sweeps
from .trace_file import save_trace
from .traces import load_traces, parse_trace
from .view import show_trace, trace_html

__all__ = ["load_runs", "load_traces", "parse_trace", "plot_runs", "plot_span_latency", "show_trace", "trace_html",
           "latency_caveat", "parameter_columns", "save_trace", "plot_temperature_sweeps", "temperature_sweeps",
           "disagreements", "leaderboard", "load_results", "plot_score_vs_cost", "plot_scores", "load_executions"]
