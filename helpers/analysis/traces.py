"""load_traces: every span of every run's trace artifact, fetched in parallel, one row per span.

A run whose trace is missing or damaged gets a status of its own; it never aborts the load.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from tqdm.auto import tqdm

from ..experiments import open_session

log = logging.getLogger(__name__)

ARTIFACT = "langchain-trace"
SCHEMA_VERSIONS = {1}
COLUMNS = ["run_name", "trace_id", "span_id", "parent_id", "kind", "name", "start_time", "latency_ms",
           "input_tokens", "output_tokens", "total_tokens", "status", "input_text", "output_text",
           "model_name", "temperature", "error"]


def list_trial_components(session, experiment_name: str) -> list[dict]:
    """All trial components of an experiment with one paginated Search (tries the lower-cased name too)."""
    client = session.sagemaker_client
    for name in dict.fromkeys([experiment_name, experiment_name.lower()]):
        found, token = [], None
        while True:
            args = {"Resource": "ExperimentTrialComponent", "MaxResults": 100,
                    "SearchExpression": {"Filters": [{"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": name}]}}
            if token:
                args["NextToken"] = token
            page = client.search(**args)
            found += [r["TrialComponent"] for r in page["Results"]]
            token = page.get("NextToken")
            if not token:
                break
        if found:
            return found
    return []


def parse_trace(text: str) -> tuple[list[dict], int]:
    """Spans of a JSON Lines trace, and how many lines were skipped (truncated, foreign or unknown)."""
    spans, skipped = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if not isinstance(record, dict) or record.get("type") != "span" or record.get("schema_version") not in SCHEMA_VERSIONS:
            skipped += 1
            continue
        spans.append(record)
    return spans, skipped


def _row(run_name: str, span: dict) -> dict:
    usage = span.get("usage") or {}
    params = span.get("invocation_params") or {}
    error = span.get("error") or {}
    return {
        "run_name": run_name, "trace_id": span.get("trace_id"), "span_id": span.get("span_id"),
        "parent_id": span.get("parent_id"), "kind": span.get("kind"), "name": span.get("name"),
        "start_time": span.get("start_time"), "latency_ms": span.get("latency_ms"),
        "input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens"),
        "total_tokens": usage.get("total_tokens"), "status": span.get("status"),
        "input_text": span.get("input_text"), "output_text": span.get("output_text"),
        "model_name": params.get("model_name"), "temperature": params.get("temperature"),
        "error": f"{error.get('type')}: {error.get('message')}" if error else None,
    }


def _run_name(tc: dict, experiment_name: str | None) -> str:
    name = tc["TrialComponentName"]
    for parent in tc.get("Parents", []):
        prefix = f"{parent.get('ExperimentName', '').lower()}-"
        if name.lower().startswith(prefix):
            return name[len(prefix):]
    return name


def _fetch(s3, tc: dict, experiment_name: str | None) -> tuple[str, list[dict], str]:
    run_name = _run_name(tc, experiment_name)
    artifact = (tc.get("OutputArtifacts") or {}).get(ARTIFACT)
    if not artifact or not str(artifact.get("Value", "")).startswith("s3://"):
        return run_name, [], "no_trace"
    bucket, _, key = artifact["Value"][5:].partition("/")
    try:
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
    except Exception as error:  # a missing or unreadable object is reported for this run only
        code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        return run_name, [], f"missing_object ({code})"
    spans, skipped = parse_trace(text)
    status = "ok" if not skipped else f"skipped_lines ({skipped})"
    if not spans and skipped:
        status = f"unreadable ({skipped} lines)"
    return run_name, spans, status


def load_traces(experiment_name: str | None = None, run_names: list[str] | None = None,
                sagemaker_session=None, max_workers: int = 16) -> pd.DataFrame:
    """One row per span across the runs; df.attrs['run_status'] says how each run's trace loaded."""
    if not experiment_name:
        raise ValueError("load_traces needs experiment_name (and optionally run_names to pick runs).")
    session = sagemaker_session or open_session()
    tcs = list_trial_components(session, experiment_name)
    if run_names is not None:
        wanted = {n.lower() for n in run_names}
        tcs = [tc for tc in tcs if _run_name(tc, experiment_name).lower() in wanted]
    s3 = session.boto_session.client("s3")
    rows, statuses = [], []
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        results = pool.map(lambda tc: _fetch(s3, tc, experiment_name), tcs)
        for run_name, spans, status in tqdm(results, total=len(tcs), desc="traces", disable=len(tcs) < 20):
            rows += [_row(run_name, span) for span in spans]
            statuses.append({"run_name": run_name, "trace_status": status, "spans": len(spans)})
            if status != "ok":
                log.warning("Run %s: trace %s.", run_name, status)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if len(frame):
        frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True, errors="coerce")
    frame.attrs["run_status"] = pd.DataFrame(statuses, columns=["run_name", "trace_status", "spans"])
    return frame
