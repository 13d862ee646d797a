"""load_traces: every span of every run's trace, fetched in parallel, one row per span.

A run's trace is a prefix of segment objects (read in key order) or, for runs traced before, one object.
A run whose trace is missing or damaged gets a status of its own; it never aborts the load.
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
from .span_table import COLUMNS, empty_columns, extend_columns, span_columns, span_frame

__all__ = ["ARTIFACT", "COLUMNS", "SCHEMA_VERSIONS", "iter_trial_components", "list_trial_components", "load_traces",
           "read_run_spans", "read_trace_text", "trace_keys", "trace_uris",
           "parse_trace"]

log = logging.getLogger(__name__)

ARTIFACT = "langchain-trace"
SCHEMA_VERSIONS = {1}


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


def trace_uris(tc: dict) -> list[str]:
    """The S3 locations of a run's trace: an earlier single object first, then the segment prefix (or object)."""
    artifacts = tc.get("OutputArtifacts") or {}
    values = [str((artifacts.get(name) or {}).get("Value", "")) for name in (f"{ARTIFACT}-earlier", ARTIFACT)]
    return [value for value in values if value.startswith("s3://")]


def trace_keys(s3, uri: str) -> list[tuple[str, str]]:
    """(bucket, key) of every object of one trace location, in reading order."""
    bucket, _, key = uri[5:].partition("/")
    if not key.endswith("/"):
        return [(bucket, key)]
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        keys += [item["Key"] for item in page.get("Contents") or []]
    return [(bucket, k) for k in sorted(keys)]


def read_trace_text(s3, tc: dict) -> str:
    """The whole JSON Lines text of a run's trace, every segment in order (raises if one cannot be read)."""
    parts = []
    for uri in trace_uris(tc):
        for bucket, key in trace_keys(s3, uri):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
            parts.append(body if body.endswith("\n") or not body else body + "\n")
    return "".join(parts)


def read_run_spans(session, trial_component_name: str) -> list[dict]:
    """Every span of one run's trace, each once, in writing order (e.g. `f"{experiment}-{run_name}"`)."""
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=trial_component_name)
    spans, _ = parse_trace(read_trace_text(session.boto_session.client("s3"), tc))
    return _first_of_each(spans)


def _fetch(s3, tc: dict, experiment_name: str | None) -> tuple[str, list[dict], str]:
    """One run's name, spans and trace status; a missing or damaged trace is a status, never an error."""
    run_name = run_name_of(tc)
    if not trace_uris(tc):
        return run_name, [], "no_trace"
    try:
        text = read_trace_text(s3, tc)
    except Exception as error:  # a missing or unreadable object is reported for this run only
        code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        return run_name, [], f"missing_object ({code})"
    spans, skipped = parse_trace(text, for_pandas=True)
    spans = _first_of_each(spans)
    status = "ok" if not skipped else f"skipped_lines ({skipped})"
    if not spans and skipped:
        status = f"unreadable ({skipped} lines)"
    return run_name, spans, status


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


def _fetch_columns(s3, tc: dict, experiment_name: str | None) -> tuple[str, dict[str, list], str]:
    run_name, spans, status = _fetch(s3, tc, experiment_name)
    return run_name, span_columns(run_name, spans), status


def load_traces(experiment_name: str | None = None, run_names: list[str] | None = None,
                sagemaker_session=None, max_workers: int = 16, progress: bool | None = None,
                with_status: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """One row per span across the runs, a plain DataFrame.

    with_status=True: also a frame of one row per run (run_name, trace_status, spans) saying how its trace
    loaded ("ok", "no_trace", "missing_object (...)", "skipped_lines (n)", ...): spans, status = load_traces(...).
    progress: show a progress bar (default: when there are 20 runs or more).
    """
    if not experiment_name:
        raise ValueError("load_traces needs experiment_name (and optionally run_names to pick runs).")
    if mlflow_readback.is_mlflow(sagemaker_session):  # an MLflow tracker: the same columns from its artifacts
        frame, status = mlflow_readback.load_traces(experiment_name, sagemaker_session, run_names)
        return (frame, status) if with_status else frame
    session = sagemaker_session or open_session()
    tcs = iter_trial_components(session, experiment_name)
    if run_names is not None:
        wanted = {n.lower() for n in run_names}
        tcs = (tc for tc in tcs if run_name_of(tc).lower() in wanted)
    s3 = session.boto_session.client("s3")
    columns, statuses = empty_columns(), []
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        # fetching starts while the next search page is on its way; workers build the columns too
        futures = deque(pool.submit(_fetch_columns, s3, tc, experiment_name) for tc in tcs)
        show = progress if progress is not None else len(futures) >= 20
        with tqdm(total=len(futures), desc="traces", disable=not show) as bar:
            while futures:  # popped, so each run's result is dropped once appended
                run_name, chunk, status = futures.popleft().result()
                extend_columns(columns, chunk)
                statuses.append({"run_name": run_name, "trace_status": status, "spans": len(chunk["span_id"])})
                if status != "ok":
                    log.warning("Run %s: trace %s.", run_name, status)
                bar.update()
    if not statuses:
        from .runs import where

        log.warning("Experiment %r has no runs%s here (%s).", experiment_name,
                    f" named {', '.join(run_names)}" if run_names else "", where(session))
    frame = span_frame(columns)
    if not with_status:
        return frame
    return frame, pd.DataFrame(statuses, columns=["run_name", "trace_status", "spans"])
