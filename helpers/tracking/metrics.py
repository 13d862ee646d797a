"""Counts what a run's metrics and parameters report: LLM and tool calls, errors, tokens, LLM latencies.

Thread-safe; the uploader takes a snapshot per upload and gives back what a failed upload did not send.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .spans import SCHEMA_VERSION, hyperparameters


@dataclass
class MetricsSnapshot:
    params: dict[str, Any]
    totals: dict[str, int]
    latencies: list[float] = field(default_factory=list)
    latencies_accepted: int = 0  # set by the uploader as BatchPutMetrics accepts them


class RunMetrics:
    """Cumulative totals (logged as "Last" values), one latency per LLM call, the latest LLM settings."""

    def __init__(self, log_hyperparameters: bool = True):
        self.log_hyperparameters = log_hyperparameters
        self._lock = threading.Lock()
        self._totals = {"llm_calls": 0, "tool_calls": 0, "errors": 0,
                        "input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        self._latencies: list[float] = []
        self._params: dict[str, Any] = {}
        self._logged_params: dict[str, Any] = {}
        self._logged_totals: dict[str, int] = {}
        self.latencies_sent = 0  # LLM latencies the run holds, in span order (kept in the spool's meta.json)

    def add(self, record: dict) -> None:
        """Count one finished span (before serialization: plain Python values)."""
        kind = record["kind"]
        with self._lock:
            if kind in ("llm", "chat_model"):
                self._totals["llm_calls"] += 1
                if record["latency_ms"] is not None:
                    self._latencies.append(record["latency_ms"])
                for key, value in (record["usage"] or {}).items():
                    if key in self._totals and isinstance(value, int | float):
                        self._totals[key] += int(value)
                if record.get("cost_usd") is not None:  # no cost_usd metric until a call's price is known
                    self._totals["cost_usd"] = self._totals.get("cost_usd", 0.0) + record["cost_usd"]
                if self.log_hyperparameters:
                    self._params.update(hyperparameters(record["invocation_params"] or {}))
            elif kind == "tool":
                self._totals["tool_calls"] += 1
            if record["status"] == "error":
                self._totals["errors"] += 1

    @classmethod
    def from_trace(cls, lines: Iterable[bytes | str], latencies_sent: int, log_hyperparameters: bool = True) -> RunMetrics:
        """A counter rebuilt from a trace: totals over every span, latencies past the first `latencies_sent`."""
        metrics = cls(log_hyperparameters)
        for span in spans_in(lines):
            metrics.add({"kind": span.get("kind"), "status": span.get("status"), "usage": span.get("usage"),
                         "latency_ms": span.get("latency_ms"), "invocation_params": span.get("invocation_params"),
                         "cost_usd": span.get("cost_usd")})
        metrics.latencies_sent = min(latencies_sent, len(metrics._latencies))
        del metrics._latencies[: metrics.latencies_sent]
        return metrics

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._totals)

    def take(self) -> MetricsSnapshot | None:
        """Everything not confirmed yet; None when nothing changed."""
        with self._lock:
            params = {k: v for k, v in self._params.items() if self._logged_params.get(k) != v}
            latencies, self._latencies = self._latencies, []
            totals = {k: v for k, v in self._totals.items() if self._logged_totals.get(k) != v}  # "Last" values
            if not params and not latencies and not totals:
                return None
            return MetricsSnapshot(params, totals, latencies)

    def confirm(self, snapshot: MetricsSnapshot) -> None:
        with self._lock:
            self._logged_params.update(snapshot.params)
            self._logged_totals.update(snapshot.totals)
            self.latencies_sent += len(snapshot.latencies)

    def give_back(self, snapshot: MetricsSnapshot) -> None:
        """A failed upload: the latencies it did not get accepted go first in the next one."""
        with self._lock:
            self.latencies_sent += snapshot.latencies_accepted
            self._latencies[:0] = snapshot.latencies[snapshot.latencies_accepted:]

    def pending(self) -> bool:
        with self._lock:
            return bool(self._latencies) or self._totals != self._logged_totals or any(
                self._logged_params.get(k) != v for k, v in self._params.items())


def spans_in(lines: Iterable[bytes | str]) -> Iterable[dict]:
    """The span records of trace lines, skipping lines cut by a crash and foreign records."""
    for raw in lines:
        try:
            span = json.loads(raw)
        except ValueError:
            continue
        if isinstance(span, dict) and span.get("type") == "span" and span.get("schema_version") == SCHEMA_VERSION:
            yield span
