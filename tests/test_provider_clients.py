"""The real OpenAI, Bedrock and SerpAPI clients, against loopback servers and a botocore stub."""

from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.errors import ProviderError, explain_errors
from helpers.providers import make_model, resolve_provider
from helpers.tools import evaluate, make_tools, offline_search

USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def _chat_reply(body: dict) -> dict:
    message = {"role": "assistant", "content": "loopback says hi"}
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps({"query": "oldest person"})}}]}
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if body.get("tools") else "stop"}],
            "usage": USAGE}


@contextmanager
def loopback(handler_cls):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()


@contextmanager
def openai_server(status: int = 200):
    """An OpenAI-compatible server on 127.0.0.1 that records the JSON bodies it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, code, payload, content_type="application/json"):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if status != 200:
                return self._send(status, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                                     "code": "invalid_api_key"}})
            if self.path.endswith("/completions") and "chat" not in self.path:
                return self._send(200, {"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                                        "choices": [{"text": " a fishy joke", "index": 0, "finish_reason": "stop", "logprobs": None}],
                                        "usage": USAGE})
            if body.get("stream"):
                words = ["loop", "back ", "stream"]
                chunks = [{"id": "s", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words]
                chunks.append({"id": "s", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                chunks.append({"id": "s", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                               "choices": [], "usage": USAGE})
                data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
                return self._send(200, data.encode(), "text/event-stream")
            return self._send(200, _chat_reply(body))

    with loopback(Handler) as server:
        server.received = received
        server.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        yield server


@pytest.fixture
def openai_env(monkeypatch):
    def use(server, key="sk-test-" + "k" * 40):
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        return key
    return use


def test_openai_completion_and_chat_over_real_http(openai_env):
    with openai_server() as server:
        key = openai_env(server)
        assert resolve_provider("auto") == "openai"
        llm = make_model("openai", kind="completion", model_name="gpt-3.5-turbo-instruct", temperature=0.1)
        assert llm.invoke("tell me a joke about fish") == " a fishy joke"
        chat = make_model("openai", kind="chat", model_name="gpt-4o-mini", temperature=0.3)
        reply = chat.invoke("hello")
    assert reply.content == "loopback says hi"
    assert reply.usage_metadata["input_tokens"] == 11 and reply.usage_metadata["output_tokens"] == 7
    first, second = server.received
    assert first["path"] == "/v1/completions" and first["body"]["model"] == "gpt-3.5-turbo-instruct"
    assert first["body"]["prompt"] in ("tell me a joke about fish", ["tell me a joke about fish"])
    assert first["body"]["temperature"] == 0.1 and first["auth"] == f"Bearer {key}"
    assert second["path"] == "/v1/chat/completions" and second["body"]["temperature"] == 0.3


def test_openai_tool_calls_and_streaming_usage(openai_env):
    with openai_server() as server:
        openai_env(server)
        chat = make_model("openai", kind="chat", model_name="gpt-4o-mini", stream_usage=True)
        tool_reply = chat.bind_tools(make_tools("offline")).invoke("who is the oldest person?")
        chunks = list(chat.stream("hi"))
    assert tool_reply.tool_calls[0]["name"] == "web_search" and tool_reply.tool_calls[0]["args"] == {"query": "oldest person"}
    assert server.received[0]["body"]["tools"][0]["function"]["name"] == "web_search"
    assert "".join(c.content for c in chunks) == "loopback stream"
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.usage_metadata["total_tokens"] == 18
    assert server.received[1]["body"]["stream"] is True


def test_a_rejected_key_is_one_clear_message_without_the_key(openai_env):
    with openai_server(status=401) as server:
        key = openai_env(server)
        with pytest.raises(ProviderError) as raised, explain_errors():
            make_model("openai", kind="chat", max_retries=0).invoke("hi")
    assert "OPENAI_API_KEY was rejected" in str(raised.value) and key not in str(raised.value)
    assert raised.value._render_traceback_() == [f"ProviderError: {raised.value}"]


def test_an_unreachable_server_names_openai_base_url(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ProviderError, match="OPENAI_BASE_URL"), explain_errors():
        make_model("openai", kind="chat", max_retries=0, timeout=5).invoke("hi")


def test_missing_key_and_bad_choices(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_provider("auto") == "offline"
    with pytest.raises(ProviderError, match="OPENAI_API_KEY is not set"):
        make_model("openai")
    with pytest.raises(ValueError, match="auto, offline, openai, bedrock"):
        make_model("anthropic")
    with pytest.raises(ValueError, match="chat, completion"):
        make_model("offline", kind="embedding")
    with explain_errors(), pytest.raises(KeyError):  # unknown errors pass through unchanged
        raise KeyError("x")


def test_bedrock_converse_through_a_botocore_stub(monkeypatch):
    from botocore.stub import ANY, Stubber

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    model = make_model("bedrock", model_name="anthropic.claude-3-haiku-20240307-v1:0", temperature=0.2)
    with Stubber(model.client) as stub:
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "bedrock says hi"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 3, "totalTokens": 8},
            "metrics": {"latencyMs": 12},
        }, {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "messages": ANY,
            "system": ANY, "inferenceConfig": {"temperature": 0.2}})
        reply = model.invoke("hello")
        stub.assert_no_pending_responses()
    assert reply.content == "bedrock says hi" and reply.usage_metadata["total_tokens"] == 8


def test_serpapi_search_against_a_loopback_server(monkeypatch):
    from serpapi import GoogleSearch

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            url = urlparse(self.path)
            seen.append((url.path, parse_qs(url.query)))
            data = json.dumps({"answer_box": {"answer": "Ethel Caterham, 115"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with loopback(Handler) as server:
        monkeypatch.setattr(GoogleSearch, "BACKEND", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("SERPAPI_API_KEY", "f" * 64)
        search, _ = make_tools("auto")
        answer = search.invoke({"query": "oldest person alive"})
    assert answer == "Ethel Caterham, 115"
    path, query = seen[0]
    assert path == "/search" and query["q"] == ["oldest person alive"] and query["api_key"] == ["f" * 64]


def test_offline_search_says_where_its_answer_comes_from():
    answer = offline_search("Who is the oldest person alive")
    assert "115 years old" in answer and "offline search snapshot of 2025-06-01" in answer
    assert "No result" in offline_search("quantum chromodynamics")


def test_calculator_is_arithmetic_only():
    assert evaluate("115 ** 1.51") == pytest.approx(1293.16, rel=1e-5)
    assert evaluate("sqrt(16) + 2^3") == 12
    for bad in ("__import__('os')", "().__class__", "open('x')", "a", "9 ** 99999", "lambda: 1", "[1, 2]"):
        with pytest.raises(ValueError):
            evaluate(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_calculator_fuzz_only_raises_value_error(text):
    try:
        evaluate(text)
    except ValueError:
        pass
