"""Evaluate LangChain variants on a dataset: scorers, USD cost, one tracked SageMaker run per variant.

evaluate(target, data, scorers, experiment_name=..., run_name=..., sagemaker_session=...) -> EvaluationResult
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["EvaluationResult", "evaluate", "register_prices", "scorers"]

# Lazy: helpers.tracking imports .cost, and .evaluator imports helpers.tracking.
_LAZY = {"evaluate": "evaluator", "EvaluationResult": "evaluator", "register_prices": "cost"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name == "scorers":
        return importlib.import_module(f"{__name__}.scorers")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
