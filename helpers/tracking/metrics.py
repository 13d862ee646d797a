"""Counts what a run's metrics and parameters report: LLM and tool calls, errors, tokens, LLM latencies.

Thread-safe; the uploader takes a snapshot per upload and gives latencies back if the upload fails.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .spans import hyperparameters

# A BatchPutMetrics request carries at most 10 values: 6 totals + 4 latencies keep an upload to one request.
LATENCIES_PER_UPLOAD = 4


@dataclass
class MetricsSnapshot:
    params: dict[str, Any]
    totals: dict[str, int]
    latencies: list[float] = field(default_factory=list)


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
        self._logged_totals: dict[str, int] | None = None

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
                if self.log_hyperparameters:
                    self._params.update(hyperparameters(record["invocation_params"] or {}))
            elif kind == "tool":
                self._totals["tool_calls"] += 1
            if record["status"] == "error":
                self._totals["errors"] += 1

    def replace_latencies(self, other: RunMetrics) -> None:
        """Keep only the latencies another counter saw (crash recovery: those not logged yet)."""
        with self._lock:
            self._latencies = list(other._latencies)

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._totals)

    def take(self, all_latencies: bool) -> MetricsSnapshot | None:
        """What changed since the last confirmed upload; None when nothing did."""
        with self._lock:
            params = {k: v for k, v in self._params.items() if self._logged_params.get(k) != v}
            take = len(self._latencies) if all_latencies else LATENCIES_PER_UPLOAD
            latencies, self._latencies = self._latencies[:take], self._latencies[take:]
            if not params and not latencies and self._totals == self._logged_totals:
                return None
            return MetricsSnapshot(params, dict(self._totals), latencies)

    def confirm(self, snapshot: MetricsSnapshot) -> None:
        with self._lock:
            self._logged_params.update(snapshot.params)
            self._logged_totals = snapshot.totals

    def give_back(self, snapshot: MetricsSnapshot) -> None:
        """A failed upload: its latencies go first in the next one."""
        with self._lock:
            self._latencies[:0] = snapshot.latencies

    def pending(self) -> bool:
        with self._lock:
            return bool(self._latencies) or self._totals != self._logged_totals or any(
                self._logged_params.get(k) != v for k, v in self._params.items())
