"""`python -m bench [--quick]`: overhead, requests, latency, memory and read-back, ours against the seed's handler.

Prints a table and writes build/bench.json. Everything runs against the local stand-in, in one process
(memory in a child process), and every comparison is measured in the same run, interleaved, as medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.experiments import local_backend, open_session

from . import evaluation, search_scale
from . import hot_path as hp6
from . import peers as peer_rows
from . import workloads as w
from .mlflow_backend import mlflow_backend
from .mlflow_backend import table as mlflow_table

ROOT = Path(__file__).resolve().parent.parent


def hot_path(session, spool: Path, invocations: int, rounds: int) -> dict:
    """1. Per-event cost of tracking the scenario-2 chain: untracked, ours, and the seed's handler."""
    chain = w.scenario_2_chain()
    times = {"untracked": [], "noop_tracer": [], "ours": [], "seed": []}
    events = 0
    for r in range(rounds):
        times["untracked"].append(w.timed(lambda: [chain.invoke("t") for _ in range(invocations)]) / invocations)
        noop = w.noop_tracer()
        times["noop_tracer"].append(w.timed(lambda noop=noop: [chain.invoke("t", config={"callbacks": [noop]})
                                                              for _ in range(invocations)]) / invocations)
        with w.open_run(session, "bench-hot", f"ours-{r}") as run:
            ours = w.our_handler(run, spool)
            chain.invoke("warm up", config={"callbacks": [ours]})  # registers the artifact
            events = ours.spool.lines  # spans per invocation
            # Uploads run on a background worker: the time includes waiting for the last of them.
            times["ours"].append(w.timed(lambda ours=ours: ([chain.invoke("t", config={"callbacks": [ours]})
                                                             for _ in range(invocations)], ours.wait_for_uploads()))
                                 / invocations)
        seed_total = 0.0
        for i in range(invocations):  # a fresh run per call: the seed's handler stops at 30 artifacts a run
            with w.open_run(session, "bench-hot", f"seed-{r}-{i}") as run:
                seed = w.seed_handler(run)
                seed_total += w.timed(lambda seed=seed: chain.invoke("t", config={"callbacks": [seed]}))
        times["seed"].append(seed_total / invocations)
    med = {k: statistics.median(v) for k, v in times.items()}
    per_event = {k: v / events * 1e6 for k, v in med.items()}
    return {
        "events_per_invocation": events, "invocations": invocations, "rounds": rounds,
        "us_per_event": per_event,
        "tracking_overhead_us_per_event": {"ours": per_event["ours"] - per_event["untracked"],
                                           "seed": per_event["seed"] - per_event["untracked"]},
        "ratio_tracked_untracked": med["ours"] / med["untracked"],
        "ratio_noop_tracer_untracked": med["noop_tracer"] / med["untracked"],
        "ratio_seed_ours": med["seed"] / med["ours"],
    }


def requests_per_call(session, spool: Path, calls_list, latency_s: float = 0.0) -> dict:
    """2 and 3. Requests the stand-in counts per top-level call, and the latency the caller feels."""
    backend = local_backend(session)
    out = {}
    for calls in calls_list:
        chain = w.llm_calls_chain(calls)
        row = {}
        for who in ("ours", "seed"):
            with w.open_run(session, "bench-requests", f"{who}-{calls}-{int(latency_s * 1000)}") as run:
                handler = w.our_handler(run, spool) if who == "ours" else w.seed_handler(run)
                if who == "ours":
                    chain.invoke("warm", config={"callbacks": [handler]})  # the first call registers the artifact
                backend.reset_counts()
                backend.latency_s = latency_s
                elapsed = w.timed(lambda handler=handler, chain=chain: chain.invoke("go", config={"callbacks": [handler]}))
                if who == "ours":  # the upload the call handed to the background worker
                    row["ours_upload_seconds"] = w.timed(handler.wait_for_uploads)
                backend.latency_s = 0.0
                row[who] = {"requests": sum(backend.request_counts.values()), "seconds": elapsed,
                            "by_operation": dict(backend.request_counts)}
                if who == "seed":
                    row[who]["artifacts_kept"] = len(run._trial_component.output_artifacts)
        out[str(2 * calls)] = row
    return out


MEMORY_CHILD = """
import json, resource, sys, tempfile
from langchain_core.runnables import RunnableLambda
from helpers.experiments import open_session, Run
from helpers.tracking import SageMakerCallbackHandler
tracked = sys.argv[1] == "tracked"
d = tempfile.mkdtemp()
s = open_session("local", local_dir=d + "/local")
step = RunnableLambda(lambda x: x + 1)
def many(x):
    for _ in range(9999):
        x = step.invoke(x)
    return x
with Run(experiment_name="bench-memory", run_name="ten-k", sagemaker_session=s) as run:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cb = [SageMakerCallbackHandler(run, spool_dir=d + "/spool")] if tracked else []
    RunnableLambda(many).invoke(0, config={"callbacks": cb})
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_kib": after, "growth_kib": after - before}))
"""


def memory() -> dict:
    """4. Peak RSS of a 10,000-event run, tracked against untracked, each in a fresh process."""
    result = {}
    for mode in ("untracked", "tracked"):
        proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, mode], capture_output=True, text=True, check=True, cwd=ROOT)
        result[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["extra_mb"] = (result["tracked"]["peak_kib"] - result["untracked"]["peak_kib"]) / 1024
    return result


def read_back(session, runs: int, spans: int, latency_s: float, rounds: int) -> dict:
    """5. load_traces for many runs, 16 workers against 1, with injected per-request latency (medians)."""
    from helpers.analysis import load_traces

    w.make_traced_runs(session, "bench-readback", runs, spans)
    backend = local_backend(session)

    def load(workers: int) -> float:
        started = time.perf_counter()
        frame = load_traces("bench-readback", sagemaker_session=session, max_workers=workers, progress=False)
        elapsed = time.perf_counter() - started
        assert len(frame) == runs * spans
        return elapsed

    load(16)  # warm up: the first call in a process pays imports and a new S3 client
    times = {"no_latency_seconds": [], "parallel_seconds": [], "sequential_seconds": []}
    for _ in range(rounds):
        times["no_latency_seconds"].append(load(16))
        backend.latency_s = latency_s
        times["parallel_seconds"].append(load(16))
        times["sequential_seconds"].append(load(1))
        backend.latency_s = 0.0
    out = {"runs": runs, "spans_per_run": spans, "latency_ms": latency_s * 1000, "rounds": rounds,
           **{k: statistics.median(v) for k, v in times.items()}, "all_rounds": times}
    out["speedup"] = out["sequential_seconds"] / out["parallel_seconds"]
    return out


def table(results: dict) -> str:
    hp, req, lat, mem, rb = (results[k] for k in ("hot_path", "requests", "requests_with_latency", "memory", "read_back"))
    lines = [
        "| measurement | ours | seed's handler | target | met |",
        "| --- | --- | --- | --- | --- |",
        f"| 1. µs per event, scenario-2 chain ({hp['events_per_invocation']} events/call; untracked {hp['us_per_event']['untracked']:.0f} µs) "
        f"| {hp['us_per_event']['ours']:.0f} | {hp['us_per_event']['seed']:.0f} | | |",
        f"| 1. tracked / untracked | {hp['ratio_tracked_untracked']:.2f}x | | ≤ 1.15x | {'yes' if hp['ratio_tracked_untracked'] <= 1.15 else 'no'} |",
        f"| 1. seed / ours | {hp['ratio_seed_ours']:.0f}x | | ≥ 100x | {'yes' if hp['ratio_seed_ours'] >= 100 else 'no'} |",
        f"| 1. for scale: a BaseTracer that writes nothing / untracked | {hp['ratio_noop_tracer_untracked']:.2f}x | | | |",
    ]
    for events, row in req.items():
        ok = row["ours"]["requests"] <= 3
        puts = row["ours"]["by_operation"].get("s3.PutObject", 0)
        metrics = row["ours"]["by_operation"].get("sagemaker-metrics.BatchPutMetrics", 0)
        lines.append(f"| 2. requests per top-level call, {events} events ({int(events) // 2} LLM calls) | "
                     f"{row['ours']['requests']} ({puts} PutObject + {metrics} BatchPutMetrics) | "
                     f"{row['seed']['requests']} ({row['seed']['artifacts_kept']} artifacts kept) | ≤ 3 | {'yes' if ok else 'no'} |")
    for events, row in lat.items():
        ratio = row["seed"]["seconds"] / row["ours"]["seconds"]
        lines.append(f"| 3. felt latency with {results['latency_ms']:.0f} ms/request, {events} events | "
                     f"{row['ours']['seconds'] * 1000:.0f} ms (+ {row['ours_upload_seconds'] * 1000:.0f} ms upload in the background) | "
                     f"{row['seed']['seconds'] * 1000:.0f} ms ({ratio:.0f}x) | seed/ours ≥ 100x | "
                     f"{'yes' if ratio >= 100 else 'no'} |")
    lines.append(f"| 4. extra peak RSS, 10,000-event run | {mem['extra_mb']:.1f} MB | | ≤ 50 MB | {'yes' if mem['extra_mb'] <= 50 else 'no'} |")
    lines.append(f"| 5. load_traces {rb['runs']} runs × {rb['spans_per_run']} spans, {rb['latency_ms']:.0f} ms/request | "
                 f"{rb['parallel_seconds']:.1f} s (16 workers) vs {rb['sequential_seconds']:.1f} s (1) = {rb['speedup']:.1f}x | | ≥ 8x | "
                 f"{'yes' if rb['speedup'] >= 8 else 'no'} |")
    lines.append(f"| 5. load_traces without latency | {rb['no_latency_seconds']:.1f} s | | seconds | |")
    lines += hp6.rows(results) + peer_rows.rows(results)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run with small sizes")
    parser.add_argument("--output", default=str(ROOT / "build" / "bench.json"))
    args = parser.parse_args(argv)
    quick = args.quick
    latency = 0.02
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        session = open_session("local", local_dir=tmp / "local")
        spool = tmp / "spool"
        steps = [
            ("hot_path", lambda: hot_path(session, spool, invocations=3 if quick else 20, rounds=3 if quick else 5)),
            ("requests", lambda: requests_per_call(session, spool, [1, 5, 50] if not quick else [1, 5])),
            ("requests_with_latency", lambda: requests_per_call(session, spool, [5], latency_s=latency)),
            ("memory", memory),
            ("read_back", lambda: read_back(session, 50 if quick else 1000, 20 if quick else 100, latency,
                                           rounds=1 if quick else 3)),
            ("search_scale", lambda: search_scale.run(quick=quick)),
            # issue 13's hot-path targets, the floor and the peers, side by side in this run
            ("hot_path_targets", lambda: hp6.targets(session, spool, 3 if quick else 7, 5 if quick else 40,
                                                     3 if quick else 10)),
            ("embeddings", lambda: hp6.embeddings(session, spool, 3 if quick else 7)),
            ("growth", lambda: hp6.growth((1_000, 5_000) if quick else (1_000, 10_000, 100_000))),
            ("peers", lambda: peer_rows.peers(tmp, 5 if quick else 40, 3 if quick else 5)),
            ("evaluation", lambda: evaluation.run_all(session, tmp / "evaluation", quick)),
            ("mlflow_backend", lambda: mlflow_backend(session, spool, tmp / "mlflow", invocations=5 if quick else 20,
                                                      rounds=2 if quick else 7)),
        ]
        results = {"quick": quick, "latency_ms": latency * 1000}
        for name, step in steps:
            print(f"bench: {name} ...", flush=True)
            started = time.perf_counter()
            results[name] = step()
            print(f"bench: {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                          "cpu": next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                                       if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()}
    results["table"] = table(results) + "\n" + "\n".join(evaluation.table_rows(results["evaluation"]))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(results["table"])
    print(hp6.target_line(results["hot_path_targets"]))
    print(mlflow_table(results["mlflow_backend"]))
    print(f"Wrote {output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
