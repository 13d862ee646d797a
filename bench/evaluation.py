"""Evaluation benchmarks: evaluate() against the ideal wall time, a sweep's parallel speed-up, leaderboard speed.

Run by `python -m bench` (section 6); everything against the local stand-in.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from helpers.offline_model import OfflineChatModel


class SlowOfflineModel(OfflineChatModel):
    """The offline model taking `delay_s` per call, as a model behind a network would (the GIL is free;
    async callers await the delay, as an async HTTP client would)."""

    delay_s: float = 0.02

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        time.sleep(self.delay_s)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        await asyncio.sleep(self.delay_s)
        return super()._generate(messages, stop=stop, **kwargs)


def _chain(delay_s: float):
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_template("Tell me a joke about {topic}.") | SlowOfflineModel(delay_s=delay_s)


def _ours(session, tmp: Path, chain, data: list[dict], concurrency: int, run_name: str) -> float:
    from helpers.evaluation import evaluate

    started = time.perf_counter()
    result = evaluate(chain, data, ["contains"], experiment_name="bench-eval", run_name=run_name,
                      sagemaker_session=session, max_concurrency=concurrency, progress=False, results_dir=tmp)
    wall = time.perf_counter() - started
    if result.resumed_rows or result.metrics.get("rows") != len(data) or result.metrics.get("row_errors"):
        raise RuntimeError(f"run {run_name} did not run every row: {result.metrics}, resumed {result.resumed_rows}")
    return wall


def _tracked_batch(session, chain, inputs: list[dict], concurrency: int) -> float:
    """The floor under ours: chain.batch with the tracking handler and a trace id a row, in a run of its own,
    no scoring, no results (the handler's last upload included)."""
    from helpers.experiments import Run
    from helpers.tracking import SageMakerCallbackHandler

    with Run(experiment_name="bench-eval-floor", run_name=f"floor-{uuid.uuid4().hex[:8]}",
             sagemaker_session=session) as run:
        started = time.perf_counter()
        handler = SageMakerCallbackHandler(run)
        chain.batch(inputs, config=[{"callbacks": [handler], "run_id": uuid.uuid4(), "max_concurrency": concurrency}
                                    for _ in inputs])
        handler.flush_tracker()
        return time.perf_counter() - started


def cpu_per_row(session, tmp: Path, rows: int = 510) -> dict:
    """Where the time goes: CPU microseconds a row, one row at a time, no model delay."""
    from helpers.evaluation import evaluate
    from helpers.experiments import Run
    from helpers.tracking import SageMakerCallbackHandler

    chain, data = _chain(0.0), [{"topic": f"topic {i}", "expected": f"topic {i}"} for i in range(rows)]
    inputs = [{"topic": row["topic"]} for row in data]

    def per_row(call) -> float:
        started = time.process_time()
        call()
        return (time.process_time() - started) / rows * 1e6

    out = {"untracked_invoke_us": per_row(lambda: [chain.invoke(x) for x in inputs])}
    with Run(experiment_name="bench-eval-cpu", run_name=f"cpu-{uuid.uuid4().hex[:8]}", sagemaker_session=session) as run:
        handler = SageMakerCallbackHandler(run, upload_interval_s=3600)
        out["tracked_invoke_us"] = per_row(lambda: [chain.invoke(x, config={"callbacks": [handler]}) for x in inputs])
    def evaluate_cpu(count: int) -> float:
        started = time.process_time()
        evaluate(chain, data[:count], ["contains"], experiment_name="bench-eval-cpu",
                 run_name=f"cpu-{uuid.uuid4().hex[:8]}", sagemaker_session=session, max_concurrency=1,
                 progress=False, results_dir=tmp)
        return time.process_time() - started

    fixed = evaluate_cpu(10)  # the run's own requests (create, parameters, metrics, upload)
    out["evaluate_us"] = (evaluate_cpu(rows) - fixed) / (rows - 10) * 1e6  # a row's share, fixed costs taken out
    out["evaluate_fixed_ms"] = fixed * 1000
    out["evaluator_side_us"] = out["evaluate_us"] - out["tracked_invoke_us"]
    return out


def evaluate_wall(session, tmp: Path, rows: int, delay_s: float = 0.02, concurrency: int = 16,
                  rounds: int = 3) -> dict:
    """Wall time of evaluate() over `rows` rows, tracking and scoring included, against rows*delay/concurrency,
    side by side with the same calls untracked through chain.batch and chain.abatch; rounds interleaved,
    medians. Every round of ours is a fresh run (a reused name would resume and run nothing)."""
    from helpers.tracking import SageMakerCallbackHandler

    # abatch must not route the handler through a thread executor (helper "hotpath" makes this the default)
    SageMakerCallbackHandler.run_inline = True
    chain = _chain(delay_s)
    data = [{"topic": f"topic {i}", "expected": f"topic {i}"} for i in range(rows)]
    inputs = [{"topic": row["topic"]} for row in data]
    config = {"max_concurrency": concurrency}
    _ours(session, tmp, chain, data[:20], concurrency, f"warm-up-{uuid.uuid4().hex[:8]}")
    times: dict[str, list[float]] = {"ours": [], "tracked_batch": [], "untracked_batch": [], "untracked_abatch": []}
    for r in range(rounds):
        times["ours"].append(_ours(session, tmp, chain, data, concurrency, f"rows-{rows}-r{r}-{uuid.uuid4().hex[:8]}"))
        times["tracked_batch"].append(_tracked_batch(session, chain, inputs, concurrency))
        started = time.perf_counter()
        chain.batch(inputs, config=config)
        times["untracked_batch"].append(time.perf_counter() - started)
        started = time.perf_counter()
        asyncio.run(chain.abatch(inputs, config=config))
        times["untracked_abatch"].append(time.perf_counter() - started)
    ideal = rows * delay_s / concurrency
    wall = statistics.median(times["ours"])
    return {"rows": rows, "delay_ms": delay_s * 1000, "max_concurrency": concurrency, "rounds": rounds,
            "wall_s": wall, "ideal_s": ideal, "ratio": wall / ideal,
            "untracked_batch_s": statistics.median(times["untracked_batch"]),
            "untracked_abatch_s": statistics.median(times["untracked_abatch"]),
            "tracked_batch_s": statistics.median(times["tracked_batch"]), "all_rounds": times,
            "cpu_per_row": cpu_per_row(session, tmp)}


def sweep_speedup(tmp: Path, rows: int, workers: int) -> dict:
    """A 12-point grid over `rows` rows: `workers` processes against one, each into a fresh experiment."""
    from helpers.sweeps import Sweep, run_sweep

    grid = {"prompt": ["plain", "detailed"], "temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]}
    times = {}
    for count in (1, workers):
        sweep = Sweep(f"bench-sweep-w{count}", grid, {"scenario": "jokes", "llm_provider": "offline"}, limit=rows)
        summary = run_sweep(sweep, workers=count, backend="local", local_dir=str(tmp / "local"), progress=False)
        if summary.failed:
            raise RuntimeError(f"sweep points failed: {summary.failed}")
        times[count] = summary.wall_s
    return {"points": 12, "rows": rows, "workers": workers, "one_worker_s": times[1], "parallel_s": times[workers],
            "speedup": times[1] / times[workers]}


def leaderboard_speed(session, runs: int, rows: int) -> dict:
    """leaderboard() over `runs` evaluated runs of `rows` rows each, results (segments) fetched from the stand-in."""
    from helpers.analysis import leaderboard
    from helpers.evaluation.results import ResultsSpool
    from helpers.experiments import Run

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(runs):
            with Run(experiment_name="bench-leaderboard", run_name=f"variant-{r}", sagemaker_session=session) as run:
                run.log_parameters({"temperature": r / 20})
                spool = ResultsSpool(Path(tmp), "bench-leaderboard", run)
                for i in range(rows):
                    spool.write({
                        "schema_version": 1, "type": "evaluation_row", "row": i, "row_key": f"k{i}",
                        "trace_id": f"t{r}-{i}", "inputs": {"topic": f"topic {i}"}, "output": f"answer {i}",
                        "expected": f"topic {i}", "scores": {"score": float(rng.random() < 0.5 + r / 60)},
                        "latency_ms": 20.0, "cost_usd": 1e-5, "error": None})
                spool.close()
                spool.upload()
    started = time.perf_counter()
    board = leaderboard("bench-leaderboard", metric="score", baseline="variant-0", sagemaker_session=session)
    seconds = time.perf_counter() - started
    if len(board) != runs:
        raise RuntimeError(f"the leaderboard has {len(board)} variants, not {runs}")
    return {"runs": runs, "rows": rows, "seconds": seconds, "variants": len(board)}


def run_all(session, tmp: Path, quick: bool) -> dict:
    return {
        "evaluate": evaluate_wall(session, tmp / "eval", rows=200 if quick else 1000, rounds=1 if quick else 3),
        "sweep": sweep_speedup(tmp / "sweep", rows=5 if quick else 50, workers=os.cpu_count() or 2),
        "leaderboard": leaderboard_speed(session, runs=4 if quick else 20, rows=100 if quick else 1000),
    }


def table_rows(results: dict) -> list[str]:
    ev, sw, lb = results["evaluate"], results["sweep"], results["leaderboard"]
    return [
        f"| 6. evaluate {ev['rows']} rows, {ev['delay_ms']:.0f} ms model, max_concurrency={ev['max_concurrency']} | "
        f"{ev['wall_s']:.2f} s vs ideal {ev['ideal_s']:.2f} s = {ev['ratio']:.2f}x | | ≤ 1.3x | "
        f"{'yes' if ev['ratio'] <= 1.3 else 'no'} |",
        f"| 6. for scale: the same calls untracked, chain.batch / chain.abatch(max_concurrency={ev['max_concurrency']}) | "
        f"{ev['untracked_batch_s']:.2f} s = {ev['untracked_batch_s'] / ev['ideal_s']:.2f}x / "
        f"{ev['untracked_abatch_s']:.2f} s = {ev['untracked_abatch_s'] / ev['ideal_s']:.2f}x ideal | | | |",
        f"| 6. for scale: the tracked floor, chain.batch with the handler, no scoring or results | "
        f"{ev['tracked_batch_s']:.2f} s = {ev['tracked_batch_s'] / ev['ideal_s']:.2f}x ideal | | | |",
        f"| 6. where the time goes: CPU a row, one at a time (LangChain alone / + tracking handler / evaluate: "
        f"+ scoring, results) | {ev['cpu_per_row']['untracked_invoke_us']:.0f} / "
        f"{ev['cpu_per_row']['tracked_invoke_us']:.0f} / {ev['cpu_per_row']['evaluate_us']:.0f} µs | | | |",
        f"| 6. sweep {sw['points']} points × {sw['rows']} rows, {sw['workers']} workers vs 1 | "
        f"{sw['parallel_s']:.1f} s vs {sw['one_worker_s']:.1f} s = {sw['speedup']:.2f}x | | ≥ 1.7x | "
        f"{'yes' if sw['speedup'] >= 1.7 else 'no'} |",
        f"| 6. leaderboard {lb['runs']} runs × {lb['rows']} rows | {lb['seconds']:.2f} s | | < 5 s | "
        f"{'yes' if lb['seconds'] < 5 else 'no'} |",
    ]


if __name__ == "__main__":
    import sys

    from helpers.experiments import open_session

    with tempfile.TemporaryDirectory() as directory:
        os.environ.setdefault("SAGEMAKER_TRACE_SPOOL_DIR", str(Path(directory) / "spool"))
        result = run_all(open_session("local", local_dir=Path(directory) / "local"), Path(directory),
                         quick="--quick" in sys.argv)
    print("\n".join(table_rows(result)))
    print(json.dumps(result, indent=2))
