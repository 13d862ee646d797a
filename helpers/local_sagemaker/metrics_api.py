"""The sagemaker-metrics service (BatchPutMetrics, BatchGetMetrics) and the metric summaries SageMaker derives.

Describe and Search show a trial component's metrics as Min/Max/Avg/StdDev/Last/Count per metric name.
"""

from __future__ import annotations

import math

from .errors import ResourceNotFound
from .store import Store


def summarize(points: list[tuple[str, float, float]]) -> list[dict]:
    """One TrialComponentMetricSummary per metric name, from (name, value, timestamp) in logging order."""
    by_name: dict[str, list[tuple[float, float]]] = {}
    for name, value, timestamp, *_ in points:
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


    def BatchGetMetrics(self, p):
        return {"MetricQueryResults": [self._query(q) for q in p["MetricQueries"]]}

    def _query(self, q: dict) -> dict:
        name = q["ResourceArn"].rpartition("/")[2]
        if "experiment-trial-component/" not in q["ResourceArn"] or self.store.get("trial-component", name) is None:
            return {"Status": "ValidationError", "Message": f"Resource {q['ResourceArn']} does not exist.",
                    "XAxisValues": [], "MetricValues": []}
        by_step = q["Period"] == "IterationNumber" or q.get("XAxisType") == "IterationNumber"
        start, end = q.get("Start"), q.get("End")
        buckets: dict[float, list[float]] = {}
        for metric, value, timestamp, step in self.store.metric_points(name):
            if metric != q["MetricName"] or (start is not None and timestamp < start) or (
                    end is not None and timestamp > end):
                continue
            if by_step:
                if step is None:
                    continue
                x = step
            else:
                width = _PERIOD_S[q["Period"]]
                x = int(timestamp // width * width)
            buckets.setdefault(x, []).append(value)
        xs = sorted(buckets)
        values = [_STAT[q["MetricStat"]](buckets[x]) for x in xs]
        return {"Status": "Complete", "XAxisValues": [int(x) for x in xs], "MetricValues": values}


_PERIOD_S = {"OneMinute": 60, "FiveMinute": 300, "OneHour": 3600}
_STAT = {
    "Min": min, "Max": max, "Last": lambda v: v[-1], "Count": lambda v: float(len(v)),
    "Avg": lambda v: math.fsum(v) / len(v),
    "StdDev": lambda v: math.sqrt(math.fsum((x - math.fsum(v) / len(v)) ** 2 for x in v) / (len(v) - 1))
    if len(v) > 1 else 0.0,
}


def _epoch(value) -> float:
    if isinstance(value, int | float):
        return float(value)
    return value.timestamp()
