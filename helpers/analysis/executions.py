"""load_executions: one row per writer of each run's trace (an execution of the run, and what recovery sent for it).

Each execution writes its own segments under the run's trace prefix, with a start record and, when it ended,
an end record (its status, message, parameters and totals). This reads them back, segment by segment.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from ..experiments import open_session
from .jsonl import line_reader
from .segments import Segment, read_segments, trace_uris, writer_started
from .traces import SCHEMA_VERSIONS, run_name_of, runs_of

COLUMNS = ["run_name", "execution_id", "started", "status", "message", "spans", "first_span_start", "last_span_end",
           "last_upload", "segments", "unreadable_segments", "recovered", "recovered_segments", "pid",
           "earlier_execution", "numbers_sent_to_run", "params", "totals"]
SINGLE_OBJECT = "(single-object trace)"  # the execution_id of a trace written before segments


def load_executions(experiment_name: str, run_names: list[str] | None = None, sagemaker_session=None,
                    max_workers: int = 16) -> pd.DataFrame:
    """One row per execution of each run, in writing order (COLUMNS).

    status: the end record's ("Completed", "Failed", ...), or "not ended" when the trace holds none (the
    process was killed, or still runs). recovered: some of its segments were sent by upload_pending_spools.
    segments / unreadable_segments: the names of its segment objects under the trace prefix, and those
    that could not be read ("<name> (<why>)"). spans: its spans (each span id counted once per run).
    started: its writer id's creation time; last_upload: when its last segment was stored.
    """
    if not experiment_name:
        raise ValueError("load_executions needs experiment_name (and optionally run_names to pick runs).")
    from . import mlflow_readback  # noqa: PLC0415

    if mlflow_readback.is_mlflow(sagemaker_session):
        raise ValueError("load_executions reads SageMaker Experiments traces; an MLflow tracker keeps each "
                         "writer's segments as run artifacts under langchain-trace/ (see the README).")
    session = sagemaker_session or open_session()
    tcs = runs_of(session, experiment_name, run_names)
    s3 = session.boto_session.client("s3")
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        rows = [row for rows in pool.map(lambda tc: executions_of(run_name_of(tc), read_segments(s3, tc)),
                                         (tc for tc in tcs if trace_uris(tc)))
                for row in rows]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("started", "first_span_start", "last_span_end", "last_upload"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    return frame


def executions_of(run_name: str, segments: list[Segment]) -> list[dict]:
    """The executions of one run's trace from its segments (in reading order)."""
    rows: dict[str, dict] = {}
    seen: set[str] = set()
    for segment in segments:
        writer = segment.writer or SINGLE_OBJECT
        row = rows.get(writer) or rows.setdefault(writer, _new_row(run_name, writer))
        row["segments"].append(segment.name)
        row["recovered_segments"] += segment.recovered
        if segment.last_modified is not None:
            row["last_upload"] = max(filter(None, [row["last_upload"], segment.last_modified]))
        if not segment.readable:
            row["unreadable_segments"].append(f"{segment.name} ({segment.error})")
            continue
        _read_records(row, segment.text, seen)
    for row in rows.values():
        row["recovered"] = row["recovered_segments"] > 0
        if row["status"] is None:
            row["status"] = "not ended" if row["execution_id"] != SINGLE_OBJECT else None
    return list(rows.values())


def _new_row(run_name: str, writer: str) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(run_name=run_name, execution_id=writer, started=writer_started(writer), spans=0, segments=[],
               unreadable_segments=[], recovered_segments=0)
    return row


def _read_records(row: dict, text: str, seen: set[str]) -> None:
    """Count the segment's spans and take its execution records into the row."""
    loads, times = line_reader(text), defaultdict(list)
    for line in text.split("\n"):
        if '"type"' not in line:
            continue
        try:
            record = loads(line)
        except (ValueError, RecursionError):
            continue
        if not _known(record):
            continue
        if record.get("type") == "span":
            span_id = record.get("span_id")
            if isinstance(span_id, str):
                if span_id in seen:  # a span sent twice (a recovery repeating an upload) counts once
                    continue
                seen.add(span_id)
            row["spans"] += 1
            times["start"].append(record.get("start_time"))
            times["end"].append(record.get("end_time"))
        elif record.get("type") == "execution":
            if record.get("event") == "start":
                row.update(pid=record.get("pid"), earlier_execution=record.get("earlier_execution"))
            elif record.get("event") == "end":
                row.update({k: record.get(k) for k in ("status", "message", "params", "totals",
                                                       "numbers_sent_to_run")})
    starts = [t for t in times["start"] if isinstance(t, str)] + [row["first_span_start"]]
    ends = [t for t in times["end"] if isinstance(t, str)] + [row["last_span_end"]]
    row["first_span_start"] = min(filter(None, starts), default=None)
    row["last_span_end"] = max(filter(None, ends), default=None)


def _known(record) -> bool:
    try:
        return isinstance(record, dict) and record.get("schema_version") in SCHEMA_VERSIONS
    except TypeError:  # an unhashable version is not one we know
        return False
