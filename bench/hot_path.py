"""Hot-path rows of `make bench`: ours against untracked, a no-op BaseTracer and a floor tracer, side by side.

Also a 20 ms model, a retriever returning 1,000 x 1,536 embeddings, and upload time and memory as a trace grows.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson
from langchain_core.language_models.fake import FakeListLLM

from . import workloads as w

ROOT = Path(__file__).resolve().parent.parent


class SlowLLM(FakeListLLM):
    """A model that takes `delay_s` per call (a network model's latency, with no network)."""

    delay_s: float = 0.02

    def _call(self, *args, **kwargs):
        time.sleep(self.delay_s)
        return super()._call(*args, **kwargs)


def floor_tracer(path: Path):
    """The least a real tracer does: BaseTracer's run tree, the same span record, orjson, one file."""
    from langchain_core.tracers.base import BaseTracer

    from helpers.tracking.spans import span_record

    class FloorTracer(BaseTracer):
        def __init__(self):
            super().__init__(_schema_format="original+chat")
            self.file = open(path, "ab")  # noqa: SIM115 - closed by the process

        def _end_trace(self, run):
            self.file.write(orjson.dumps(span_record(run, None), default=repr) + b"\n")
            super()._end_trace(run)

        def _persist_run(self, run):
            self.file.flush()

    return FloorTracer()


def scenario_2(llm=None):
    from langchain_classic.chains import LLMChain, SimpleSequentialChain
    from langchain_core.prompts import PromptTemplate

    llm = llm or FakeListLLM(responses=["a synopsis", "a review"])
    return SimpleSequentialChain(chains=[LLMChain(llm=llm, prompt=PromptTemplate.from_template(w.SYNOPSIS)),
                                         LLMChain(llm=llm, prompt=PromptTemplate.from_template(w.REVIEW))])


def floor_comparison(session, spool: Path, invocations: int, rounds: int, delay_s: float = 0.0) -> dict:
    """Per call, interleaved round by round (medians): untracked, no-op tracer, floor tracer, ours felt and
    ours including its background upload."""
    chain = scenario_2(SlowLLM(responses=["a synopsis", "a review"], delay_s=delay_s) if delay_s else None)
    times: dict[str, list[float]] = {k: [] for k in ("untracked", "noop_tracer", "floor_tracer", "ours", "ours_with_upload")}

    def loop(callbacks):
        return w.timed(lambda: [chain.invoke("t", config={"callbacks": callbacks}) for _ in range(invocations)])

    for r in range(rounds):
        times["untracked"].append(loop([]) / invocations)
        times["noop_tracer"].append(loop([w.noop_tracer()]) / invocations)
        times["floor_tracer"].append(loop([floor_tracer(spool.parent / f"floor-{r}.jsonl")]) / invocations)
        with w.open_run(session, "bench-floor", f"ours-{int(delay_s * 1000)}-{r}") as run:
            ours = w.our_handler(run, spool)
            chain.invoke("warm up", config={"callbacks": [ours]})  # links the trace
            ours.wait_for_uploads()
            started = time.perf_counter()
            felt = loop([ours])
            ours.wait_for_uploads()
            times["ours"].append(felt / invocations)
            times["ours_with_upload"].append((time.perf_counter() - started) / invocations)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratios = {k: med[k] / med["untracked"] for k in med}
    return {"delay_ms": delay_s * 1000, "invocations": invocations, "rounds": rounds,
            "ms_per_call": {k: v * 1000 for k, v in med.items()}, "ratio_to_untracked": ratios,
            "ours_over_floor": ratios["ours"] / ratios["floor_tracer"]}


def embeddings(session, spool: Path, rounds: int) -> dict:
    """A retriever whose 1,000 documents each carry a 1,536-float embedding: tracked minus untracked."""
    import numpy as np
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    vectors = np.random.default_rng(0).random((1_000, 1_536), dtype=np.float32)
    docs = [Document(page_content=f"doc {i}", metadata={"embedding": vectors[i].tolist()}) for i in range(1_000)]

    class Big(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager=None):
            return docs

    retriever, untracked, tracked = Big(), [], []
    for r in range(rounds):
        untracked.append(w.timed(lambda: retriever.invoke("q")))
        with w.open_run(session, "bench-embeddings", f"r-{r}") as run:
            ours = w.our_handler(run, spool)
            tracked.append(w.timed(lambda ours=ours: retriever.invoke("q", config={"callbacks": [ours]})))
            ours.flush_tracker()
            span_bytes = ours.spool.size
    return {"untracked_ms": statistics.median(untracked) * 1000, "tracked_ms": statistics.median(tracked) * 1000,
            "extra_ms": (statistics.median(tracked) - statistics.median(untracked)) * 1000, "trace_bytes": span_bytes}


GROWTH_CHILD = """
import json, resource, sys, tempfile, time
from langchain_core.runnables import RunnableLambda
from helpers.experiments import open_session, Run, local_backend
from helpers.tracking import SageMakerCallbackHandler
d = tempfile.mkdtemp()
s = open_session("local", local_dir=d + "/local")
step = RunnableLambda(lambda x: x + 1)
def hundred(x):
    for _ in range(99):
        x = step.invoke(x)
    return x
call = RunnableLambda(hundred)
checkpoints = [int(c) for c in sys.argv[1].split(",")]
out = []
with Run(experiment_name="bench-growth", run_name="growth", sagemaker_session=s) as run:
    handler = SageMakerCallbackHandler(run, spool_dir=d + "/spool", upload_interval_s=3600)
    backend = local_backend(s)
    spans = 0
    for target in checkpoints:
        while spans < target - 100:
            call.invoke(0, config={"callbacks": [handler]})
            spans += 100
        handler.flush_tracker()
        backend.reset_counts()
        call.invoke(0, config={"callbacks": [handler]})  # the measured upload: the last 100 spans
        spans += 100
        started = time.perf_counter()
        handler.flush_tracker()
        out.append({"spans": spans, "upload_ms": (time.perf_counter() - started) * 1000,
                    "requests": dict(backend.request_counts),
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
print(json.dumps(out))
"""


def growth(checkpoints=(1_000, 10_000, 100_000)) -> list[dict]:
    """One upload's time and requests, and peak memory, as one run's trace grows to 100,000 spans."""
    proc = subprocess.run([sys.executable, "-c", GROWTH_CHILD, ",".join(map(str, checkpoints))], capture_output=True,
                          text=True, check=True, cwd=ROOT)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rows(results: dict) -> list[str]:
    """Table rows for the README: targets of issue 13."""
    lines = []
    fast, slow = results.get("floor"), results.get("floor_20ms")
    if fast:
        r = fast["ratio_to_untracked"]
        lines.append(f"| 6. instant model: tracked / untracked (floor tracer {r['floor_tracer']:.2f}x, no-op BaseTracer "
                     f"{r['noop_tracer']:.2f}x) | {r['ours']:.2f}x = {fast['ours_over_floor']:.2f}x the floor's | | "
                     f"≤ 1.2x the floor's | {'yes' if fast['ours_over_floor'] <= 1.2 else 'no'} |")
    if slow:
        r = slow["ratio_to_untracked"]
        lines.append(f"| 6. 20 ms model: tracked / untracked | {r['ours']:.3f}x | | ≤ 1.05x | {'yes' if r['ours'] <= 1.05 else 'no'} |")
        lines.append(f"| 6. 20 ms model, including the background upload | {r['ours_with_upload']:.3f}x | | ≤ 1.1x | "
                     f"{'yes' if r['ours_with_upload'] <= 1.1 else 'no'} |")
    emb = results.get("embeddings")
    if emb:
        lines.append(f"| 6. retriever with 1,000 × 1,536 embeddings: tracked − untracked | {emb['extra_ms']:.1f} ms "
                     f"(trace {emb['trace_bytes'] / 1024:.0f} KB) | | ≤ 50 ms | {'yes' if emb['extra_ms'] <= 50 else 'no'} |")
    for point in results.get("growth") or []:
        reqs = sum(point["requests"].values())
        lines.append(f"| 7. one upload at {point['spans']:,} spans in the trace | {point['upload_ms']:.0f} ms, {reqs} requests, "
                     f"peak RSS {point['peak_rss_mb']:.0f} MB | | flat | |")
    return lines
