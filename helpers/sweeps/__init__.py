"""Sweeps: a grid of parameters, one evaluated run per point, run here in parallel or as a SageMaker Pipeline.

load_sweep(file, ["temperature=0,0.5"]) -> Sweep; run_sweep(sweep) locally; to_pipeline(sweep, ...) for AWS.
"""

from .grid import GridError, GridPoint, Sweep, expand, load_sweep
from .local import SweepSummary, run_sweep

__all__ = ["GridError", "GridPoint", "Sweep", "SweepSummary", "expand", "load_sweep", "run_sweep", "to_pipeline"]


def __getattr__(name):
    if name == "to_pipeline":  # imports the SageMaker Pipelines SDK only when asked for
        from .pipeline import to_pipeline

        return to_pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
