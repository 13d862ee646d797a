"""SageMakerCallbackHandler against a recording fake Run: what each kind of LangChain call puts in the spans."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from helpers.tracking import SageMakerCallbackHandler
from helpers.tracking.serialize import to_jsonable


class FakeRun:
    """A SageMaker Run stand-in that is also the handler's trace store: records segments, parameters, metrics."""

    trace_uri = "fake://trace/"

    def __init__(self, fail_log_file: int = 0):
        self.params: dict = {}
        self.metrics: list[tuple[str, float]] = []
        self.segments: list[tuple[str, bytes]] = []
        self.fail_log_file = fail_log_file  # segment uploads that fail
        self.calls = 0
        self.closed = False
        self._in_call = threading.Lock()

    def _enter(self):
        assert self._in_call.acquire(blocking=False), "two threads used the Run at once"
        self.calls += 1

    def log_file(self, path, name=None, media_type=None, is_output=True):
        raise AssertionError("the handler writes segments, not files")

    def identity(self):
        return {"backend": "fake"}

    def put_segment(self, name, body):
        self._enter()
        try:
            if self.fail_log_file:
                self.fail_log_file -= 1
                raise ConnectionError("S3 is unreachable")
            self.segments.append((name, body))
        finally:
            self._in_call.release()

    def link(self):
        pass

    def linked(self):
        return True

    def put_params(self, params):
        self._enter()
        self.params.update(params)
        self._in_call.release()

    def put_metrics(self, snapshot):
        self._enter()
        self.metrics += list(snapshot.values().items())
        snapshot.accepted = len(self.metrics)
        self._in_call.release()

    def close(self):
        self.closed = True

    def spans(self) -> list[dict]:
        text = b"".join(body for _, body in sorted(self.segments)).decode()
        return [r for r in map(json.loads, text.splitlines()) if r["type"] == "span"]

    def last(self, metric):
        return [v for n, v in self.metrics if n == metric][-1]


@pytest.fixture
def fake_run():
    return FakeRun()


@pytest.fixture
def handler(fake_run, spool_dir):
    return SageMakerCallbackHandler(fake_run, store=fake_run, spool_dir=spool_dir)


def finish(handler, run) -> list[dict]:
    handler.flush_tracker()
    return run.spans()


class ToolCallingChat(BaseChatModel):
    """Asks for `tool` once, then answers with the tool's result; reports usage like OpenAI does."""

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    @property
    def _identifying_params(self):
        return {"model_name": "fake-tools", "temperature": 0.3}

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        results = [m for m in messages if m.type == "tool"]
        if not results:
            msg = AIMessage(content="", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1"}])
        else:
            msg = AIMessage(content=f"The sum is {results[-1].content}.")
        msg.usage_metadata = {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
        msg.response_metadata = {"finish_reason": "tool_calls" if not results else "stop"}
        return ChatResult(generations=[ChatGeneration(message=msg)])


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_create_agent_tool_calls_final_answer_usage_and_genai_attributes(fake_run, handler):
    create_agent = pytest.importorskip("langchain.agents").create_agent  # not in the SDK v2 venv
    agent = create_agent(ToolCallingChat(), [add])
    result = agent.invoke({"messages": [("user", "what is 2 + 3?")]}, config={"callbacks": [handler]})
    spans = finish(handler, fake_run)
    assert result["messages"][-1].content == "The sum is 5."
    chats = [s for s in spans if s["kind"] == "chat_model"]
    tools = [s for s in spans if s["kind"] == "tool"]
    assert chats[0]["tool_calls"] == [{"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1"}]
    assert chats[0]["output_text"] == "tool call: add({'a': 2, 'b': 3})"
    assert chats[-1]["output_text"] == "The sum is 5."
    assert [t["name"] for t in tools] == ["add"] and tools[0]["output_text"] == "5"
    assert "human: what is 2 + 3?" in chats[0]["input_text"]
    attrs = chats[0]["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.request.model"] == "fake-tools"
    assert attrs["gen_ai.request.temperature"] == 0.3
    assert attrs["gen_ai.usage.input_tokens"] == 11 and attrs["gen_ai.usage.output_tokens"] == 7
    assert [c["attributes"]["gen_ai.response.finish_reasons"] for c in chats] == [["tool_calls"], ["stop"]]
    assert fake_run.last("llm_calls") == 2 and fake_run.last("tool_calls") == 1
    assert fake_run.last("total_tokens") == 36 and fake_run.last("input_tokens") == 22
    assert fake_run.params["model_name"] == "fake-tools" and fake_run.params["temperature"] == 0.3


def test_usage_from_llm_output_when_messages_carry_none(fake_run, handler):
    class OpenAIStyle(FakeListLLM):
        def _generate(self, prompts, stop=None, run_manager=None, **kwargs):
            result = super()._generate(prompts, stop=stop, run_manager=run_manager, **kwargs)
            result.llm_output = {"token_usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}
            return result

    OpenAIStyle(responses=["hi"]).invoke("hello", config={"callbacks": [handler]})
    (span,) = finish(handler, fake_run)
    assert span["usage"] == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert span["attributes"]["gen_ai.usage.output_tokens"] == 2 and span["attributes"]["gen_ai.operation.name"] == "text_completion"


def test_streaming_chat_records_text_usage_and_time_to_first_token(fake_run, handler):
    class Streamer(GenericFakeChatModel):
        def _stream(self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs):
            for i, word in enumerate(["one ", "two ", "three"]):
                usage = {"input_tokens": 4, "output_tokens": 3, "total_tokens": 7} if i == 2 else None
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=word, usage_metadata=usage))
                if run_manager:
                    run_manager.on_llm_new_token(word, chunk=chunk)
                yield chunk

    model = Streamer(messages=iter([]))
    text = "".join(c.content for c in model.stream("count", config={"callbacks": [handler]}))
    (span,) = finish(handler, fake_run)
    assert text == "one two three" and span["output_text"] == text
    assert span["usage"] == {"input_tokens": 4, "output_tokens": 3, "total_tokens": 7}
    assert 0 <= span["time_to_first_token_ms"] <= span["latency_ms"]


def test_batch_async_and_non_dict_inputs(fake_run, handler):
    double = RunnableLambda(lambda x: x * 2, name="double")
    assert double.batch([1, 2, 3], config={"callbacks": [handler]}) == [2, 4, 6]
    assert asyncio.run(double.ainvoke("ab", config={"callbacks": [handler]})) == "abab"
    assert asyncio.run(double.abatch([[1], [2]], config={"callbacks": [handler]})) == [[1, 1], [2, 2]]
    spans = finish(handler, fake_run)
    assert sorted(json.dumps(s["inputs"]) for s in spans) == sorted(json.dumps(v) for v in (
        {"input": 1}, {"input": 2}, {"input": 3}, {"input": "ab"}, {"input": [1]}, {"input": [2]}))
    assert {s["output_text"] for s in spans if isinstance(s["outputs"]["output"], int | str)} == {"2", "4", "6", "abab"}
    assert all(s["parent_id"] is None and s["trace_id"] == s["span_id"] for s in spans)


def test_retriever_spans_keep_documents(fake_run, handler):
    class Shelf(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager=None):
            return [Document(page_content=f"about {query}", metadata={"source": "shelf"})]

    docs = Shelf().invoke("fish", config={"callbacks": [handler]})
    (span,) = finish(handler, fake_run)
    assert docs[0].page_content == "about fish"
    assert span["kind"] == "retriever" and span["input_text"] == "fish"
    assert span["outputs"]["documents"][0]["page_content"] == "about fish"


def test_callbacks_called_by_hand_with_serialized_none(fake_run, handler):
    """Some integrations pass serialized=None and scalars: the handler must still write a span."""
    root = uuid.uuid4()
    handler.on_chain_start(None, "plain text input", run_id=root)
    llm = uuid.uuid4()
    handler.on_llm_start(None, ["a prompt"], run_id=llm, parent_run_id=root)
    from langchain_core.outputs import Generation, LLMResult

    handler.on_llm_end(LLMResult(generations=[[Generation(text="an answer")]]), run_id=llm)
    handler.on_chain_end("plain text output", run_id=root)
    spans = finish(handler, fake_run)
    assert [s["kind"] for s in spans] == ["llm", "chain"]
    assert spans[0]["parent_id"] == str(root) and spans[0]["output_text"] == "an answer"
    assert spans[1]["input_text"] == "plain text input" and spans[1]["output_text"] == "plain text output"


def test_tool_error_has_type_message_and_traceback(fake_run, handler):
    @tool
    def broken(q: str) -> str:
        """Always fails."""
        raise LookupError(f"nothing found for {q}")

    with pytest.raises(LookupError):
        broken.invoke({"q": "fish"}, config={"callbacks": [handler]})
    (span,) = finish(handler, fake_run)
    assert span["status"] == "error" and span["kind"] == "tool"
    assert span["error"]["type"] == "LookupError" and span["error"]["message"] == "nothing found for fish"
    assert "Traceback" in span["error"]["traceback"] and "raise LookupError" in span["error"]["traceback"]
    assert fake_run.last("errors") == 1


def test_a_secret_cut_by_truncation_is_not_half_kept(fake_run, spool_dir):
    key = "sk-" + "Z" * 40
    handler = SageMakerCallbackHandler(fake_run, store=fake_run, spool_dir=spool_dir, max_field_chars=30)
    RunnableLambda(lambda x: "ok").invoke("x" * 20 + key, config={"callbacks": [handler]})
    (span,) = finish(handler, fake_run)
    assert "ZZZZ" not in json.dumps(span) and span["inputs"]["input"].startswith("x" * 20 + "[REDACTED]")
    assert "[truncated" in span["inputs"]["input"]


def test_token_counts_are_not_secrets_but_credentials_are(fake_run, handler):
    import numpy as np

    payload = {"api_key_array": np.array([1, 2]), "empty_secret": "", "max_tokens": 5, "input_tokens": 1, "output_tokens": 2, "total_tokens": 3,
               "openai_api_key": "abc", "aws_secret_access_key": "def", "password": "ghi",
               "access_token": "jkl", "token": "mno", "headers": {"Authorization": "Bearer pqr"},
               "api_token": "s", "hf_token": "t", "slack_bot_token": "u", "pwd": "v", "passphrase": "w", "cookie": "x",
               "eos_token": "</s>", "time_to_first_token_ms": 12,
               "note": "aws_secret_access_key=wJalrXUtnFI/K7MDENG/bPxRfiCYEXAMPLEKEY12 in commit "
                       "0123456789abcdef0123456789abcdef01234567"}
    RunnableLambda(lambda x: "ok").invoke(payload, config={"callbacks": [handler]})
    (span,) = finish(handler, fake_run)
    inputs = span["inputs"]
    assert [inputs[k] for k in ("max_tokens", "input_tokens", "output_tokens", "total_tokens")] == [5, 1, 2, 3]
    for key in ("openai_api_key", "aws_secret_access_key", "password", "access_token", "token",
                "api_token", "hf_token", "slack_bot_token", "pwd", "passphrase", "cookie"):
        assert inputs[key] == "[REDACTED]"
    assert inputs["eos_token"] == "</s>" and inputs["time_to_first_token_ms"] == 12  # settings, not secrets
    assert inputs["note"] == ("aws_secret_access_key=[REDACTED] in commit "  # a git SHA is not a key
                              "0123456789abcdef0123456789abcdef01234567")
    assert inputs["headers"]["Authorization"] == "[REDACTED]"
    assert inputs["api_key_array"] == "[REDACTED]" and inputs["empty_secret"] == ""


def test_a_failing_mask_drops_the_span_rather_than_leak_and_warns(fake_run, spool_dir, monkeypatch, caplog):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")

    def mask(data):
        raise RuntimeError("mask bug")

    handler = SageMakerCallbackHandler(fake_run, store=fake_run, spool_dir=spool_dir, mask=mask)
    assert RunnableLambda(lambda x: x + 1).invoke(1, config={"callbacks": [handler]}) == 2
    assert RunnableLambda(lambda x: x + 1).invoke(2, config={"callbacks": [handler]}) == 3
    handler.flush_tracker()
    assert '"type":"span"' not in handler.spool_path.read_text()  # only the execution's start record
    assert caplog.text.count("recording a span failed (RuntimeError: mask bug)") == 1


def test_strict_mode_raises_tracking_bugs(fake_run, spool_dir, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "1")

    def mask(data):
        raise RuntimeError("mask bug")

    handler = SageMakerCallbackHandler(fake_run, store=fake_run, spool_dir=spool_dir, mask=mask)
    with pytest.raises(RuntimeError, match="mask bug"):
        RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})


def test_first_upload_failure_is_retried_by_the_next_call(spool_dir, monkeypatch, caplog):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    run = FakeRun(fail_log_file=1)
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=spool_dir)
    double = RunnableLambda(lambda x: x * 2)
    assert double.invoke(1, config={"callbacks": [handler]}) == 2  # the upload fails, the chain does not
    assert "S3 is unreachable" in caplog.text and str(handler.spool_path) in caplog.text
    assert double.invoke(2, config={"callbacks": [handler]}) == 4
    assert handler.wait_for_uploads(timeout=30)
    assert [s["outputs"]["output"] for s in run.spans()] == [2, 4]


def test_background_upload_error_reaches_the_caller_in_strict_mode(spool_dir, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "1")
    run = FakeRun()
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=spool_dir)
    RunnableLambda(lambda x: x).invoke(1, config={"callbacks": [handler]})  # registers the artifact
    run.fail_log_file = 1
    RunnableLambda(lambda x: x).invoke(2, config={"callbacks": [handler]})  # uploads from the worker
    with pytest.raises(ConnectionError, match="S3 is unreachable"):
        handler.wait_for_uploads(timeout=30)


def test_closing_the_run_uploads_what_is_left(spool_dir):
    run = FakeRun()
    handler = SageMakerCallbackHandler(run, store=run, spool_dir=spool_dir)
    for i in range(5):
        RunnableLambda(lambda x: x).invoke(i, config={"callbacks": [handler]})
    run.close()  # what `with Run(...)` does on exit
    assert run.closed and [s["inputs"]["input"] for s in run.spans()] == [0, 1, 2, 3, 4]


def test_threads_never_use_the_run_at_once(fake_run, handler):
    llm = FakeListLLM(responses=["x"])
    threads = [threading.Thread(target=lambda i=i: llm.invoke(f"{i}", config={"callbacks": [handler]}))
               for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = finish(handler, fake_run)  # FakeRun asserts that no two calls overlapped
    assert sorted(s["input_text"] for s in spans) == sorted(str(i) for i in range(32))
    assert fake_run.last("llm_calls") == 32


def test_serializer_never_raises_on_hostile_objects():
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no repr")

        @property
        def model_dump(self):
            raise RuntimeError("no dump")

    out = to_jsonable({"h": Hostile(), "ok": 1})
    json.dumps(out)
    assert out["ok"] == 1 and out["h"] == "<unserializable Hostile: RuntimeError>"
