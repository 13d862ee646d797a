"""Tracking backends besides SageMaker Experiments: an MLflow TraceStore, and choosing a tracker.

`open_tracker("mlflow")` / `open_tracker("experiments")` give the same handler and notebooks either backend.
"""
