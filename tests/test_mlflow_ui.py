"""The MLflow UI over the local store, in headless Chromium: experiment, run and one trace, with its spans,
the prompt and the generated text on the page; screenshots under build/screenshots/."""

from __future__ import annotations

import time

import browser
import mlflow
import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from helpers.backends import open_tracker, start_run
from helpers.backends.ui import ui_server
from helpers.offline_model import OfflineChatModel
from helpers.tracking import SageMakerCallbackHandler

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))

SPANS = ["RunnableSequence", "ChatPromptTemplate", "OfflineChatModel", "StrOutputParser"]


def _page_text(driver, wanted: list[str], timeout_s: float = 60) -> str:
    """The body's text once every wanted string is in it (the UI renders after its API calls)."""
    deadline, text = time.monotonic() + timeout_s, ""
    while time.monotonic() < deadline:
        text = driver.find_element("tag name", "body").text
        if all(w in text for w in wanted):
            return text
        time.sleep(0.5)
    missing = [w for w in wanted if w not in text]
    raise AssertionError(f"not on the page after {timeout_s:.0f} s: {missing}\n{text[:2000]}")


def test_the_mlflow_ui_shows_the_experiment_the_run_and_the_trace(tmp_path, monkeypatch, spool_dir):
    monkeypatch.setenv("MLFLOW_LOCAL_DIR", str(tmp_path / "mlflow"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker = open_tracker("mlflow", "local")
    chain = ChatPromptTemplate.from_template("tell me a joke about {topic}") | OfflineChatModel(
        model_name="offline-chat") | StrOutputParser()
    with start_run("ui-experiment", "ui-run", tracker) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        answer = chain.invoke({"topic": "fish"}, config={"callbacks": [handler]})
    experiment_id, run_id = run.info.experiment_id, run.info.run_id
    (trace,) = mlflow.search_traces(locations=[experiment_id], return_type="list")

    with ui_server(tmp_path / "mlflow", log_path=tmp_path / "ui.log") as url, browser.chromium() as driver:
        driver.get(f"{url}/#/experiments/{experiment_id}")
        _page_text(driver, ["ui-experiment"])
        browser.screenshot(driver, "mlflow-ui-experiment")

        driver.get(f"{url}/#/experiments/{experiment_id}/runs/{run_id}")
        _page_text(driver, ["ui-run", "offline-chat", "llm_calls"])
        browser.screenshot(driver, "mlflow-ui-run")

        driver.get(f"{url}/#/experiments/{experiment_id}/traces?selectedEvaluationId={trace.info.trace_id}")
        _page_text(driver, SPANS)
        span = driver.find_element("xpath", "//*[normalize-space(text())='OfflineChatModel']")
        driver.execute_script("arguments[0].click();", span)  # the drawer's resize handle overlaps it
        text = _page_text(driver, ["tell me a joke about fish", answer])
        assert all(name in text for name in SPANS)
        assert "22" in text  # the call's tokens
        path = browser.screenshot(driver, "mlflow-ui-trace")
    assert path.stat().st_size > 10_000
