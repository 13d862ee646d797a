"""load_traces: every span of every run's trace, fetched in parallel, one row per span.

A run's trace is a prefix of segment objects (read in key order) or, for runs traced before, one object.
A run whose trace is missing or damaged gets a status of its own; it never aborts the load. A segment that
cannot be read is a marker row of kind "unreadable_segment" where its spans would be; the others still read.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from tqdm.auto import tqdm

from ..experiments import open_session
from . import mlflow_readback
from .jsonl import line_reader
from .segments import ARTIFACT, Segment, list_segments, read_segments, trace_uris, writer_started
from .span_table import COLUMNS, empty_columns, extend_columns, span_columns, span_frame

__all__ = ["ARTIFACT", "COLUMNS", "SCHEMA_VERSIONS", "STATUS_COLUMNS", "UNREADABLE_KIND", "iter_trial_components",
           "list_trial_components", "load_traces", "parse_trace", "read_run_spans", "read_trace_text", "trace_keys",
           "trace_uris"]

log = logging.getLogger(__name__)

SCHEMA_VERSIONS = {1}
STATUS_COLUMNS = ["run_name", "trace_status", "spans", "unreadable_segments"]


def iter_trial_components(session, experiment_name: str) -> Iterator[dict]:
    """All trial components of an experiment, page by page of one paginated Search, as the pages arrive.

    Tries the name as given, then lower-cased (Run lower-cases names).
    """
    client = session.sagemaker_client
    for name in dict.fromkeys([experiment_name, experiment_name.lower()]):
        found, token = False, None
        while True:
            args = {"Resource": "ExperimentTrialComponent", "MaxResults": 100,
                    "SearchExpression": {"Filters": [{"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": name}]}}
            if token:
                args["NextToken"] = token
            page = client.search(**args)
            for result in page["Results"]:
                found = True
                yield result["TrialComponent"]
            token = page.get("NextToken")
            if not token:
                break
        if found:
            return


def list_trial_components(session, experiment_name: str) -> list[dict]:
    """All trial components of an experiment with one paginated Search (tries the lower-cased name too)."""
    return list(iter_trial_components(session, experiment_name))


def parse_trace(text: str, for_pandas: bool = False) -> tuple[list[dict], int]:
    """Spans of a JSON Lines trace, and how many lines were skipped (truncated, foreign or unknown).

    Lines end at "\\n" only (U+2028 and the like may stand unescaped inside strings); execution
    records are read past, not counted as skipped. for_pandas: a lone surrogate (which pandas cannot
    encode) reads as its escape text.
    """
    spans, skipped = [], 0
    loads = line_reader(text)
    for line in text.split("\n"):
        try:
            record = loads(line)
        except (ValueError, RecursionError):  # not JSON (or nested past the parser's depth)
            if line.strip():  # blank lines are not damage
                skipped += 1
            continue
        if _is_span(record):
            if for_pandas and ("\\ud" in line or "\\uD" in line):
                record = _without_lone_surrogates(record)
            spans.append(record)
        elif not (isinstance(record, dict) and record.get("type") == "execution"):
            skipped += 1
    return spans, skipped


def _without_lone_surrogates(value):
    """Strings with a lone surrogate (which pandas cannot encode) keep it as the text "\\udXXX"."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    return value


def _is_span(record) -> bool:
    if not isinstance(record, dict) or record.get("type") != "span":
        return False
    try:
        return record.get("schema_version") in SCHEMA_VERSIONS
    except TypeError:  # an unhashable version (a list, an object) is not one we know
        return False


def run_name_of(tc: dict) -> str:
    """A run's name from its trial component (the SDK names it <experiment>-<run>)."""
    name = tc["TrialComponentName"]
    for parent in tc.get("Parents", []):
        prefix = f"{parent.get('ExperimentName', '').lower()}-"
        if name.lower().startswith(prefix):
            return name[len(prefix):]
    return name


def trace_keys(s3, uri: str) -> list[tuple[str, str]]:
    """(bucket, key) of every object of one trace location, in reading order (raises if the listing fails)."""
    segments = list_segments(s3, uri)
    for segment in segments:
        if segment.exception is not None:
            raise segment.exception
    return [tuple(segment.uri[5:].split("/", 1)) for segment in segments]


def read_trace_text(s3, tc: dict) -> str:
    """The whole JSON Lines text of a run's trace, every segment in order (raises if one cannot be read)."""
    segments = read_segments(s3, tc)
    for segment in segments:
        if segment.exception is not None:
            raise segment.exception
    return "".join(segment.text for segment in segments)


def read_run_spans(session, trial_component_name: str) -> list[dict]:
    """Every span of one run's trace, each once, in writing order (e.g. `f"{experiment}-{run_name}"`)."""
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=trial_component_name)
    spans, _ = parse_trace(read_trace_text(session.boto_session.client("s3"), tc))
    return _first_of_each(spans)


UNREADABLE_KIND = "unreadable_segment"


def unreadable_marker(segment: Segment, why: str) -> dict:
    """The row that stands where an unreadable segment's spans would be: which segment, and why."""
    started = writer_started(segment.writer)
    return {"span_id": f"{UNREADABLE_KIND}:{segment.name}", "trace_id": None, "parent_id": None,
            "kind": UNREADABLE_KIND, "name": segment.name, "status": "error",
            "start_time": started.isoformat() if started else None,
            "error": f"segment {segment.uri} could not be read ({why}); its spans are not in this frame"}


def _fetch(s3, tc: dict, experiment_name: str | None) -> tuple[str, list[dict], str, list[str]]:
    """One run's name, spans (a marker row for each unreadable segment), trace status and bad segments.

    A segment that cannot be fetched, or holds no readable line, is a marker row and named; one with some
    damaged lines is named; the other segments read as usual. Never an error.
    """
    run_name = run_name_of(tc)
    if not trace_uris(tc):
        return run_name, [], "no_trace", []
    rows, skipped, bad, missing, corrupt = [], 0, [], [], 0
    segments = read_segments(s3, tc)
    for segment in segments:
        if not segment.readable:
            rows.append(unreadable_marker(segment, segment.error))
            bad.append(f"{segment.uri} ({segment.error})")
            missing.append(segment.error)
            continue
        spans, lines = parse_trace(segment.text, for_pandas=True)
        skipped += lines
        if lines and lines == sum(1 for line in segment.text.split("\n") if line.strip()):  # not one record
            corrupt += 1
            rows.append(unreadable_marker(segment, f"corrupt: {lines} lines are not trace records"))
        rows += spans
        if lines:
            bad.append(f"{segment.uri} ({lines} lines skipped)")
    rows = _first_of_each(rows)
    parts = []
    if missing:
        parts.append(f"missing_object ({', '.join(dict.fromkeys(missing))})" if len(missing) == len(segments)
                     else f"missing_segments ({len(missing)} of {len(segments)})")
    if skipped:
        parts.append(f"unreadable ({skipped} lines)" if len(rows) == len(missing) + corrupt
                     else f"skipped_lines ({skipped})")
    return run_name, rows, ", ".join(parts) or "ok", bad


def _first_of_each(spans: list[dict]) -> list[dict]:
    """A span sent twice (a recovery repeating an upload it could not know had landed) is kept once."""
    seen, out = set(), []
    for span in spans:
        span_id = span.get("span_id")
        if isinstance(span_id, str):
            if span_id in seen:
                continue
            seen.add(span_id)
        out.append(span)
    return out


def _fetch_columns(s3, tc: dict, experiment_name: str | None) -> tuple[str, dict[str, list], str, list[str]]:
    run_name, spans, status, bad = _fetch(s3, tc, experiment_name)
    return run_name, span_columns(run_name, spans), status, bad


def runs_of(session, experiment_name: str, run_names=None):
    """The experiment's trial components, as they are paged in; only run_names' (any case) if given."""
    tcs = iter_trial_components(session, experiment_name)
    if run_names is None:
        return tcs
    wanted = {n.lower() for n in run_names}
    return (tc for tc in tcs if run_name_of(tc).lower() in wanted)


def load_traces(experiment_name: str | None = None, run_names: list[str] | None = None,
                sagemaker_session=None, max_workers: int = 16, progress: bool | None = None,
                with_status: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """One row per span across the runs, a plain DataFrame.

    with_status=True: also a frame of one row per run (run_name, trace_status, spans, unreadable_segments)
    saying how its trace loaded ("ok", "no_trace", "missing_object (...)", "missing_segments (k of n)",
    "skipped_lines (n)", ...): spans, status = load_traces(...). Each segment that could not be read is named
    in unreadable_segments (with why) and marked by a row of kind "unreadable_segment" in the spans.
    progress: show a progress bar (default: when there are 20 runs or more).
    """
    if not experiment_name:
        raise ValueError("load_traces needs experiment_name (and optionally run_names to pick runs).")
    if mlflow_readback.is_mlflow(sagemaker_session):  # an MLflow tracker: the same columns from its artifacts
        frame, status = mlflow_readback.load_traces(experiment_name, sagemaker_session, run_names)
        if "unreadable_segments" not in status:
            status["unreadable_segments"] = [[] for _ in range(len(status))]
        return (frame, status) if with_status else frame
    session = sagemaker_session or open_session()
    tcs = runs_of(session, experiment_name, run_names)
    s3 = session.boto_session.client("s3")
    columns, statuses = empty_columns(), []
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        # fetching starts while the next search page is on its way; workers build the columns too
        futures = deque(pool.submit(_fetch_columns, s3, tc, experiment_name) for tc in tcs)
        show = progress if progress is not None else len(futures) >= 20
        with tqdm(total=len(futures), desc="traces", disable=not show) as bar:
            while futures:  # popped, so each run's result is dropped once appended
                run_name, chunk, status, bad = futures.popleft().result()
                extend_columns(columns, chunk)
                spans = sum(kind != UNREADABLE_KIND for kind in chunk["kind"])
                statuses.append({"run_name": run_name, "trace_status": status, "spans": spans,
                                 "unreadable_segments": bad})
                if bad:
                    log.warning("Run %s: trace %s; not read: %s (a row of kind %r marks each segment that "
                                "could not be read); the other segments are loaded.", run_name, status,
                                ", ".join(bad), UNREADABLE_KIND)
                elif status != "ok":
                    log.warning("Run %s: trace %s.", run_name, status)
                bar.update()
    if not statuses:
        from .runs import where

        log.warning("Experiment %r has no runs%s here (%s).", experiment_name,
                    f" named {', '.join(run_names)}" if run_names else "", where(session))
    frame = span_frame(columns)
    if not with_status:
        return frame
    return frame, pd.DataFrame(statuses, columns=STATUS_COLUMNS)
