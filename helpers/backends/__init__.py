"""Tracking backends besides SageMaker Experiments: an MLflow TraceStore, and choosing a tracker.

`open_tracker("mlflow")` / `open_tracker("experiments")` give the same handler and notebooks either backend.
"""

from .tracker import TRACKERS, MlflowTracking, open_tracker, start_run

__all__ = ["TRACKERS", "MlflowTracking", "open_tracker", "start_run"]
