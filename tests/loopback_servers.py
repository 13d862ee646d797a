"""Loopback HTTP servers for tests: an OpenAI-compatible API and SerpAPI, bound to 127.0.0.1 only.

Each is a context manager yielding a LoopbackServer: its base_url and the requests it received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
CHAT_TEXT = "loopback says hi"
COMPLETION_TEXT = " a loopback joke about fish"
OLDEST_PERSON_RESULTS = {"answer_box": {"answer": "Ethel Caterham, 115 years old"}}
INVALID_KEY_RESULTS = {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"}
_OPENAI_ERRORS = {
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", "unsupported_country"),
    404: ("The model does not exist.", "invalid_request_error", "model_not_found"),
    429: ("You exceeded your current quota.", "insufficient_quota", "insufficient_quota"),
    500: ("The server had an error.", "server_error", None),
}


@dataclass
class ReceivedRequest:
    """One request as the server saw it: header names lower-cased, body the parsed JSON (or None)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes sent as they are
    content_type: str = "application/json"


@dataclass
class LoopbackServer:
    """What a test needs: where to point the client, and what the client sent."""

    base_url: str
    requests: list[ReceivedRequest] = field(default_factory=list)

    def bodies(self, path_suffix: str = "") -> list[Any]:
        return [r.body for r in self.requests if r.path.endswith(path_suffix)]


@dataclass
class ToolCall:
    """A scripted chat reply that calls a tool."""

    name: str
    arguments: dict


@contextmanager
def serve(handle: Callable[[ReceivedRequest], Reply], path_prefix: str = "") -> Iterator[LoopbackServer]:
    """Serve `handle` on 127.0.0.1 (a free port) in a thread until the block ends."""
    received: list[ReceivedRequest] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _handle(self):
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            request = ReceivedRequest(self.command, url.path, parse_qs(url.query),
                                      {k.lower(): v for k, v in self.headers.items()}, body)
            with lock:
                received.append(request)
            reply = handle(request)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LoopbackServer(f"http://127.0.0.1:{server.server_address[1]}{path_prefix}", received)
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def openai_server(*, status: int = 200, chat_replies: list[str | ToolCall] | None = None,
                  completion_replies: list[str] | None = None, usage: dict | None = None) -> Iterator[LoopbackServer]:
    """An OpenAI-compatible API at base_url (ending in /v1): completions, chat, tool calls, streaming.

    Replies are taken from the scripts in order, then default: chat calls the first bound tool with the
    last user message until a tool result arrives, and otherwise says CHAT_TEXT; completions say
    COMPLETION_TEXT. status other than 200 answers every call with OpenAI's error body for it.
    Streams end with a usage chunk when the request sets stream_options.include_usage.
    """
    chat_script, completion_script = list(chat_replies or []), list(completion_replies or [])
    usage = usage or USAGE
    lock = threading.Lock()

    def handle(request: ReceivedRequest) -> Reply:
        if status != 200:
            message, kind, code = _OPENAI_ERRORS.get(status, ("Error.", "server_error", None))
            return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})
        if request.method == "GET" and request.path.endswith("/models"):
            return Reply(body={"object": "list", "data": [{"id": "loopback-model", "object": "model",
                                                           "created": 0, "owned_by": "loopback"}]})
        body = request.body or {}
        with lock:
            if request.path.endswith("/chat/completions"):
                reply = chat_script.pop(0) if chat_script else _default_chat_reply(body)
                return _chat(body, reply, usage)
            if request.path.endswith("/completions"):
                text = completion_script.pop(0) if completion_script else COMPLETION_TEXT
                return _completion(body, text, usage)
        return Reply(404, {"error": {"message": f"No route {request.path}", "type": "invalid_request_error"}})

    with serve(handle, path_prefix="/v1") as server:
        yield server


def _default_chat_reply(body: dict) -> str | ToolCall:
    messages = body.get("messages") or []
    tools = body.get("tools") or []
    if tools and not any(m.get("role") == "tool" for m in messages):
        function = tools[0]["function"]
        argument = next(iter(function.get("parameters", {}).get("properties", {})), "input")
        last_user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
        return ToolCall(function["name"], {argument: last_user if isinstance(last_user, str) else json.dumps(last_user)})
    return CHAT_TEXT


def _chat(body: dict, reply: str | ToolCall, usage: dict) -> Reply:
    model = body.get("model", "loopback-model")
    if isinstance(reply, ToolCall):
        calls = [{"id": f"call_{reply.name}", "type": "function",
                  "function": {"name": reply.name, "arguments": json.dumps(reply.arguments)}}]
        message, finish = {"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": reply}, "stop"
    if not body.get("stream"):
        return Reply(body={"id": "chatcmpl-loopback", "object": "chat.completion", "created": 0, "model": model,
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
    base = {"id": "chatcmpl-loopback", "object": "chat.completion.chunk", "created": 0, "model": model}
    if isinstance(reply, ToolCall):
        deltas = [{"role": "assistant", "tool_calls": [{"index": 0, **calls[0]}]}]
    else:
        deltas = [{"role": "assistant", "content": ""}] + [{"content": piece} for piece in _pieces(reply)]
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": usage})
    return _sse(chunks)


def _completion(body: dict, text: str, usage: dict) -> Reply:
    model = body.get("model", "loopback-model")
    base = {"id": "cmpl-loopback", "object": "text_completion", "created": 0, "model": model}
    if not body.get("stream"):
        return Reply(body={**base, "choices": [{"text": text, "index": 0, "finish_reason": "stop", "logprobs": None}],
                           "usage": usage})
    chunks = [{**base, "choices": [{"text": p, "index": 0, "finish_reason": None, "logprobs": None}]}
              for p in _pieces(text)]
    chunks.append({**base, "choices": [{"text": "", "index": 0, "finish_reason": "stop", "logprobs": None}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": usage})
    return _sse(chunks)


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _sse(chunks: list[dict]) -> Reply:
    data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Reply(body=data.encode(), content_type="text/event-stream")


@contextmanager
def serpapi_server(*, results: dict | None = None, status: int = 200) -> Iterator[LoopbackServer]:
    """SerpAPI's /search at base_url: answers every query with `results` (default: the oldest person).

    Point the search tool at it with SERPAPI_BASE_URL=<base_url>. For a bad key use
    results=INVALID_KEY_RESULTS, status=401, as SerpAPI does.
    """
    payload = OLDEST_PERSON_RESULTS if results is None else results

    def handle(request: ReceivedRequest) -> Reply:
        if request.path != "/search":
            return Reply(404, {"error": f"No route {request.path}"})
        return Reply(status, payload)

    with serve(handle) as server:
        yield server
