"""Search at scale on the stand-in: 10,000 trial components, a metric filter and a sort, timed per page.

Seeds through the stand-in's own operation handlers (the state a client would leave), times the real boto3 client.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from helpers.experiments import local_backend, open_session

EXPERIMENT = "bench-search"


def seed(backend, components: int) -> None:
    """components runs in one experiment (100 trials), each with two parameters and an accuracy metric."""
    api, metrics = backend.sagemaker, backend.metrics
    rng = random.Random(7)
    api.CreateExperiment({"ExperimentName": EXPERIMENT})
    trials = [f"trial-{t}" for t in range(max(1, components // 100))]
    for trial in trials:
        api.CreateTrial({"TrialName": trial, "ExperimentName": EXPERIMENT})
    for i in range(components):
        name = f"tc-{i}"
        api.CreateTrialComponent({"TrialComponentName": name, "Parameters": {
            "temperature": {"NumberValue": round(rng.random(), 3)}, "model": {"StringValue": f"m{i % 7}"}}})
        api.AssociateTrialComponent({"TrialComponentName": name, "TrialName": trials[i % len(trials)]})
        metrics.BatchPutMetrics({"TrialComponentName": name, "MetricData": [
            {"MetricName": "accuracy", "Value": rng.random(), "Timestamp": time.time(), "Step": step}
            for step in range(3)]})


def run(quick: bool = False) -> dict:
    components = 300 if quick else 10_000
    rounds = 3 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        session = open_session("local", local_dir=Path(tmp) / "local")
        started = time.perf_counter()
        seed(local_backend(session), components)
        seed_seconds = time.perf_counter() - started
        client = session.sagemaker_client
        request = {
            "Resource": "ExperimentTrialComponent",
            "SearchExpression": {"Filters": [
                {"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": EXPERIMENT},
                {"Name": "Metrics.accuracy.Max", "Operator": "GreaterThan", "Value": "0.5"}]},
            "SortBy": "Metrics.accuracy.Max", "SortOrder": "Descending", "MaxResults": 100,
        }
        first, later, matched = [], [], 0
        for _ in range(rounds):
            t0 = time.perf_counter()
            page = client.search(**request)
            first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.search(**request, NextToken=page["NextToken"])
            later.append(time.perf_counter() - t0)
        # every page of one search, to count what matched
        token = None
        while True:
            page = client.search(**request, **({"NextToken": token} if token else {}))
            matched += len(page["Results"])
            token = page.get("NextToken")
            if not token:
                break
    return {"components": components, "matched": matched, "page_size": 100, "rounds": rounds,
            "seed_seconds": seed_seconds, "first_page_ms": statistics.median(first) * 1000,
            "next_page_ms": statistics.median(later) * 1000}


def row(result: dict) -> str:
    """The README/bench table row."""
    ok = result["first_page_ms"] < 1000 and result["next_page_ms"] < 1000
    return (f"| 6. Search {result['components']:,} trial components, metric filter + sort, 100 per page "
            f"| first page {result['first_page_ms']:.0f} ms, next {result['next_page_ms']:.0f} ms "
            f"({result['matched']:,} matched) | | < 1 s | {'yes' if ok else 'no'} |")


if __name__ == "__main__":
    import sys

    print(row(run(quick="--quick" in sys.argv)))
