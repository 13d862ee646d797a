"""The sagemaker-metrics service (BatchPutMetrics) and the metric summaries SageMaker derives from it.

Describe and Search show a trial component's metrics as Min/Max/Avg/StdDev/Last/Count per metric name.
"""

from __future__ import annotations

import math

from .errors import ResourceNotFound
from .store import Store


def summarize(points: list[tuple[str, float, float]]) -> list[dict]:
    """One TrialComponentMetricSummary per metric name, from (name, value, timestamp) in logging order."""
    by_name: dict[str, list[tuple[float, float]]] = {}
    for name, value, timestamp in points:
        by_name.setdefault(name, []).append((value, timestamp))
    summaries = []
    for name, logged in by_name.items():
        values = [value for value, _ in logged]
        count = len(values)
        avg = math.fsum(values) / count
        # sample standard deviation; a single value has no spread
        spread = math.fsum((v - avg) ** 2 for v in values) / (count - 1) if count > 1 else 0.0
        # "Last" is the latest by timestamp; of equal timestamps, the one logged later
        last_value, last_time = max(reversed(logged), key=lambda point: point[1])
        summaries.append(
            {
                "MetricName": name,
                "TimeStamp": last_time,
                "Max": max(values),
                "Min": min(values),
                "Last": last_value,
                "Count": count,
                "Avg": avg,
                "StdDev": math.sqrt(spread),
            }
        )
    return summaries


class MetricsAPI:
    """BatchPutMetrics into the store, keyed by trial component."""

    def __init__(self, store: Store, arn_of):
        self.store = store
        self._arn_of = arn_of

    def BatchPutMetrics(self, p):
        name = p["TrialComponentName"]
        if self.store.get("trial-component", name) is None:
            raise ResourceNotFound(
                f"TrialComponent '{self._arn_of('experiment-trial-component', name)}' does not exist."
            )
        points = [
            (m["MetricName"], float(m["Value"]), _epoch(m["Timestamp"]), m.get("Step"))
            for m in p["MetricData"]
        ]
        self.store.add_metrics(name, points)
        return {}

    def summaries(self, trial_component: str) -> list[dict]:
        return summarize(self.store.metric_points(trial_component))


def _epoch(value) -> float:
    if isinstance(value, int | float):
        return float(value)
    return value.timestamp()
