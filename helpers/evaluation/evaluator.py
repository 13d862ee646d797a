"""evaluate(): run a LangChain target over a dataset in one tracked SageMaker run, score every row.

Rows run with bounded concurrency; their results are spooled to one JSONL file (the run's
`evaluation-results` artifact), so memory stays flat and an interrupted evaluation resumes on re-run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable

from . import cost as pricing
from .datasets import check_rows, dataset_name, iter_rows, split_row
from .scorers import as_text, resolve, scorer_name

log = logging.getLogger(__name__)

RESULTS_ARTIFACT = "evaluation-results"
RESULT_SCHEMA_VERSION = 1
RUN_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}$")  # SageMaker's pattern for run names


class EvaluationInputError(ValueError):
    """Bad input found before the first row runs: names the run, row, field or value, and what to do."""


@dataclass
class EvaluationResult:
    experiment_name: str
    run_name: str
    metrics: dict[str, float]
    results_path: Path
    rows: int
    resumed_rows: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)

    def table(self):
        """The per-row results as a DataFrame (one row per dataset row, scores as columns)."""
        from .results import read_results

        return read_results(self.results_path)


class _RowUsage(BaseCallbackHandler):
    """Tokens and cost of one row's LLM calls (one instance per row, so nothing is shared)."""

    def __init__(self):
        self.models: dict[Any, tuple[str | None, str | None]] = {}
        self.totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        self.cost_usd: float | None = 0.0
        self.cost_statuses: set[str] = set()

    def _start(self, kwargs: dict, run_id) -> None:
        meta = kwargs.get("metadata") or {}
        params = kwargs.get("invocation_params") or {}
        model = meta.get("ls_model_name") or params.get("model_name") or params.get("model") or params.get("model_id")
        self.models[run_id] = (model, meta.get("ls_provider") or params.get("_type"))

    def on_llm_start(self, serialized, prompts, *, run_id, **kwargs):
        self._start(kwargs, run_id)

    def on_chat_model_start(self, serialized, messages, *, run_id, **kwargs):
        self._start(kwargs, run_id)

    def on_llm_end(self, response, *, run_id, **kwargs):
        usage = pricing.usage_from_result(response)
        model, provider = self.models.pop(run_id, (None, None))
        if usage:
            for key in self.totals:
                self.totals[key] += usage.get(key, 0)
        call = pricing.call_cost(model, provider, usage)
        self.cost_statuses.add(call.status)
        if call.cost_usd is None:
            self.cost_usd = None if call.status != "no_usage" else self.cost_usd
        elif self.cost_usd is not None:
            self.cost_usd += call.cost_usd


def check_run_name(run_name: str, what: str = "run_name") -> None:
    if not isinstance(run_name, str) or not RUN_NAME.match(run_name):
        raise EvaluationInputError(
            f"{what} {run_name!r} is not a valid SageMaker run name: use letters, digits and hyphens only "
            "(no '_' or '.'), start with a letter or digit, at most 120 characters.")


def required_fields(runnable: Runnable) -> list[str]:
    try:
        schema = runnable.get_input_jsonschema()
    except Exception:  # a runnable without a schema: nothing to check ahead
        return []
    return list(schema.get("required") or []) if schema.get("type") == "object" else []


def row_key(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]


def default_results_dir() -> Path:
    return Path(os.environ.get("SAGEMAKER_EVAL_SPOOL_DIR") or ".eval-spool")


def evaluate(target: Runnable | Callable[[dict], Runnable], data: Any, scorers: list, *, experiment_name: str,
             run_name: str, sagemaker_session, max_concurrency: int = 8, expected_key: str = "expected",
             parameters: dict[str, Any] | None = None, prices: Any = None, progress: bool = True,
             results_dir: str | Path | None = None, max_field_chars: int = 20_000,
             handler_options: dict[str, Any] | None = None) -> EvaluationResult:
    """Run `target` on every row of `data` in one SageMaker run, score the outputs, record everything.

    target: a LangChain runnable, or a function building one from `parameters`. data: a JSONL/CSV path,
    a bundled dataset name, a DataFrame or a list of dicts; a row's `expected_key` field is the reference.
    scorers: functions scorer(inputs, output, expected) or built-in names. parameters: the variant's
    settings, logged as run parameters. prices: a price table (dict or file) for models genai-prices
    does not know. handler_options: SageMakerCallbackHandler keyword arguments (mask, spool_dir, ...).
    Re-running the same run resumes: rows already recorded are not run again.
    """
    check_run_name(run_name)
    scorer_fns = _resolve_scorers(scorers)
    try:
        table = pricing.PriceTable.parse(prices)
    except pricing.PriceTableError as error:
        raise EvaluationInputError(str(error)) from None
    if table is not None:
        pricing.register_prices(table)
    if max_concurrency < 1:
        raise EvaluationInputError(f"max_concurrency must be at least 1; got {max_concurrency!r}.")
    parameters = dict(parameters or {})
    runnable = target if isinstance(target, Runnable) else target(parameters)
    if not isinstance(runnable, Runnable):
        raise EvaluationInputError(f"target must be a LangChain runnable or a function returning one; "
                                   f"it gave {type(runnable).__name__}.")
    # scorers decide per row whether they need `expected`: a missing one is that scorer's error, not bad input
    total = check_rows(data, required_fields(runnable), expected_key, needs_expected=False)

    from ..experiments import Run
    from ..tracking import SageMakerCallbackHandler
    from .results import ResultsSpool

    path = Path(results_dir or default_results_dir()) / f"{experiment_name}--{run_name}.jsonl"
    with Run(experiment_name=experiment_name, run_name=run_name, sagemaker_session=sagemaker_session) as run:
        spool = ResultsSpool(path, run, RESULTS_ARTIFACT)
        run.log_parameters(_run_parameters(parameters, data, total, scorer_fns, max_concurrency))
        handler = SageMakerCallbackHandler(run, **{"max_field_chars": max_field_chars, **(handler_options or {})})
        worker = _RowWorker(runnable, scorer_fns, handler, expected_key, max_field_chars)
        resumed = spool.done_count
        try:
            _run_rows(worker, data, spool, total, max_concurrency, progress, run_name)
        finally:
            spool.close()
            metrics = spool.aggregates.metrics([scorer_name(s) for s in scorer_fns])
            for name, value in metrics.items():
                run.log_metric(name, value)
            run.log_parameters({"cost_basis": spool.aggregates.cost_basis()})
            spool.upload()
        handler.flush_tracker()
        totals = getattr(getattr(handler, "metrics", None), "totals", None)  # the handler's running totals
        metrics.update(totals() if callable(totals) else {})
    return EvaluationResult(experiment_name, run_name, metrics, path, total, resumed, parameters)


def _resolve_scorers(scorers) -> list:
    try:
        return resolve(scorers)
    except (ValueError, TypeError) as error:
        raise EvaluationInputError(str(error)) from None


def _run_parameters(parameters: dict, data: Any, total: int, scorers: list, max_concurrency: int) -> dict:
    params = {k: v if isinstance(v, int | float | str) and not isinstance(v, bool) else json.dumps(v, default=str)
              for k, v in parameters.items()}
    params.update({"dataset": dataset_name(data), "dataset_rows": total,
                   "scorers": ",".join(scorer_name(s) for s in scorers), "max_concurrency": max_concurrency,
                   **pricing.price_source()})
    return params


class _RowWorker:
    """Runs and scores one row; never raises (errors go into the row)."""

    def __init__(self, runnable, scorers, handler, expected_key, max_field_chars):
        self.runnable, self.scorers, self.handler = runnable, scorers, handler
        self.expected_key, self.max_field_chars = expected_key, max_field_chars

    def __call__(self, index: int, key: str, row: dict) -> dict:
        inputs, expected = split_row(row, self.expected_key)
        trace_id = uuid.uuid4()
        usage = _RowUsage()
        config = {"callbacks": [self.handler, usage], "run_id": trace_id, "run_name": f"row-{index}"}
        error, output = None, None
        started = time.perf_counter()
        try:
            output = self.runnable.invoke(inputs, config=config)
        except Exception as exc:
            error = {"type": type(exc).__name__, "message": str(exc)[: self.max_field_chars]}
        latency_ms = (time.perf_counter() - started) * 1000
        value = _plain_output(output)
        scores, details, score_errors = {}, {}, {}
        for scorer in self.scorers:
            name = scorer_name(scorer)
            if error is not None:
                scores[name] = None
                continue
            try:
                scores[name], extra = _score_value(scorer(inputs, value, expected), name)
                if extra:
                    details[name] = extra
            except Exception as exc:  # a broken scorer costs its score on this row, never the evaluation
                scores[name] = None
                score_errors[name] = f"{type(exc).__name__}: {exc}"
        return {"schema_version": RESULT_SCHEMA_VERSION, "type": "evaluation_row", "row": index, "row_key": key,
                "trace_id": str(trace_id), "inputs": inputs, "output": value, "expected": expected,
                "scores": scores, "score_details": details or None, "score_errors": score_errors or None,
                "latency_ms": round(latency_ms, 3), **usage.totals,
                "cost_usd": usage.cost_usd, "cost_status": ",".join(sorted(usage.cost_statuses)) or None,
                "error": error}


def _plain_output(output: Any) -> Any:
    if output is None or isinstance(output, str | int | float | bool | dict | list):
        return output
    if hasattr(output, "content"):
        return as_text(output)
    return str(output)


def _score_value(result: Any, name: str) -> tuple[float | None, dict | None]:
    """A scorer's return value as (score, details): bools count 1/0, dicts give "score" and the rest."""
    if isinstance(result, bool):
        return float(result), None
    if isinstance(result, int | float):
        return float(result), None
    if isinstance(result, dict):
        if "score" not in result:
            raise ValueError(f"scorer {name} returned a dict without a 'score' key: {sorted(result)}")
        score, extra = _score_value(result["score"], name)
        return score, {k: v for k, v in result.items() if k != "score"} or None
    if result is None:
        return None, None
    raise TypeError(f"scorer {name} returned {type(result).__name__}; return a bool, a number or a dict")


def _run_rows(worker: _RowWorker, data, spool, total: int, max_concurrency: int, progress: bool, label: str):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=spool.done_count, desc=f"evaluate {label}", unit="row", disable=not progress,
               mininterval=0.5)
    window = max_concurrency * 2  # rows in flight: bounded, so a huge dataset is never all in memory
    pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="evaluate")
    pending: set = set()
    try:
        for index, row in enumerate(iter_rows(data)):
            key = row_key(row)
            if spool.has(index, key):
                continue
            pending.add(pool.submit(worker, index, key, row))
            if len(pending) >= window:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    spool.write(future.result())
                    bar.update(1)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                spool.write(future.result())
                bar.update(1)
    except BaseException:
        for future in pending:
            future.cancel()
        for future in pending:  # rows already running finish and are kept
            if not future.cancelled():
                try:
                    spool.write(future.result())
                except Exception:  # noqa: S110 - the row is run again on resume
                    pass
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
