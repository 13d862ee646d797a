"""The trace view as a reader sees it: the HTML export of a notebook showing it, rendered in headless chromium."""

from __future__ import annotations

import browser
import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda

from helpers.analysis import load_traces, trace_html
from helpers.experiments import Run
from helpers.offline_model import OfflineLLM
from helpers.tools import make_tools
from helpers.tracking import SageMakerCallbackHandler

EXPERIMENT = "trace-view"
LONG_NAME = "a_deliberately_long_runnable_name_that_a_fixed_width_cell_would_clip_" * 2


def tracked_spans(session, calls: int = 2):
    """A real sequential chain with a tool step, called `calls` times in one run (re-executions of a cell)."""
    llm = OfflineLLM()
    calculator = make_tools("offline")[1]
    synopsis = PromptTemplate.from_template("Title: {title}\nSynopsis:") | llm | StrOutputParser()
    review = PromptTemplate.from_template("Review this synopsis: {synopsis}") | llm | StrOutputParser()
    chain = ({"synopsis": synopsis, "title": lambda x: x["title"]}
             | RunnableLambda(lambda x: {**x, "sum": calculator.invoke("2+2")}).with_config(run_name=LONG_NAME)
             | review)
    with Run(experiment_name=EXPERIMENT, run_name="twice", sagemaker_session=session) as run:
        handler = SageMakerCallbackHandler(run)
        for index in range(calls):
            chain.invoke({"title": f"play {index}"}, config={"callbacks": [handler]})
    return load_traces(EXPERIMENT, sagemaker_session=session)


def test_each_top_level_call_is_its_own_waterfall_newest_first(local_session):
    spans = tracked_spans(local_session)
    page = trace_html(spans, "twice")
    assert page.count('class="trace"') == 2 and page.count("LLM call 1 of 2") == 2
    first, second = (page.index(f"play {i}") for i in (1, 0))
    assert first < second  # the newer call (play 1) comes first
    assert "Review this synopsis" in page and "■" in page and "error" in page  # excerpt, kind marks, legend
    assert "table" not in page  # no table styles to inherit


def export_html(spans, path):
    """The notebook HTML export (the runner's HTMLExporter) of a notebook whose one output is the trace view."""
    import nbformat
    from nbconvert import HTMLExporter

    cell = nbformat.v4.new_code_cell("show_trace(spans, 'twice')", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": trace_html(spans, "twice"), "text/plain": "<HTML>"})])
    body, _ = HTMLExporter().from_notebook_node(nbformat.v4.new_notebook(cells=[cell]))
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))
def test_the_html_export_shows_the_tree_and_full_names_in_chromium(local_session, tmp_path):
    page = export_html(tracked_spans(local_session), tmp_path / "trace.html")
    with browser.chromium(width=1200) as driver:
        driver.get(page.as_uri())
        names = browser.boxes(driver, ".trace .span-name")
        headers = browser.boxes(driver, ".trace-header")
        legend = driver.execute_script("return document.querySelector('.trace').innerText")
        shot = browser.screenshot(driver, "trace-view")
    assert len(headers) == 2 and headers[0]["top"] < headers[1]["top"]
    assert all(n["width"] > 0 and n["height"] > 0 and not n["clipped"] for n in names)
    assert any(LONG_NAME in n["text"] for n in names)  # the whole name is on screen, wrapped
    rows = names[: len(names) // 2]  # the first waterfall
    lefts = {}
    for row in rows:
        lefts.setdefault(row["depth"], set()).add(round(row["left"]))
    depths = sorted(lefts)
    assert depths[0] == 0 and len(depths) >= 3
    for shallow, deep in zip(depths, depths[1:], strict=False):
        assert min(lefts[deep]) > max(lefts[shallow])  # each level is indented further right
    assert "tool" in legend and "chain" in legend and "llm" in legend
    assert shot.stat().st_size > 10_000
