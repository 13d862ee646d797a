"""Degrade, never drop: odd values become markers inside the span; big values are cut to the span budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda
from test_tracking_unit import FakeRun

from helpers.tracking import SageMakerCallbackHandler


class RaisingRepr:
    def __repr__(self):
        raise RuntimeError("no repr")

    def _repr_pretty_(self, printer, cycle):  # how hypothesis prints a failing example
        printer.text("RaisingRepr()")


class RaisingAttributes:
    model_fields = {"x": None}

    def __getattr__(self, name):
        raise ValueError(f"no {name}")

    def __iter__(self):
        raise ValueError("no fields")

    def _repr_pretty_(self, printer, cycle):
        printer.text("RaisingAttributes()")


def deep(levels: int):
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


def cyclic():
    value: dict = {}
    value["self"] = value
    return value


odd_leaves = (
    st.integers() | st.integers(0, 40_000).map(lambda bits: -(2**bits)) | st.floats() | st.text() | st.binary(max_size=64)
    | st.builds(RaisingRepr) | st.builds(RaisingAttributes) | st.integers(1, 3000).map(deep) | st.builds(cyclic)
    | arrays(np.float32, st.integers(0, 300)) | st.integers(0, 300).map(lambda n: pd.DataFrame({"x": range(n)}))
    | st.integers(0, 300).map(lambda n: pd.Series(range(n))) | st.sampled_from([np.int64(7), np.float16(1.5)])
)
odd_values = st.recursive(odd_leaves, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(inputs=odd_values, outputs=odd_values)
def test_no_span_is_ever_lost_to_an_odd_value(tmp_path_factory, inputs, outputs):
    run = FakeRun()
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=tmp_path_factory.mktemp("odd"))
    inner = RunnableLambda(lambda x: outputs, name="inner")
    RunnableLambda(lambda x: inner.invoke(x), name="outer").invoke({"value": inputs}, config={"callbacks": [handler]})
    handler.flush_tracker()
    spans = run.spans()
    assert sorted(s["name"] for s in spans) == ["inner", "outer"]  # both written, whatever the values


def test_big_values_are_summarised_and_the_span_stays_in_budget(spool_dir):
    run = FakeRun()
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=spool_dir, max_span_bytes=64 * 1024)
    embeddings = np.random.default_rng(0).random((1_000, 1_536), dtype=np.float32)
    docs = [Document(page_content=f"doc {i}", metadata={"embedding": embeddings[i].tolist()}) for i in range(1_000)]
    frame = pd.DataFrame({"a": range(1_000_000)})
    RunnableLambda(lambda x: {"docs": docs, "matrix": embeddings, "frame": frame, "items": list(range(10**6))}) \
        .invoke("q", config={"callbacks": [handler]})
    handler.flush_tracker()
    (segment,) = [body for _, body in run.segments]
    (line,) = [line for line in segment.splitlines() if b'"type":"span"' in line]
    assert len(line) <= 64 * 1024
    (span,) = run.spans()
    out = span["outputs"]
    assert out["matrix"]["__array__"] == [1_000, 1_536] and out["matrix"]["dtype"] == "float32"
    assert out["frame"]["__frame__"] == [1_000_000, 1] and "cut" in out["frame"]
    assert out["items"] == {"__list__": 10**6, "head": [0, 1, 2, 3, 4], "cut": "[summarised: 1000000 numbers]"}
    assert out["docs"][-1] == "[900 more items cut]"  # 100 documents kept, within the budget
    assert out["docs"][0]["metadata"]["embedding"]["__list__"] == 1_536  # a vector, summarised
    assert span.get("cut") is None  # summaries kept it under the budget: no second pass needed


def test_a_span_over_its_budget_is_cut_harder_and_says_so(spool_dir):
    run = FakeRun()
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=spool_dir, max_span_bytes=32 * 1024)
    RunnableLambda(lambda x: ["x" * 5_000] * 90).invoke("q", config={"callbacks": [handler]})
    handler.flush_tracker()
    (span,) = run.spans()
    assert span["cut"] == "[span of 450312 bytes over the 32768-byte budget: fields cut]" or \
        span["cut"].startswith("[span of ")
    assert span["status"] == "ok" and span["kind"] == "chain"  # the span itself is kept
    (line,) = [ln for _, body in run.segments for ln in body.splitlines() if b'"type":"span"' in ln]
    assert len(line) <= 32 * 1024


def test_each_value_that_cannot_be_encoded_becomes_a_marker_and_its_neighbours_stay(spool_dir):
    """Depth past the limit, huge integers, raising __repr__ and attributes, cycles: a marker each, in one span."""
    run = FakeRun()
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=spool_dir)
    odd = {"deep": deep(5_000), "big": 2**100, "huge": -(2**40_000), "repr": RaisingRepr(),
           "attrs": RaisingAttributes(), "cycle": cyclic(), "nan": float("nan"), "kept": "plain text"}
    RunnableLambda(lambda x: odd, name="odd").invoke("q", config={"callbacks": [handler]})
    handler.flush_tracker()
    (span,) = run.spans()
    out = span["outputs"]
    level, depth = out["deep"], 0
    while isinstance(level, list):
        level, depth = level[0], depth + 1
    assert level.startswith("<max depth") and depth < 20
    assert out["big"] == str(2**100)  # past 64 bits: kept as its digits, as text
    assert out["huge"] == "<int of 40001 bits>"
    assert out["repr"].startswith("<unserializable RaisingRepr")
    assert out["attrs"].startswith("<unserializable RaisingAttributes")
    assert out["cycle"]["self"].startswith("<cycle")
    assert out["nan"] == "nan" and out["kept"] == "plain text" and span["status"] == "ok"


def test_the_default_span_budget_is_256_kb(spool_dir):
    run = FakeRun()
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=spool_dir)  # max_span_bytes's default
    RunnableLambda(lambda x: ["x" * 19_000] * 90).invoke("q", config={"callbacks": [handler]})
    handler.flush_tracker()
    (span,) = run.spans()
    assert span["cut"].startswith("[span of ") and "262144-byte budget" in span["cut"]
    (line,) = [ln for _, body in run.segments for ln in body.splitlines() if b'"type":"span"' in ln]
    assert len(line) <= 256 * 1024
