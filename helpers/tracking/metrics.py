"""Counts what one execution of a run reports: LLM and tool calls, errors (once each), tokens, LLM latencies.

Thread-safe; the uploader takes a snapshot per upload and gives back what a failed upload did not send.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .spans import SCHEMA_VERSION, hyperparameters

LATENCY_METRIC = "llm_latency_ms"  # one value per upload: the mean of the LLM calls it covers


@dataclass
class MetricsSnapshot:
    params: dict[str, Any]
    totals: dict[str, float]
    latencies: list[float]
    accepted: int = 0  # metric values the store accepted so far (totals first, then the latency)

    def values(self) -> dict[str, float]:
        """Running totals ("Last" is the run's figure), then this upload's mean LLM latency."""
        out = dict(self.totals)
        if self.latencies:
            out[LATENCY_METRIC] = sum(self.latencies) / len(self.latencies)
        return out


class RunMetrics:
    """Cumulative totals of one execution (logged as "Last" values), the latest LLM settings.

    llm_latency_ms_total (a running sum) over llm_calls is the exact mean LLM latency; llm_latency_ms
    gets one value per upload (the mean of its calls), so a loop of fast calls sends few values.
    """

    def __init__(self, log_hyperparameters: bool = True):
        self.log_hyperparameters = log_hyperparameters
        self._lock = threading.Lock()
        self._totals: dict[str, float] = {"llm_calls": 0, "tool_calls": 0, "errors": 0, "input_tokens": 0,
                                          "output_tokens": 0, "total_tokens": 0, "llm_latency_ms_total": 0.0}
        self._latencies: list[float] = []
        self._params: dict[str, Any] = {}
        self._last_params: dict | None = None  # the invocation params last read (the span's, read-only)
        self._logged_params: dict[str, Any] = {}
        self._logged_totals: dict[str, float] = {}
        self.latencies_sent = 0  # LLM latencies the run holds, in span order (kept in the spool's meta.json)

    def add(self, record: dict) -> None:
        """Count one finished span (its JSON-safe, redacted form)."""
        kind = record.get("kind")
        with self._lock:
            if kind in ("llm", "chat_model"):
                self._totals["llm_calls"] += 1
                latency = record.get("latency_ms")
                if isinstance(latency, int | float):
                    self._latencies.append(latency)
                    self._totals["llm_latency_ms_total"] += latency
                usage = record.get("usage")
                for key, value in (usage.items() if isinstance(usage, dict) else ()):
                    if key in self._totals and isinstance(value, int | float):
                        self._totals[key] += int(value)
                cost = record.get("cost_usd")
                if isinstance(cost, int | float):  # no cost_usd metric until a call's price is known
                    self._totals["cost_usd"] = self._totals.get("cost_usd", 0.0) + cost
                params = record.get("invocation_params")
                if self.log_hyperparameters and isinstance(params, dict) and params != self._last_params:
                    self._params.update(hyperparameters(params))
                    self._last_params = params  # calls of one model repeat their settings: read them once
            elif kind == "tool":
                self._totals["tool_calls"] += 1
            error = record.get("error")
            # an exception that travels up through its parents is one failure, counted where it was raised
            if record.get("status") == "error" and not (isinstance(error, dict) and error.get("raised_in")):
                self._totals["errors"] += 1

    @classmethod
    def from_trace(cls, lines: Iterable[bytes | str], latencies_sent: int, log_hyperparameters: bool = True) -> RunMetrics:
        """A counter rebuilt from a spool: totals over every span, latencies past the first `latencies_sent`."""
        metrics = cls(log_hyperparameters)
        for span in spans_in(lines):
            metrics.add(span)
        metrics.latencies_sent = min(latencies_sent, len(metrics._latencies))
        del metrics._latencies[: metrics.latencies_sent]
        return metrics

    def totals(self) -> dict[str, float]:
        with self._lock:
            return dict(self._totals)

    def params(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._params)

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
        """A failed upload: totals it got accepted are confirmed; an unsent latency mean goes in the next one."""
        with self._lock:
            accepted = list(snapshot.totals)[: snapshot.accepted]
            self._logged_totals.update({k: snapshot.totals[k] for k in accepted})
            if snapshot.latencies and snapshot.accepted > len(snapshot.totals):
                self.latencies_sent += len(snapshot.latencies)
            else:
                self._latencies[:0] = snapshot.latencies

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
