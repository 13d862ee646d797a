"""Evaluate LangChain variants on a dataset: scorers, USD cost, one tracked SageMaker run per variant.

evaluate(target, data, scorers, experiment_name=..., run_name=..., sagemaker_session=...) -> EvaluationResult
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvaluationResult", "evaluate", "scorers", "register_prices"]


def __getattr__(name: str) -> Any:
    # Lazy: helpers.tracking imports .cost, and .evaluate imports helpers.tracking.
    if name in ("evaluate", "EvaluationResult"):
        from . import evaluate as module

        return getattr(module, name)
    if name == "register_prices":
        from .cost import register_prices

        return register_prices
    if name == "scorers":
        from . import scorers

        return scorers
    raise AttributeError(name)
