"""Spans as one DataFrame, built column by column run by run (no dict per row).

span_columns turns one run's spans into lists (in the fetching threads); extend_columns appends them to the
columns of all runs as each run arrives, so the per-run lists die young (a full garbage collection over
many surviving lists costs more than the parsing); span_frame makes the DataFrame.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["run_name", "trace_id", "span_id", "parent_id", "kind", "name", "start_time", "latency_ms",
           "input_tokens", "output_tokens", "total_tokens", "status", "input_text", "output_text",
           "model_name", "temperature", "error"]

# column: (field of the span, field inside it or None for the span's own field)
_SOURCES = {
    "trace_id": ("trace_id", None), "span_id": ("span_id", None), "parent_id": ("parent_id", None),
    "kind": ("kind", None), "name": ("name", None), "start_time": ("start_time", None),
    "latency_ms": ("latency_ms", None), "input_tokens": ("usage", "input_tokens"),
    "output_tokens": ("usage", "output_tokens"), "total_tokens": ("usage", "total_tokens"),
    "status": ("status", None), "input_text": ("input_text", None), "output_text": ("output_text", None),
    "model_name": ("invocation_params", "model_name"), "temperature": ("invocation_params", "temperature"),
}


_EMPTY: dict = {}


def error_text(error) -> str | None:
    """'Type: message' for a span's error object; a foreign non-object error as its text."""
    if not error:
        return None
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('message')}"
    return str(error)


def span_columns(run_name: str, spans: list[dict]) -> dict[str, list]:
    """One list per column in COLUMNS for one run's spans, in order.

    A nested field (usage, invocation_params) that is missing, null or not an object reads as empty.
    """
    columns: dict[str, list] = {"run_name": [run_name] * len(spans)}
    nested: dict[str, list[dict]] = {}
    for column, (field, inner) in _SOURCES.items():
        if inner is None:
            columns[column] = [span.get(field) for span in spans]
            continue
        if field not in nested:
            values = [span.get(field) for span in spans]
            nested[field] = [value if isinstance(value, dict) else _EMPTY for value in values]
        columns[column] = [value.get(inner) for value in nested[field]]
    columns["error"] = [error_text(error) if error else None for error in (span.get("error") for span in spans)]
    return {column: columns[column] for column in COLUMNS}


def empty_columns() -> dict[str, list]:
    return {column: [] for column in COLUMNS}


def extend_columns(columns: dict[str, list], chunk: dict[str, list]) -> None:
    """Append one run's span_columns to the columns of all runs so far."""
    for column, values in columns.items():
        values += chunk[column]


def span_frame(columns: dict[str, list]) -> pd.DataFrame:
    """One row per span, start_time as UTC timestamps (unparseable ones NaT)."""
    if not columns["run_name"]:
        return pd.DataFrame(columns=COLUMNS)  # object columns, as before: empty lists would read as float64
    frame = pd.DataFrame(columns, columns=COLUMNS)
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True, errors="coerce")
    return frame
