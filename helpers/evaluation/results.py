"""The per-row results of an evaluation: a JSONL spool on disk, its running aggregates, the run artifact.

Rows are appended and flushed one by one, so an interrupted evaluation keeps every finished row.
"""

from __future__ import annotations

import json
import logging
import math
from array import array
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/jsonl"


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
        self.scorer_errors += len(row.get("score_errors") or {})
        for name, value in (row.get("scores") or {}).items():
            self.sums.setdefault(name, 0.0)
            self.counts.setdefault(name, 0)
            if isinstance(value, int | float) and not math.isnan(value):
                self.sums[name] += value
                self.counts[name] += 1
        if isinstance(row.get("latency_ms"), int | float):
            self.latencies.append(row["latency_ms"])
        self.cost_statuses.update(s for s in (row.get("cost_status") or "").split(",") if s)

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


class ResultsSpool:
    """The results file of one run: resumes from itself or from the run's artifact, appends rows."""

    def __init__(self, path: Path, run, artifact_name: str):
        from ..tracking.redact import Redactor

        self.path = Path(path)
        self.run = run
        self.artifact_name = artifact_name
        self.aggregates = Aggregates()
        self._done: set[int] = set()  # hashes of (row, row_key): ~60 bytes a row, not the row
        self._redact = Redactor()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self._download_earlier()
        self._load()
        self.done_count = len(self._done)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def _download_earlier(self) -> None:
        artifact = (getattr(getattr(self.run, "_trial_component", None), "output_artifacts", None) or {}).get(
            self.artifact_name)
        uri = str(getattr(artifact, "value", None) or "")
        if not uri.startswith("s3://"):
            return
        from ..tracking.store import session_of

        bucket, _, key = uri[5:].partition("/")
        body = session_of(self.run).boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        with open(self.path, "wb") as handle:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                handle.write(chunk)
        log.info("Resuming %s from its recorded results (%s).", self.path.name, uri)

    def _load(self) -> None:
        if not self.path.exists():
            return
        good = 0
        with open(self.path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # cut by a crash: that row runs again
                good += len(line)
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and row.get("type") == "evaluation_row":
                    key = hash((row.get("row"), row.get("row_key")))
                    if key not in self._done:
                        self._done.add(key)
                        self.aggregates.add(row)
        if good != self.path.stat().st_size:
            with open(self.path, "r+b") as handle:
                handle.truncate(good)

    def has(self, index: int, key: str) -> bool:
        return hash((index, key)) in self._done

    def write(self, row: dict) -> None:
        from ..tracking.serialize import to_jsonable

        line = json.dumps(to_jsonable(row, 20_000, self._redact), ensure_ascii=False)
        self._file.write(line + "\n")
        self._file.flush()
        self._done.add(hash((row["row"], row["row_key"])))
        self.aggregates.add(row)

    def close(self) -> None:
        self._file.close()

    def upload(self) -> None:
        """The whole table as the run's one results artifact (replacing the earlier one on resume)."""
        self.run.log_file(str(self.path), name=self.artifact_name, media_type=MEDIA_TYPE)


def read_results(path: str | Path) -> Any:
    """A results JSONL file as a DataFrame: one row per dataset row, one column per score."""
    import pandas as pd

    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if row.get("type") != "evaluation_row":
                continue
            flat = {k: v for k, v in row.items() if k != "scores"}
            flat.update({f"score.{k}": (math.nan if v is None else v) for k, v in (row.get("scores") or {}).items()})
            rows.append(flat)
    return pd.DataFrame(rows).sort_values("row").reset_index(drop=True) if rows else pd.DataFrame()
