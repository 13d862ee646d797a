"""otlp_endpoint=: the same spans, as OTLP/HTTP with GenAI attribute names, received on a loopback endpoint
(decoded with opentelemetry-proto); our ids and parents kept; redacted; a failing endpoint loses nothing."""

from __future__ import annotations

import json
import logging
import uuid

import mlflow
import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from mlflow_loopback import OtlpReceiver

from helpers.analysis import load_traces
from helpers.backends import open_tracker, start_run
from helpers.backends.otlp import traces_endpoint
from helpers.offline_model import OfflineChatModel
from helpers.tracking import SageMakerCallbackHandler

SECRET = "sk-" + "Zq9x" * 12


@tool
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@tool
def broken(text: str) -> str:
    """Always fails."""
    raise ValueError("the tool broke")


@pytest.fixture
def receiver():
    server = OtlpReceiver()
    yield server
    server.close()


@pytest.fixture(params=["mlflow", "experiments"])
def tracker(request, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("MLFLOW_LOCAL_DIR", str(tmp_path / "mlflow"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield open_tracker(request.param, "local", local_dir=tmp_path / "sagemaker")
    assert no_network == [], f"connected outside loopback: {no_network}"


def _calls(handler):
    chain = ChatPromptTemplate.from_template("a joke about {topic}") | OfflineChatModel(model_name="offline-chat") \
        | StrOutputParser()
    config = {"callbacks": [handler]}
    answer = chain.invoke({"topic": "fish", "api_key": SECRET}, config=config)
    add.invoke({"name": "add", "args": {"a": 1, "b": 2}, "id": "call_7", "type": "tool_call"}, config=config)
    with pytest.raises(ValueError):
        broken.invoke({"text": "x"}, config=config)
    return answer


def test_spans_arrive_as_otlp_with_genai_names_ids_and_parents(tracker, receiver, spool_dir):
    with start_run("exp-otlp", "run-1", tracker) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir, otlp_endpoint=receiver.url)
        answer = _calls(handler)
    ours = load_traces("exp-otlp", sagemaker_session=tracker)
    got = {span.name: span for span in receiver.spans}
    assert len(receiver.spans) == len(ours) == 6
    assert set(got) == {"RunnableSequence", "ChatPromptTemplate", "chat offline-chat", "StrOutputParser",
                        "execute_tool add", "execute_tool broken"}
    for span in receiver.spans:  # our ids: the trace UUID is the trace id, the span UUID's low 64 bits the span id
        attrs = OtlpReceiver.attributes(span)
        row = ours[ours["span_id"] == attrs["langchain.span_id"]].iloc[0]
        assert span.trace_id == uuid.UUID(row["trace_id"]).bytes
        assert span.span_id == uuid.UUID(row["span_id"]).bytes[8:]
        assert span.parent_span_id == (uuid.UUID(row["parent_id"]).bytes[8:] if isinstance(row["parent_id"], str) else b"")
        assert abs(span.start_time_unix_nano / 1e6 - row["start_time"].timestamp() * 1000) < 1
        assert abs((span.end_time_unix_nano - span.start_time_unix_nano) / 1e6 - row["latency_ms"]) < 1
    chat = OtlpReceiver.attributes(got["chat offline-chat"])
    row = ours[ours["name"] == "OfflineChatModel"].iloc[0]
    assert got["chat offline-chat"].parent_span_id == got["RunnableSequence"].span_id
    assert got["chat offline-chat"].kind == 3  # SPAN_KIND_CLIENT
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.request.model"] == "offline-chat"
    assert chat["gen_ai.provider.name"] == "offline"
    assert chat["gen_ai.usage.input_tokens"] == row["input_tokens"] > 0
    assert chat["gen_ai.usage.output_tokens"] == row["output_tokens"] > 0
    assert json.loads(chat["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "a joke about fish"}]}]
    (said,) = json.loads(chat["gen_ai.output.messages"])
    assert said["role"] == "assistant" and said["parts"] == [{"type": "text", "content": answer}]
    tool_span = OtlpReceiver.attributes(got["execute_tool add"])
    assert tool_span["gen_ai.operation.name"] == "execute_tool" and tool_span["gen_ai.tool.name"] == "add"
    assert tool_span["gen_ai.tool.call.id"] == "call_7" and tool_span["gen_ai.tool.call.result"] == "3"
    failed = got["execute_tool broken"]
    assert failed.status.code == 2 and "the tool broke" in failed.status.message  # STATUS_CODE_ERROR
    assert OtlpReceiver.attributes(failed)["error.type"] == "ValueError"
    assert failed.events[0].name == "exception"
    assert got["RunnableSequence"].status.code != 2
    service = {kv.key: kv.value.string_value for kv in receiver.resources[0].attributes}
    assert service["service.name"] == "langchain-tracking"
    assert service["langchain.store.backend"] in ("mlflow", "local")
    assert all(SECRET.encode() not in body for body in receiver.bodies)
    assert any(b"[REDACTED" in body or b"REDACTED" in body for body in receiver.bodies)


def test_mlflow_span_ids_are_the_otlp_span_ids(tmp_path, monkeypatch, receiver, spool_dir, no_network):
    monkeypatch.setenv("MLFLOW_LOCAL_DIR", str(tmp_path / "mlflow"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking = open_tracker("mlflow", "local")
    with start_run("exp-otlp-ids", "run-1", tracking) as run:
        _calls(SageMakerCallbackHandler(run, spool_dir=spool_dir, otlp_endpoint=receiver.url))
    experiment = mlflow.get_experiment_by_name("exp-otlp-ids")
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    in_mlflow = {span.span_id for trace in traces for span in trace.data.spans}
    assert in_mlflow == {span.span_id.hex() for span in receiver.spans}


def test_a_failing_endpoint_breaks_nothing_and_its_spans_follow_later(tracker, receiver, spool_dir, caplog):
    receiver.status = 400  # refuses, at once (no retry)
    with caplog.at_level(logging.WARNING), start_run("exp-otlp-down", "run-1", tracker) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir, otlp_endpoint=receiver.url)
        _calls(handler)
        assert handler.wait_for_uploads(60)
        assert receiver.spans == []
        receiver.status = 200
        _calls(handler)
    assert len(load_traces("exp-otlp-down", sagemaker_session=tracker)) == 12  # the run's store has all
    assert len(receiver.spans) == 12  # the refused ones went with the next segment
    assert len({span.span_id for span in receiver.spans}) == 12
    warnings = [r.getMessage() for r in caplog.records if "OTLP export to" in r.getMessage()]
    assert len(warnings) == 1 and receiver.url in warnings[0] and "not affected" in warnings[0]


def test_an_unreachable_endpoint_never_breaks_the_chain(tracker, spool_dir):
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with start_run("exp-otlp-gone", "run-1", tracker) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir, otlp_endpoint=f"http://127.0.0.1:{port}")
        assert handler.uploader.store.otlp.exporter._client._timeout <= 5
        _calls(handler)
    assert len(load_traces("exp-otlp-gone", sagemaker_session=tracker)) == 6
    assert not list(spool_dir.glob("*/*.jsonl"))  # the spool was confirmed and removed as without OTLP


def test_a_bad_endpoint_is_one_clear_error():
    with pytest.raises(ValueError, match="otlp_endpoint must be an http"):
        traces_endpoint("127.0.0.1:4318")
    assert traces_endpoint("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_endpoint("http://127.0.0.1:4318/custom/path") == "http://127.0.0.1:4318/custom/path"
