"""Runs a sweep's grid points here, in parallel worker processes (one per core by default).

A failed point becomes a Failed run and is listed; points already Completed are skipped (resume).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from .grid import GridPoint, Sweep
from .scenarios import check_point

PRELOAD = ["helpers.sweeps.scenarios", "helpers.experiments", "helpers.evaluation.evaluator", "helpers.tracking",
           "helpers.providers", "langchain_core.prompts", "langchain.agents", "genai_prices", "rapidfuzz"]


@dataclass
class SweepSummary:
    experiment_name: str
    completed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    def __str__(self) -> str:
        lines = [f"Sweep into experiment {self.experiment_name}: {len(self.completed)} completed, "
                 f"{len(self.skipped)} skipped (already Completed), {len(self.failed)} failed, {self.wall_s:.1f} s."]
        lines += [f"  FAILED {name}: {error}" for name, error in self.failed.items()]
        return "\n".join(lines)


def default_workers() -> int:
    return int(os.environ.get("WORKERS") or os.cpu_count() or 1)


def completed_runs(session, experiment_name: str) -> set[str]:
    """Run names of the experiment whose status is Completed."""
    from ..analysis.traces import iter_trial_components, run_name_of

    return {run_name_of(tc).lower() for tc in iter_trial_components(session, experiment_name)
            if (tc.get("Status") or {}).get("PrimaryStatus") == "Completed"}


def _run_one(point: GridPoint, experiment_name: str, backend: str, local_dir: str | None,
             max_concurrency: int, limit: int | None) -> tuple[str, str | None]:
    """In a worker process: evaluate one point; on failure make sure a Failed run records why."""
    os.environ.setdefault("SAGEMAKER_TRACKING_STRICT", "0")
    from ..experiments import Run, open_session
    from .scenarios import run_point

    session = open_session(backend, local_dir=local_dir)
    try:
        run_point(point.parameters, experiment_name=experiment_name, run_name=point.run_name,
                  sagemaker_session=session, max_concurrency=max_concurrency, progress=False, limit=limit)
        return point.run_name, None
    except Exception as error:
        message = f"{type(error).__name__}: {error}"[:1000]
        try:
            with Run(experiment_name=experiment_name, run_name=point.run_name, sagemaker_session=session) as run:
                run.log_parameters({k: v for k, v in point.parameters.items() if isinstance(v, str | int | float)})
                raise _PointFailed(message)
        except _PointFailed:
            pass
        return point.run_name, message


class _PointFailed(Exception):
    pass


def run_sweep(sweep: Sweep, *, workers: int | None = None, backend: str = "local", local_dir: str | None = None,
              progress: bool = True) -> SweepSummary:
    """Every point of the grid, `workers` at a time (default: WORKERS or one per core)."""
    from tqdm.auto import tqdm

    from ..experiments import open_session

    points = sweep.points()  # names are checked here, before anything runs
    for point in points:
        try:
            check_point(point.parameters)
        except ValueError as error:
            raise ValueError(f"Grid point {point.run_name}: {error}") from None
    workers = max(1, workers or default_workers())
    started = time.monotonic()
    summary = SweepSummary(sweep.experiment_name)
    done = completed_runs(open_session(backend, local_dir=local_dir), sweep.experiment_name)
    todo = [p for p in points if p.run_name.lower() not in done]
    summary.skipped = [p.run_name for p in points if p.run_name.lower() in done]
    # forkserver: workers fork from a clean server that imported the heavy modules once, so they start
    # fast and inherit no SQLite handle or botocore lock from this process
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with ProcessPoolExecutor(max_workers=min(workers, max(1, len(todo))), mp_context=context) as pool, \
            tqdm(total=len(points), initial=len(summary.skipped), desc=f"sweep {sweep.experiment_name}",
                 unit="point", disable=not progress, file=sys.stderr) as bar:
        futures = [pool.submit(_run_one, p, sweep.experiment_name, backend, local_dir, sweep.max_concurrency,
                               sweep.limit) for p in todo]
        for future in as_completed(futures):
            name, error = future.result()
            if error is None:
                summary.completed.append(name)
            else:
                summary.failed[name] = error
            bar.update(1)
    summary.wall_s = time.monotonic() - started
    return summary
