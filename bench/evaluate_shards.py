"""Would worker processes bring evaluate() to 1.3x the ideal? One process against the rows forked into shards.

`python -m bench.evaluate_shards [ROUNDS]`: 1,000 rows, 20 ms model, max_concurrency 16 in all, against the
local stand-in. Each shard is a forked child running evaluate() on its share of the rows at 16 / shards
concurrency into a run of its own (the most favourable split: no shared run, no merge). Rounds alternate
one process and the shards; medians. Prints wall and CPU seconds of each kind and the ratio to the ideal.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROWS, DELAY_S, CONCURRENCY = 1000, 0.02, 16


def _evaluate(session, chain, data, concurrency: int, results_dir: Path) -> None:
    """bench.evaluation's own evaluate() round: a fresh run, checked to have run every row."""
    from bench.evaluation import _ours

    _ours(session, results_dir, chain, data, concurrency, f"r-{uuid.uuid4().hex[:8]}")


def _child(index: int, shards: int, chain, data, store: Path, results_dir: Path, cpu_out) -> None:
    from helpers.experiments import open_session

    started = time.process_time()
    _evaluate(open_session("local", local_dir=store), chain, data[index::shards], CONCURRENCY // shards,
              results_dir)
    cpu_out.put(time.process_time() - started)


def main(rounds: int = 3, shards: int = 2) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        return _measure(directory, rounds, shards)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _measure(directory: Path, rounds: int, shards: int) -> dict:
    from bench.evaluation import _chain
    from helpers.experiments import open_session

    os.environ.setdefault("SAGEMAKER_TRACE_SPOOL_DIR", str(directory / "spool"))
    store = directory / "local"
    session, chain = open_session("local", local_dir=store), _chain(DELAY_S)
    data = [{"topic": f"topic {i}", "expected": f"topic {i}"} for i in range(ROWS)]
    _evaluate(session, chain, data[:20], CONCURRENCY, directory)  # warm-up: imports, caches, the experiment
    fork = multiprocessing.get_context("fork")
    times: dict[str, list] = {"one_process": [], "sharded": [], "one_process_cpu": [], "sharded_cpu": []}
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        _evaluate(session, chain, data, CONCURRENCY, directory)
        times["one_process"].append(time.perf_counter() - wall)
        times["one_process_cpu"].append(time.process_time() - cpu)
        cpu_out = fork.Queue()
        wall = time.perf_counter()
        children = [fork.Process(target=_child, args=(i, shards, chain, data, store, directory, cpu_out))
                    for i in range(shards)]
        for child in children:
            child.start()
        for child in children:
            child.join()
        times["sharded"].append(time.perf_counter() - wall)
        if any(child.exitcode for child in children):
            raise RuntimeError(f"a shard failed: exit codes {[child.exitcode for child in children]}")
        times["sharded_cpu"].append(sum(cpu_out.get() for _ in children))
    ideal = ROWS * DELAY_S / CONCURRENCY
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    return {"rows": ROWS, "delay_ms": DELAY_S * 1000, "max_concurrency": CONCURRENCY, "shards": shards,
            "rounds": rounds, "ideal_s": ideal, **medians,
            "one_process_ratio": medians["one_process"] / ideal, "sharded_ratio": medians["sharded"] / ideal,
            "all_rounds": times}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
