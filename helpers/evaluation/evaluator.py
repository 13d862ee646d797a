"""evaluate(): run a LangChain target over a dataset in one tracked SageMaker run, score every row.

Rows run in bounded windows through LangChain's batch (max_concurrency workers); their results are
spooled to a local JSONL file and uploaded as the run's `evaluation-results` segments, so memory stays
flat and an interrupted evaluation resumes on re-run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable
from langchain_core.runnables.config import var_child_runnable_config

from . import cost as pricing
from .datasets import check_rows, dataset_name, iter_rows, split_row
from .results import RESULTS_ARTIFACT
from .scorers import as_text, resolve, scorer_name

log = logging.getLogger(__name__)

RESULT_SCHEMA_VERSION = 1
SCORER_TAG = "evaluation-scorer"  # the tag of spans a scorer's own model calls make
RUN_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}$")  # SageMaker's pattern for run names


class EvaluationInputError(ValueError):
    """Bad input found before the first row runs: names the run, row, field or value, and what to do."""


@dataclass
class EvaluationResult:
    experiment_name: str
    run_name: str
    metrics: dict[str, float]
    results_path: Path  # this execution's local spool (its rows only; table() reads every segment)
    rows: int
    resumed_rows: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)
    trial_component_name: str | None = None
    sagemaker_session: Any = field(default=None, repr=False, compare=False)

    def table(self):
        """Every recorded row of the run, from all its segments: one row per dataset row, `score.<name>` columns."""
        from .results import read_results, read_run_results

        if self.sagemaker_session is None or self.trial_component_name is None:
            return read_results(self.results_path)
        return read_run_results(self.sagemaker_session, self.trial_component_name)


class _RowUsage(BaseCallbackHandler):
    """Tokens and cost of one row's LLM calls (one instance per row, so nothing is shared)."""

    run_inline = True  # cheap, thread-safe per row: no executor hop under async callers
    ignore_chain = ignore_agent = ignore_retriever = ignore_custom_event = True  # only model calls count

    def __init__(self):
        self.calls = 0
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

    def status(self) -> str | None:
        return ",".join(sorted(self.cost_statuses)) or None

    def on_llm_end(self, response, *, run_id, **kwargs):
        self.calls += 1
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

    with Run(experiment_name=experiment_name, run_name=run_name, sagemaker_session=sagemaker_session) as run:
        spool = ResultsSpool(Path(results_dir or default_results_dir()), experiment_name, run, RESULTS_ARTIFACT)
        run.log_parameters(_run_parameters(parameters, data, total, scorer_fns, max_concurrency))
        handler = SageMakerCallbackHandler(run, **{"max_field_chars": max_field_chars, **(handler_options or {})})
        target_and_scorers = _ScoredTarget(runnable, scorer_fns, handler, max_field_chars)
        resumed = spool.done_count
        try:
            _run_rows(target_and_scorers, data, spool, total, max_concurrency, progress, run_name, expected_key)
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
        tc_name = getattr(getattr(run, "_trial_component", None), "trial_component_name", None)
    return EvaluationResult(experiment_name, run_name, metrics, spool.path, total, resumed, parameters, tc_name,
                            sagemaker_session)


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


class _Row:
    """One dataset row on its way through the target: position, content hash, inputs, reference."""

    __slots__ = ("index", "key", "inputs", "expected")

    def __init__(self, index: int, key: str, inputs: dict, expected: Any):
        self.index, self.key, self.inputs, self.expected = index, key, inputs, expected


class _ScoredTarget(Runnable):
    """Runs the target on one row and scores it, in LangChain's batch workers; never raises for a row.

    It records no span of its own: the row's trace is the target's call, whose root span id is the
    row's trace id. Model calls a scorer makes (an LLM judge) go to the same handler, tagged
    `evaluation-scorer` with the row's trace id in their metadata, so their tokens and cost count in the run.
    """

    def __init__(self, runnable, scorers, handler, max_field_chars):
        self.runnable, self.scorers, self.handler = runnable, scorers, handler
        self.names = [scorer_name(s) for s in scorers]
        self.max_field_chars = max_field_chars
        self.sink: Callable[[dict], None] | None = None  # takes each finished row's result (under the lock)
        self.lock = threading.Lock()
        self.interrupted: BaseException | None = None  # a KeyboardInterrupt/SystemExit raised in a row

    def invoke(self, row: _Row, config=None, **kwargs) -> None:
        """Runs the row and spools its result here, in the worker (none is lost when the batch is interrupted)."""
        if self.interrupted is not None:
            return None  # stopping: rows not started stay unrecorded and run on resume
        try:
            result = self._run(row)
            with self.lock:
                self.sink(result)
        except BaseException as stop:  # noqa: BLE001 - kept, and raised again once the finished rows are spooled
            self.interrupted = stop
        return None

    def _run(self, row: _Row) -> dict:
        trace_id = uuid.uuid4()
        usage = _RowUsage()
        run_config = {"callbacks": [self.handler, usage], "run_id": trace_id, "run_name": f"row-{row.index}"}
        error, output = None, None
        started = time.perf_counter()
        try:
            output = self.runnable.invoke(row.inputs, config=run_config)
        except Exception as exc:
            error = {"type": type(exc).__name__, "message": str(exc)[: self.max_field_chars]}
        latency_ms = (time.perf_counter() - started) * 1000
        value = _plain_output(output)
        scoring = _RowUsage()
        scores, details, score_errors = self._score(row, value, error, trace_id, scoring)
        result = {"schema_version": RESULT_SCHEMA_VERSION, "type": "evaluation_row", "row": row.index,
                  "row_key": row.key, "trace_id": str(trace_id), "inputs": row.inputs, "output": value,
                  "expected": row.expected, "scores": scores, "score_details": details or None,
                  "score_errors": score_errors or None, "latency_ms": round(latency_ms, 3), **usage.totals,
                  "cost_usd": usage.cost_usd, "cost_status": usage.status(), "error": error}
        if scoring.calls:
            result.update(scoring_total_tokens=scoring.totals["total_tokens"], scoring_cost_usd=scoring.cost_usd)
        return result

    def _score(self, row: _Row, value, error, trace_id, scoring):
        scores, details, score_errors = {}, {}, {}
        if error is not None:
            return dict.fromkeys(self.names), details, score_errors
        # a scorer's own LangChain calls (an LLM judge) inherit this config: tracked in the run, tagged, and
        # pointing at the row's trace (their own root spans: the row's span has ended by now)
        callbacks = [self.handler, scoring]
        meta = {"evaluation_row": row.index, "evaluation_trace_id": str(trace_id)}
        for scorer, name in zip(self.scorers, self.names, strict=True):
            token = var_child_runnable_config.set({"callbacks": callbacks, "run_name": name, "tags": [SCORER_TAG],
                                                   "metadata": {**meta, "scorer": name}})
            try:
                scores[name], extra = _score_value(scorer(row.inputs, value, row.expected), name)
                if extra:
                    details[name] = extra
            except Exception as exc:  # a broken scorer costs its score on this row, never the evaluation
                scores[name] = None
                score_errors[name] = f"{type(exc).__name__}: {exc}"
            finally:
                var_child_runnable_config.reset(token)
        return scores, details, score_errors


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


def _run_rows(target: _ScoredTarget, data, spool, total: int, max_concurrency: int, progress: bool, label: str,
              expected_key: str):
    """Rows in windows through LangChain's batch_as_completed: bounded memory, results spooled as they come."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=spool.done_count, desc=f"evaluate {label}", unit="row", disable=not progress,
               mininterval=0.5)
    window = max(256, 64 * max_concurrency)  # rows held at once: a huge dataset is never all in memory
    config = {"max_concurrency": max_concurrency}
    try:
        batch: list[_Row] = []
        for index, row in enumerate(iter_rows(data)):
            key = row_key(row)
            if spool.has(index, key):
                continue
            batch.append(_Row(index, key, *split_row(row, expected_key)))
            if len(batch) >= window:
                _run_window(target, batch, config, spool, bar)
                batch = []
        if batch:
            _run_window(target, batch, config, spool, bar)
    finally:
        bar.close()


def _run_window(target: _ScoredTarget, batch: list[_Row], config: dict, spool, bar) -> None:
    """One window of rows through LangChain's batch; workers spool each result as it finishes.

    (batch_as_completed waits on every pending future at each completion: quadratic in the window.)
    """
    def sink(result: dict) -> None:
        spool.write(result)
        bar.update(1)

    target.sink = sink
    target.batch(batch, config)
    if target.interrupted is not None:
        raise target.interrupted
    spool.maybe_upload()
