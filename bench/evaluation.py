"""Evaluation benchmarks: evaluate() against the ideal wall time, a sweep's parallel speed-up, leaderboard speed.

Run by `python -m bench` (section 6); everything against the local stand-in.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path

from helpers.offline_model import OfflineChatModel


class SlowOfflineModel(OfflineChatModel):
    """The offline model taking `delay_s` per call, as a model behind a network would (the GIL is free)."""

    delay_s: float = 0.02

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        time.sleep(self.delay_s)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def evaluate_wall(session, tmp: Path, rows: int, delay_s: float = 0.02, concurrency: int = 16) -> dict:
    """Wall time of evaluate() over `rows` rows, tracking and scoring included, against rows*delay/concurrency."""
    from langchain_core.prompts import ChatPromptTemplate

    from helpers.evaluation import evaluate

    chain = ChatPromptTemplate.from_template("Tell me a joke about {topic}.") | SlowOfflineModel(delay_s=delay_s)
    data = [{"topic": f"topic {i}", "expected": f"topic {i}"} for i in range(rows)]
    evaluate(chain, data[:20], ["contains"], experiment_name="bench-eval", run_name="warm-up",
             sagemaker_session=session, max_concurrency=concurrency, progress=False, results_dir=tmp)
    started = time.perf_counter()
    evaluate(chain, data, ["contains"], experiment_name="bench-eval", run_name=f"rows-{rows}",
             sagemaker_session=session, max_concurrency=concurrency, progress=False, results_dir=tmp)
    wall = time.perf_counter() - started
    # for scale: the same calls untracked and unscored, through LangChain's own batch
    started = time.perf_counter()
    chain.batch([{"topic": row["topic"]} for row in data], config={"max_concurrency": concurrency})
    untracked = time.perf_counter() - started
    ideal = rows * delay_s / concurrency
    return {"rows": rows, "delay_ms": delay_s * 1000, "max_concurrency": concurrency, "wall_s": wall,
            "ideal_s": ideal, "ratio": wall / ideal, "untracked_batch_s": untracked}


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
    """leaderboard() over `runs` evaluated runs of `rows` rows each, results fetched from the stand-in."""
    from helpers.analysis import leaderboard
    from helpers.experiments import Run

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(runs):
            path = Path(tmp) / f"results-{r}.jsonl"
            with open(path, "w") as handle:
                for i in range(rows):
                    handle.write(json.dumps({
                        "schema_version": 1, "type": "evaluation_row", "row": i, "row_key": f"k{i}",
                        "trace_id": f"t{r}-{i}", "inputs": {"topic": f"topic {i}"}, "output": f"answer {i}",
                        "expected": f"topic {i}", "scores": {"score": float(rng.random() < 0.5 + r / 60)},
                        "latency_ms": 20.0, "cost_usd": 1e-5, "error": None}) + "\n")
            with Run(experiment_name="bench-leaderboard", run_name=f"variant-{r}", sagemaker_session=session) as run:
                run.log_parameters({"temperature": r / 20})
                run.log_file(str(path), name="evaluation-results", media_type="application/jsonl")
    started = time.perf_counter()
    board = leaderboard("bench-leaderboard", metric="score", baseline="variant-0", sagemaker_session=session)
    return {"runs": runs, "rows": rows, "seconds": time.perf_counter() - started, "variants": len(board)}


def run_all(session, tmp: Path, quick: bool) -> dict:
    return {
        "evaluate": evaluate_wall(session, tmp / "eval", rows=200 if quick else 1000),
        "sweep": sweep_speedup(tmp / "sweep", rows=5 if quick else 50, workers=os.cpu_count() or 2),
        "leaderboard": leaderboard_speed(session, runs=4 if quick else 20, rows=100 if quick else 1000),
    }


def table_rows(results: dict) -> list[str]:
    ev, sw, lb = results["evaluate"], results["sweep"], results["leaderboard"]
    return [
        f"| 6. evaluate {ev['rows']} rows, {ev['delay_ms']:.0f} ms model, max_concurrency={ev['max_concurrency']} | "
        f"{ev['wall_s']:.2f} s vs ideal {ev['ideal_s']:.2f} s = {ev['ratio']:.2f}x | | ≤ 1.3x | "
        f"{'yes' if ev['ratio'] <= 1.3 else 'no'} |",
        f"| 6. for scale: the same calls untracked, chain.batch(max_concurrency={ev['max_concurrency']}) | "
        f"{ev['untracked_batch_s']:.2f} s = {ev['untracked_batch_s'] / ev['ideal_s']:.2f}x ideal | | | |",
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
