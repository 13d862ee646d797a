"""The MLflow backend's cost per event, side by side: untracked, ours into Experiments (the stand-in), ours into
MLflow (a local SQLite store), and mlflow.langchain.autolog() into the same store; interleaved rounds from a collected, frozen heap, medians.

"felt" is what the caller waits for (our uploads run on a worker); "drained" adds waiting for every upload.
"""

from __future__ import annotations

import gc
import statistics
from pathlib import Path

from . import workloads as w


def mlflow_backend(session, spool: Path, store_dir: Path, invocations: int, rounds: int) -> dict:
    import os

    os.environ["MLFLOW_LOCAL_DIR"] = str(store_dir)
    import mlflow

    from helpers.backends import open_tracker, start_run

    tracker = open_tracker("mlflow", "local")
    chain = w.scenario_2_chain()
    times: dict[str, list[float]] = {k: [] for k in ("untracked", "experiments_felt", "experiments_drained",
                                                     "mlflow_felt", "mlflow_drained", "autolog")}
    events = 0

    def ours(handler) -> tuple[float, float]:
        gc.collect()
        felt = w.timed(lambda: [chain.invoke("t", config={"callbacks": [handler]}) for _ in range(invocations)])
        return felt, felt + w.timed(handler.wait_for_uploads)

    gc.collect()
    gc.freeze()  # the older heap frozen: a full collection landing in one timed loop swamps the ratios
    try:
        for r in range(rounds):
            gc.collect()
            times["untracked"].append(w.timed(lambda: [chain.invoke("t") for _ in range(invocations)]))
            for backend in (("experiments", "mlflow") if r % 2 == 0 else ("mlflow", "experiments")):  # alternate
                opened = w.open_run(session, "bench-mlflow", f"experiments-{r}") if backend == "experiments" \
                    else start_run("bench-mlflow", f"mlflow-{r}", tracker)
                with opened as run:
                    handler = w.our_handler(run, spool)
                    chain.invoke("warm up", config={"callbacks": [handler]})
                    handler.wait_for_uploads()
                    events = handler.spool.lines
                    felt, drained = ours(handler)
                times[f"{backend}_felt"].append(felt)
                times[f"{backend}_drained"].append(drained)
            mlflow.langchain.autolog(silent=True)
            try:
                with start_run("bench-mlflow", f"autolog-{r}", tracker):
                    chain.invoke("warm up")
                    gc.collect()
                    times["autolog"].append(w.timed(lambda: [chain.invoke("t") for _ in range(invocations)]))
            finally:
                mlflow.langchain.autolog(disable=True, silent=True)
    finally:
        gc.unfreeze()
    us = {k: statistics.median(v) / invocations / max(events, 1) * 1e6 for k, v in times.items()}
    return {
        "events_per_invocation": events, "invocations": invocations, "rounds": rounds, "us_per_event": us,
        "ratio_mlflow_vs_experiments_felt": us["mlflow_felt"] / us["experiments_felt"],
        "ratio_autolog_vs_mlflow_felt": us["autolog"] / us["mlflow_felt"],
        "ratio_autolog_vs_mlflow_drained": us["autolog"] / us["mlflow_drained"],
        "ratio_tracked_untracked": {k: us[k] / us["untracked"] for k in us if k != "untracked"},
    }


def table(result: dict) -> str:
    us, ratio = result["us_per_event"], result["ratio_tracked_untracked"]
    rows = ["| MLflow backend, µs per event (median) | value | × untracked |", "|---|---|---|",
            f"| untracked | {us['untracked']:.1f} | 1.0 |"]
    for key, label in (("experiments_felt", "ours → Experiments (felt)"), ("experiments_drained",
                       "ours → Experiments (uploads drained)"), ("mlflow_felt", "ours → MLflow SQLite (felt)"),
                       ("mlflow_drained", "ours → MLflow SQLite (uploads drained)"),
                       ("autolog", "mlflow.langchain.autolog() → same store")):
        rows.append(f"| {label} | {us[key]:.1f} | {ratio[key]:.1f} |")
    rows.append(f"| MLflow/Experiments backend, felt | {result['ratio_mlflow_vs_experiments_felt']:.2f}× | |")
    rows.append(f"| autolog / ours (felt; drained) | {result['ratio_autolog_vs_mlflow_felt']:.1f}×; "
                f"{result['ratio_autolog_vs_mlflow_drained']:.1f}× | |")
    return "\n".join(rows)


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    from helpers.experiments import open_session

    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result = mlflow_backend(open_session("local", local_dir=tmp / "local"), tmp / "spool", tmp / "mlflow",
                                invocations=5 if quick else 20, rounds=2 if quick else 7)
    print(json.dumps(result, indent=2))
    print(table(result))
