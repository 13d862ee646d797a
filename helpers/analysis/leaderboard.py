"""leaderboard: one row per evaluated variant, mean score with a bootstrap 95% CI, paired difference vs a baseline.

Per-row scores come from each run's `evaluation-results` segments (or older single object), fetched in parallel.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ..evaluation.results import RESULTS_ARTIFACT, iter_result_lines, result_uris, unique_rows
from ..experiments import open_session
from .traces import iter_trial_components, run_name_of

log = logging.getLogger(__name__)

def _value(param: dict):
    return param.get("NumberValue", param.get("StringValue"))


def _fetch_scores(s3, tc: dict) -> tuple[str, pd.DataFrame | None]:
    """A run's per-row scores (row_key, scores..., cost_usd, output) from every results segment, each row once;
    None without a results artifact."""
    uris = result_uris(tc.get("OutputArtifacts") or {})
    if not uris:
        return run_name_of(tc), None
    rows = []
    for row in unique_rows(iter_result_lines(s3, uris)):
        flat = {"row": row.get("row"), "row_key": row.get("row_key"), "output": row.get("output"),
                "cost_usd": row.get("cost_usd"), "error": bool(row.get("error"))}
        for name, value in (row.get("scores") or {}).items():
            flat[name] = np.nan if value is None else value
        rows.append(flat)
    return run_name_of(tc), pd.DataFrame(rows)


def load_results(experiment_name: str, sagemaker_session=None, max_workers: int = 16) -> dict:
    """{run name: (trial component dict, per-row DataFrame)} for every evaluated run of the experiment."""
    session = sagemaker_session or open_session()
    s3 = session.boto_session.client("s3")
    tcs = [tc for tc in iter_trial_components(session, experiment_name)
           if RESULTS_ARTIFACT in (tc.get("OutputArtifacts") or {})]
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        fetched = list(pool.map(lambda tc: _fetch_scores(s3, tc), tcs))
    return {name: (tc, frame) for tc, (name, frame) in zip(tcs, fetched, strict=True) if frame is not None}


def bootstrap_mean_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95):
    """(mean, low, high): the percentile bootstrap over rows."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(values.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def leaderboard(experiment_name: str, metric: str, baseline: str | None = None, sagemaker_session=None,
                results: dict | None = None, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per variant (run): mean `metric` with its 95% bootstrap CI, cost, and against `baseline`
    (a run name; default: the first run by name) the paired difference on the rows both scored, its CI,
    and whether the CI excludes 0. Sorted best first. Pass `results=` (from load_results) to skip fetching."""
    results = results if results is not None else load_results(experiment_name, sagemaker_session)
    if not results:
        raise ValueError(f"Experiment {experiment_name!r} has no evaluated runs (no {RESULTS_ARTIFACT} artifact). "
                         "Run helpers.evaluation.evaluate or `make sweep` first.")
    missing = [name for name, (_, frame) in results.items() if metric not in frame.columns]
    if len(missing) == len(results):
        known = sorted({c for _, f in results.values() for c in f.columns} - {"row", "row_key", "output",
                                                                           "cost_usd", "error"})
        raise ValueError(f"No run has a score named {metric!r}; scores recorded: {', '.join(known)}.")
    names = sorted(n for n in results if n not in missing)
    baseline = baseline or names[0]
    if baseline not in results:
        raise ValueError(f"baseline {baseline!r} is not an evaluated run of {experiment_name!r}; "
                         f"runs: {', '.join(names)}.")
    base = results[baseline][1].set_index("row_key")[metric]
    records = []
    for index, name in enumerate(names):
        tc, frame = results[name]
        scores = frame[metric].to_numpy(dtype=float)
        mean, low, high = bootstrap_mean_ci(scores, n_boot, seed + index)
        record = {"run_name": name, "n": int((~np.isnan(scores)).sum()), metric: mean, "ci_low": low, "ci_high": high}
        record.update({k: _value(v) for k, v in (tc.get("Parameters") or {}).items()
                       if k not in ("scorers", "price_source", "price_data_date", "cost_basis")})
        costs = pd.to_numeric(frame["cost_usd"], errors="coerce")
        record["cost_usd"] = float(costs.sum()) if costs.notna().all() else np.nan
        record["cost_usd_per_row"] = record["cost_usd"] / len(frame) if len(frame) else np.nan
        paired = pd.concat([frame.set_index("row_key")[metric], base], axis=1, join="inner").dropna()
        if name == baseline or paired.empty:
            record.update(diff_vs_baseline=0.0 if name == baseline else np.nan, diff_ci_low=np.nan,
                          diff_ci_high=np.nan, significant=False, paired_rows=len(paired))
        else:
            diff = paired.iloc[:, 0].to_numpy(dtype=float) - paired.iloc[:, 1].to_numpy(dtype=float)
            d_mean, d_low, d_high = bootstrap_mean_ci(diff, n_boot, seed + 10_000 + index)
            record.update(diff_vs_baseline=d_mean, diff_ci_low=d_low, diff_ci_high=d_high,
                          significant=bool(d_low > 0 or d_high < 0), paired_rows=len(paired))
        records.append(record)
    board = pd.DataFrame(records).sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)
    board.attrs.update(metric=metric, baseline=baseline, experiment_name=experiment_name)
    return board


def disagreements(results: dict, run_a: str, run_b: str, metric: str) -> pd.DataFrame:
    """The rows where two variants' `metric` differs: row, both outputs, both scores."""
    for name in (run_a, run_b):
        if name not in results:
            raise ValueError(f"{name!r} is not an evaluated run; runs: {', '.join(sorted(results))}.")
    a = results[run_a][1].set_index("row_key")[["row", "output", metric]]
    b = results[run_b][1].set_index("row_key")[["output", metric]]
    both = a.join(b, how="inner", lsuffix=f" ({run_a})", rsuffix=f" ({run_b})")
    differs = both[f"{metric} ({run_a})"].ne(both[f"{metric} ({run_b})"])
    return both[differs].sort_values("row").reset_index(drop=True)
