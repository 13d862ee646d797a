"""The per-row results of an evaluation: a local JSONL spool, its running aggregates, the run's segments.

Like the trace, every execution of a run (a first run, a resume, another machine) writes only its own
immutable segment objects under the run's `evaluation-results/` prefix; readers read every segment in
order and keep the first record of each row. Rows are appended and flushed one by one locally, so an
interrupted evaluation keeps every finished row, and the next execution uploads what was left.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

RESULTS_ARTIFACT = "evaluation-results"
SEGMENTS_MEDIA_TYPE = "application/x-evaluation-results-segments"  # the artifact is a prefix of JSONL segments
SEGMENT_BYTES = 8 * 2**20  # at most this much a segment object, so an upload never holds more in memory


class Aggregates:
    """Running totals over result rows: scorer means, latencies, errors, how the cost was found."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.latencies = array("d")  # 8 bytes a row: 100,000 rows are under 1 MB
        self.rows = 0
        self.row_errors = 0
        self.scorer_errors = 0
        self.cost_statuses: set[str] = set()

    def add(self, row: dict) -> None:
        self.rows += 1
        if row.get("error"):
            self.row_errors += 1
        self.scorer_errors += len(row.get("score_errors") or ())
        sums, counts = self.sums, self.counts
        for name, value in (row.get("scores") or {}).items():
            if name not in sums:
                sums[name], counts[name] = 0.0, 0
            if value is not None and value == value:  # not None, not NaN
                sums[name] += value
                counts[name] += 1
        latency = row.get("latency_ms")
        if latency is not None:
            self.latencies.append(latency)
        status = row.get("cost_status")
        if status and status not in self.cost_statuses:
            self.cost_statuses.update(status.split(","))

    def metrics(self, scorer_names: list[str]) -> dict[str, float]:
        """Run metrics: each scorer's mean under its name, latency p50/p95, row and error counts."""
        out: dict[str, float] = {}
        for name in scorer_names:
            if self.counts.get(name):
                out[name] = self.sums[name] / self.counts[name]
        if self.latencies:
            ordered = sorted(self.latencies)
            out["latency_p50_ms"] = _percentile(ordered, 50)
            out["latency_p95_ms"] = _percentile(ordered, 95)
        out.update(rows=float(self.rows), row_errors=float(self.row_errors), scorer_errors=float(self.scorer_errors))
        return out

    def cost_basis(self) -> str:
        statuses = self.cost_statuses - {"no_usage"}
        if not statuses:
            return "no usage reported"
        if "unknown_model" in statuses:
            return "unknown model: no cost_usd (pass prices=)"
        if statuses == {"offline"}:
            return "offline model: 0 USD"
        return "user prices" if "user_prices" in statuses else "genai-prices"


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# Reading: every segment of a run, in order, each row once


def result_uris(artifacts: dict) -> list[str]:
    """A run's results locations from its OutputArtifacts: an earlier single object first, then the prefix.

    A run evaluated before segments has one object (a value not ending in "/"): it still reads.
    """
    values = []
    for name in (f"{RESULTS_ARTIFACT}-earlier", RESULTS_ARTIFACT):
        held = artifacts.get(name) or {}
        values.append(str(held.get("Value", "") if isinstance(held, dict) else getattr(held, "value", "") or ""))
    return [value for value in values if value.startswith("s3://")]


def iter_result_lines(s3, uris: Iterable[str], skip_prefix: str | None = None) -> Iterator[bytes]:
    """Every line of every results object under `uris`, in key order, streamed (never a whole object)."""
    from ..analysis.traces import trace_keys

    for uri in uris:
        for bucket, key in trace_keys(s3, uri):
            if skip_prefix and f"s3://{bucket}/{key}".startswith(skip_prefix):
                continue
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            yield from body.iter_lines(chunk_size=1 << 16)


def unique_rows(lines: Iterable[bytes], seen: set | None = None) -> Iterator[dict]:
    """The evaluation_row records of JSONL lines, the first of each (row, row_key) only."""
    seen = set() if seen is None else seen
    for line in lines:
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(row, dict) or row.get("type") != "evaluation_row":
            continue
        key = hash((row.get("row"), row.get("row_key")))
        if key not in seen:
            seen.add(key)
            yield row


def rows_frame(rows: Iterable[dict]) -> Any:
    """Result rows as a DataFrame: one row per dataset row, `score.<name>` columns, sorted by row."""
    import pandas as pd

    flat_rows = []
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "scores"}
        flat.update({f"score.{k}": (math.nan if v is None else v) for k, v in (row.get("scores") or {}).items()})
        flat_rows.append(flat)
    return pd.DataFrame(flat_rows).sort_values("row").reset_index(drop=True) if flat_rows else pd.DataFrame()


def read_run_results(session, trial_component_name: str) -> Any:
    """Every recorded row of one evaluated run (all its segments) as a DataFrame."""
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=trial_component_name)
    uris = result_uris(tc.get("OutputArtifacts") or {})
    return rows_frame(unique_rows(iter_result_lines(session.boto_session.client("s3"), uris)))


def read_results(path: str | Path) -> Any:
    """A local results JSONL file (one execution's spool, or a downloaded object) as a DataFrame."""
    with open(path, "rb") as handle:
        return rows_frame(unique_rows(handle))


# Writing: this execution's spool, uploaded as its own segments


def _writer_id() -> str:
    from ..tracking.spool import new_writer_id

    return new_writer_id()


class ResultsSpool:
    """This execution's results file; knows every row recorded before (any writer), uploads its own segments.

    The local file `<dir>/<experiment>--<run>--<hash of store and prefix>.jsonl` keeps its writer id and uploaded offset
    beside it (`.meta.json`), so a re-run on the same machine goes on from where the last upload stopped.
    """

    def __init__(self, directory: Path, experiment_name: str, run, artifact_name: str = RESULTS_ARTIFACT,
                 upload_interval_s: float = 30.0):
        from ..tracking.redact import Redactor
        from ..tracking.store import ExperimentsStore

        self.run = run
        self.artifact_name = artifact_name
        self.store = ExperimentsStore.for_run(run, artifact_name)
        self.prefix_uri = self.store.trace_uri
        run_name = getattr(run, "run_name", None) or self.store.tc_name
        # The store's identity (the stand-in's folder, or the account) as well as the prefix: every local store
        # has the same default bucket, and a spool of another store must never look like this run's rows.
        where = json.dumps(self.store.identity(), sort_keys=True, default=str) + self.prefix_uri
        tag = hashlib.sha256(where.encode()).hexdigest()[:8]
        self.path = Path(directory) / f"{experiment_name}--{run_name}--{tag}.jsonl"
        self.meta_path = self.path.with_name(self.path.name[: -len(".jsonl")] + ".meta.json")
        self.upload_interval_s = upload_interval_s
        self.aggregates = Aggregates()
        self._done: set[int] = set()  # hashes of (row, row_key): ~60 bytes a row, not the row
        self._redact = Redactor()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        legacy = Path(directory) / f"{experiment_name}--{run_name}.jsonl"  # a spool from before segments
        if legacy.is_file() and not self.path.exists():
            legacy.rename(self.path)  # its rows are read below and sent as this writer's segments
        meta = self._read_meta()
        self.writer_id: str = meta.get("writer_id") or _writer_id()
        self.uploaded: int = int(meta.get("uploaded") or 0)
        self._linked = False
        self._load_recorded()
        self.done_count = len(self._done)
        self._file = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        self._last_upload = time.monotonic()

    def _read_meta(self) -> dict:
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) and meta.get("prefix") == self.prefix_uri else {}

    def _write_meta(self) -> None:
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"writer_id": self.writer_id, "uploaded": self.uploaded, "prefix": self.prefix_uri}))
        tmp.replace(self.meta_path)

    def _load_recorded(self) -> None:
        """Rows of earlier executions: the run's segments (other writers') and this machine's spool."""
        tc = getattr(self.run, "_trial_component", None)
        artifacts = dict(getattr(tc, "output_artifacts", None) or {})
        uris = [u for u in result_uris(artifacts) if u != self.prefix_uri] + [self.prefix_uri]
        mine = f"{self.prefix_uri}{self.writer_id}/"
        for row in unique_rows(iter_result_lines(self.store.s3, uris, skip_prefix=mine), self._done):
            self.aggregates.add(row)
        self._earlier = next((u for u in uris if not u.endswith("/")), None)
        if self.path.exists():
            self._load_local()

    def _load_local(self) -> None:
        good = 0
        with open(self.path, "rb") as handle:
            lines = []
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # cut by a crash: that row runs again
                good += len(line)
                lines.append(line)
                if len(lines) >= 1024:
                    self._add_lines(lines)
                    lines = []
            self._add_lines(lines)
        if good != self.path.stat().st_size:
            with open(self.path, "r+b") as handle:
                handle.truncate(good)
        self.uploaded = min(self.uploaded, good)

    def _add_lines(self, lines: list[bytes]) -> None:
        for row in unique_rows(lines, self._done):
            self.aggregates.add(row)

    def has(self, index: int, key: str) -> bool:
        return hash((index, key)) in self._done

    def write(self, row: dict) -> None:
        from ..tracking.serialize import to_jsonable

        self._file.write(orjson.dumps(to_jsonable(row, 20_000, self._redact)) + b"\n")
        self._file.flush()  # a finished row survives a crash of this process
        self._done.add(hash((row["row"], row["row_key"])))
        self.aggregates.add(row)

    def maybe_upload(self) -> None:
        """Send what is new as segments when upload_interval_s has passed (a failure waits for the next)."""
        if time.monotonic() - self._last_upload < self.upload_interval_s:
            return
        try:
            self._upload()
        except Exception as error:  # the rows stay in the local spool; the next upload sends them
            log.warning("Uploading evaluation results failed (%s: %s); they stay in %s and go with the next upload.",
                        type(error).__name__, error, self.path)

    def close(self) -> None:
        self._file.close()

    def upload(self) -> None:
        """This execution's rows since the last upload, as new immutable segments, and the run's link to them."""
        try:
            self._upload()
        except Exception:
            log.warning("Evaluation results not all uploaded: they stay in %s (uploaded up to byte %d); re-running "
                        "the same run sends them.", self.path, self.uploaded)
            raise

    def _upload(self) -> None:
        from ..tracking.store import segment_name

        self._last_upload = time.monotonic()
        if not self._file.closed:
            self._file.flush()
        size = self.path.stat().st_size
        with open(self.path, "rb") as handle:
            while self.uploaded < size:
                handle.seek(self.uploaded)
                body = handle.read(min(SEGMENT_BYTES, size - self.uploaded))
                cut = body.rfind(b"\n") + 1  # whole lines only
                if cut == 0:
                    if len(body) < SEGMENT_BYTES:
                        break  # a line still being written
                    body += handle.readline()  # one line longer than a segment: sent whole
                    cut = len(body)
                self.store.put_segment(segment_name(self.writer_id, self.uploaded), body[:cut])
                self.uploaded += cut
                self._write_meta()
        self.link()

    def link(self) -> None:
        """The run's artifact names the prefix; a single-object artifact from before stays as `-earlier`."""
        if self._linked:
            return
        from ..tracking.store import run_method

        log_artifact = run_method(self.run, "log_artifact")
        if self._earlier:
            log_artifact(f"{self.artifact_name}-earlier", self._earlier, media_type="application/jsonl")
        log_artifact(self.artifact_name, self.prefix_uri, media_type=SEGMENTS_MEDIA_TYPE)
        tc = getattr(self.run, "_trial_component", None)
        if tc is not None:
            tc.save()  # linked now, not only when the Run exits
        self._linked = True
