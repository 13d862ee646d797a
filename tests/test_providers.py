"""make_model with the real clients: OpenAI over loopback HTTP, Bedrock Converse through a botocore stub."""

from __future__ import annotations

import logging

import pytest
from loopback_servers import USAGE, ToolCall, openai_server

from helpers.errors import ProviderError
from helpers.offline_model import OfflineChatModel, OfflineLLM
from helpers.providers import make_model, resolve_provider
from helpers.tools import make_tools

FAKE_KEY = "sk-test-" + "k" * 40


@pytest.fixture
def use_server(monkeypatch):
    """Points the OpenAI client at a loopback server with a fake key."""
    def use(server):
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    return use


def test_auto_is_openai_only_when_a_key_is_set(monkeypatch, caplog):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_provider() == "offline"
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    with caplog.at_level(logging.INFO, logger="helpers.providers"):
        assert resolve_provider("auto") == "openai"
    assert "OPENAI_API_KEY is set" in caplog.text and FAKE_KEY not in caplog.text
    assert resolve_provider("offline") == "offline" and resolve_provider("bedrock") == "bedrock"


def test_bad_provider_or_kind_names_the_valid_values():
    with pytest.raises(ValueError, match=r"llm_provider='anthropic' is not a provider: use one of auto, offline, openai, bedrock"):
        make_model("anthropic")
    with pytest.raises(ValueError, match=r"chat, completion; got 'embedding'"):
        make_model("offline", kind="embedding")


def test_bedrock_refuses_an_openai_model_name_and_defaults_per_kind(monkeypatch):
    from helpers.errors import ParameterError
    from helpers.providers import DEFAULT_MODELS

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("NOTEBOOK_HINTS", "make")
    with pytest.raises(ParameterError, match=r"'gpt-4o-mini' is an OpenAI model.*MODEL=anthropic\."):
        make_model("bedrock", kind="chat", model_name="gpt-4o-mini")
    for kind in ("chat", "completion"):
        assert make_model("bedrock", kind=kind).model_id == DEFAULT_MODELS[("bedrock", kind)]


def test_offline_models_carry_the_hyperparameters(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chat = make_model(kind="chat", temperature=0.7, max_tokens=32)
    llm = make_model("offline", kind="completion", model_name="gpt-3.5-turbo-instruct")
    assert isinstance(chat, OfflineChatModel) and isinstance(llm, OfflineLLM)
    assert chat.temperature == 0.7 and chat.max_tokens == 32 and chat.model_name == "offline-deterministic"
    # A real model's name is not borrowed: the run must say it was the offline model.
    assert llm.model_name == "offline-deterministic" and llm.temperature == 0.1


def test_openai_without_a_key_says_which_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY is not set"):
        make_model("openai")


def test_openai_completion_over_real_http(use_server):
    with openai_server() as server:
        use_server(server)
        llm = make_model("openai", kind="completion", temperature=0.1)
        result = llm.generate(["tell me a joke about fish"])
    assert result.generations[0][0].text == " a loopback joke about fish"
    assert result.llm_output["token_usage"]["total_tokens"] == USAGE["total_tokens"]
    (request,) = server.requests
    assert request.path == "/v1/completions"
    assert request.body["model"] == "gpt-3.5-turbo-instruct"  # the seed's model is the default
    assert request.body["prompt"] in ("tell me a joke about fish", ["tell me a joke about fish"])
    assert request.body["temperature"] == 0.1
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_openai_chat_passes_model_temperature_and_max_tokens(use_server):
    with openai_server() as server:
        use_server(server)
        chat = make_model("openai", model_name="gpt-4o-mini", temperature=0.3, max_tokens=50)
        reply = chat.invoke("hello")
    assert reply.content == "loopback says hi"
    assert reply.usage_metadata == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18,
                                    **{k: v for k, v in reply.usage_metadata.items() if k.endswith("details")}}
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/chat/completions"
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0.3
    assert body.get("max_tokens", body.get("max_completion_tokens")) == 50
    assert body["messages"] == [{"role": "user", "content": "hello"}]


def test_openai_tool_calls(use_server):
    with openai_server(chat_replies=[ToolCall("calculator", {"expression": "115 ** 1.51"})]) as server:
        use_server(server)
        chat = make_model("openai").bind_tools(make_tools("offline"))
        reply = chat.invoke("what is 115 to the power of 1.51?")
    assert reply.tool_calls == [{"name": "calculator", "args": {"expression": "115 ** 1.51"},
                                 "id": "call_calculator", "type": "tool_call"}]
    sent = [t["function"]["name"] for t in server.requests[0].body["tools"]]
    assert sent == ["web_search", "calculator"]


def test_openai_agent_runs_both_tools_end_to_end(use_server):
    from langchain.agents import create_agent

    script = [ToolCall("web_search", {"query": "oldest person alive"}),
              ToolCall("calculator", {"expression": "115 ** 1.51"}),
              "Ethel Caterham is 115; 115 ** 1.51 is about 1293.16."]
    with openai_server(chat_replies=script) as server:
        use_server(server)
        agent = create_agent(make_model("openai"), make_tools("offline"))
        result = agent.invoke({"messages": [("user", "Who is the oldest person alive?")]})
    assert result["messages"][-1].content == script[-1]
    tool_results = [m.content for m in result["messages"] if m.type == "tool"]
    assert "115 years old" in tool_results[0] and tool_results[1] == "1293.16"
    # The second and third requests carry the tool results back to the model.
    last_sent = server.requests[-1].body["messages"]
    assert [m["role"] for m in last_sent] == ["user", "assistant", "tool", "assistant", "tool"]
    assert last_sent[-1]["content"] == "1293.16"


def test_openai_streaming_reports_usage(use_server):
    with openai_server() as server:
        use_server(server)
        chat = make_model("openai", stream_usage=True)
        chunks = list(chat.stream("hi"))
    assert "".join(c.content for c in chunks) == "loopback says hi"
    assert len([c for c in chunks if c.content]) == 3  # really streamed, piece by piece
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.usage_metadata["input_tokens"] == 11 and total.usage_metadata["total_tokens"] == 18
    body = server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_openai_streaming_callbacks_see_each_token(use_server):
    from langchain_core.callbacks import BaseCallbackHandler

    class Tokens(BaseCallbackHandler):
        def __init__(self):
            self.tokens = []

        def on_llm_new_token(self, token, **kwargs):
            self.tokens.append(token)

    tokens = Tokens()
    with openai_server() as server:
        use_server(server)
        llm = make_model("openai", kind="completion", callbacks=[tokens])
        text = "".join(llm.stream("tell me a joke"))
    assert text == " a loopback joke about fish"
    assert [t for t in tokens.tokens if t] == [" ", "a ", "loopback ", "joke ", "about ", "fish"]
    assert server.requests[0].body["stream"] is True


def test_bedrock_converse_through_a_botocore_stub(monkeypatch):
    from botocore.stub import ANY, Stubber

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    model = make_model("bedrock", temperature=0.2, max_tokens=128)
    assert model.client.meta.region_name == "eu-west-1"
    with Stubber(model.client) as stub:
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "bedrock says hi"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 3, "totalTokens": 8},
            "metrics": {"latencyMs": 12},
        }, {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "messages": ANY, "system": ANY,
            "inferenceConfig": {"temperature": 0.2, "maxTokens": 128}})
        reply = model.invoke("hello")
        stub.assert_no_pending_responses()
    assert reply.content == "bedrock says hi"
    assert reply.usage_metadata["input_tokens"] == 5 and reply.usage_metadata["total_tokens"] == 8
    assert reply.response_metadata["stopReason"] == "end_turn"


def test_bedrock_request_on_the_wire(monkeypatch):
    """A before-send hook sees the real serialized Converse request, as botocore would send it."""
    import json

    from botocore.awsrequest import AWSResponse

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    model = make_model("bedrock", kind="completion", model_name="amazon.nova-micro-v1:0", temperature=0.0)
    sent = []

    class Raw:
        def __init__(self, data):
            self.data = data

        def stream(self, **_):
            yield self.data

    def answer(request, **_):
        sent.append(request)
        body = json.dumps({"output": {"message": {"role": "assistant", "content": [{"text": "nova"}]}},
                           "stopReason": "end_turn", "usage": {"inputTokens": 2, "outputTokens": 1, "totalTokens": 3},
                           "metrics": {"latencyMs": 1}}).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, Raw(body))

    model.client.meta.events.register("before-send.bedrock-runtime.Converse", answer)
    assert model.invoke("tell me a joke about fish").content == "nova"
    (request,) = sent
    assert request.url == "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-micro-v1%3A0/converse"
    body = json.loads(request.body)
    assert body["inferenceConfig"] == {"temperature": 0.0}
    assert body["messages"] == [{"role": "user", "content": [{"text": "tell me a joke about fish"}]}]
    assert "testing" not in json.dumps(body)


def test_bedrock_without_a_region_says_so(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ProviderError, match="set AWS_REGION"):
        make_model("bedrock")
