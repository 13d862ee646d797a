"""parse_trace and the column-wise span table against the row-wise reference they replaced, on damaged input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.analysis.jsonl import line_reader
from helpers.analysis.span_table import (
    COLUMNS,
    empty_columns,
    extend_columns,
    span_columns,
    span_frame,
)
from helpers.analysis.traces import SCHEMA_VERSIONS, parse_trace


def reference_parse(text: str) -> tuple[list[dict], int]:
    """parse_trace as it was before the fast path (json.loads of every non-blank line).

    Lines end at "\\n" only: a raw U+0085 or U+2028 inside a string no longer splits (and loses) a span;
    execution records are not damage.
    """
    spans, skipped = [], 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(record, dict) and record.get("type") == "execution":
            continue
        if not isinstance(record, dict) or record.get("type") != "span" or record.get("schema_version") not in SCHEMA_VERSIONS:
            skipped += 1
            continue
        spans.append(record)
    return spans, skipped


def reference_frame(runs: list[tuple[str, list[dict]]]) -> pd.DataFrame:
    """load_traces' frame as it was built before: one dict per row."""
    rows = []
    for run_name, spans in runs:
        for span in spans:
            usage = span.get("usage") or {}
            params = span.get("invocation_params") or {}
            error = span.get("error") or {}
            rows.append({
                "run_name": run_name, "trace_id": span.get("trace_id"), "span_id": span.get("span_id"),
                "parent_id": span.get("parent_id"), "kind": span.get("kind"), "name": span.get("name"),
                "start_time": span.get("start_time"), "latency_ms": span.get("latency_ms"),
                "input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens"),
                "total_tokens": usage.get("total_tokens"), "status": span.get("status"),
                "input_text": span.get("input_text"), "output_text": span.get("output_text"),
                "model_name": params.get("model_name"), "temperature": params.get("temperature"),
                "error": f"{error.get('type')}: {error.get('message')}" if error else None,
            })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if len(frame):
        frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True, errors="coerce")
    return frame


scalars = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12)
times = st.sampled_from(["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01.5+00:00", "yesterday", ""]) | st.none()
nested = st.none() | st.dictionaries(st.sampled_from(["input_tokens", "output_tokens", "total_tokens", "model_name",
                                                        "temperature", "type", "message", "other"]), scalars, max_size=4)
span_records = st.fixed_dictionaries(
    {"type": st.just("span"), "schema_version": st.sampled_from([1, 1, 1, 2, "1", 1.0])},
    optional={
        "trace_id": scalars, "span_id": scalars, "parent_id": scalars, "kind": scalars, "name": scalars,
        "start_time": times, "latency_ms": scalars, "status": scalars, "input_text": scalars, "output_text": scalars,
        "usage": nested, "invocation_params": nested, "error": nested, "extra": scalars,
    },
)
damaged_lines = st.sampled_from(['{"truncated": ', '{"type": "other"}', "[1, 2]", '"span"', "", "   ", "not json",
                                 "NaN", '{"type": "span"}', '{"type": "span", "schema_version": 1',
                                 '{"type": "span", "schema_version": 1, "latency_ms": NaN}',
                                 '{"type": "span", "schema_version": 1, "span_id": "\\ud800"}',
                                 '{"type": "span", "schema_version": 1, "total_tokens": 99999999999999999999}'])
lines = st.one_of(span_records.map(json.dumps), span_records.map(lambda r: json.dumps(r, ensure_ascii=False)), damaged_lines)


@settings(max_examples=300, deadline=None)
@given(st.lists(lines, max_size=12))
def test_parse_trace_matches_the_reference_on_damaged_input(trace_lines):
    text = "\n".join(trace_lines)
    assert parse_trace(text) == reference_parse(text)


@pytest.mark.filterwarnings("ignore:Could not infer format")  # start_time values like "yesterday" go through dateutil
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.lists(span_records, max_size=5)), max_size=4))
def test_span_frame_matches_the_row_wise_reference(runs):
    columns = empty_columns()
    for run_name, spans in runs:
        extend_columns(columns, span_columns(run_name, spans))
    pd.testing.assert_frame_equal(span_frame(columns), reference_frame(runs))


@pytest.mark.parametrize("line", [
    '{"type": "span", "schema_version": [1]}',  # unhashable version
    "[" * 100_000 + "]" * 100_000,  # deeper than the parser goes
    "1" * 5000,  # more digits than int() takes
])
def test_lines_that_used_to_raise_are_skipped(line):
    good = json.dumps({"type": "span", "schema_version": 1, "span_id": "s0"})
    spans, skipped = parse_trace(f"{good}\n{line}\n")
    assert [s["span_id"] for s in spans] == ["s0"] and skipped == 1


def test_nested_fields_that_are_not_objects_read_as_empty():
    span = {"type": "span", "schema_version": 1, "span_id": "s0", "usage": [3, 4], "invocation_params": "m",
            "error": "boom"}
    frame = span_frame(span_columns("run", [span]))
    row = frame.iloc[0]
    assert row["input_tokens"] is None and row["model_name"] is None and row["error"] == "boom"


def outcome(loads, line: str):
    try:
        return "value", repr(loads(line))  # repr tells 1 from 1.0 and -0.0 from 0.0
    except (ValueError, RecursionError):
        return "error", None


json_tokens = st.sampled_from(list('{}[]",:0123456789-.eE \\u') + [
    '"a"', "true", "null", "NaN", "Infinity", "1e400", "-0", "18446744073709551616", "-9223372036854775809",
    '"\\ud800"', '"\\u2028"', "\u2028", "\x00", '{"a": 1, "a": 2}'])


@settings(max_examples=1000, deadline=None)
@given(st.lists(json_tokens, max_size=16).map("".join))
def test_line_reader_reads_every_line_as_json_loads_does(line):
    """orjson for most lines, json for what orjson refuses or reads differently: the same values either way."""
    assert outcome(line_reader(line), line) == outcome(json.loads, line)
