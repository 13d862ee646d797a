"""The offline model: deterministic, says it is offline, reports usage, streams, and drives both agent styles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler

from helpers.offline_model import MODEL_NAME, PREFIX, OfflineChatModel, OfflineLLM, approx_tokens
from helpers.tools import make_tools

QUESTION = "Who is the oldest person alive? And what is their current age raised to the power of 1.51?"


class Recorder(BaseCallbackHandler):
    """Keeps what the callbacks saw: streamed tokens, and the serialized model at start."""

    def __init__(self):
        self.tokens, self.starts, self.ends = [], [], []

    def on_llm_new_token(self, token, **kwargs):
        self.tokens.append(token)

    def on_llm_start(self, serialized, prompts, **kwargs):
        self.starts.append(kwargs.get("invocation_params"))

    def on_chat_model_start(self, serialized, messages, **kwargs):
        self.starts.append(kwargs.get("invocation_params"))

    def on_llm_end(self, response, **kwargs):
        self.ends.append(response)


def test_same_input_same_output_and_it_says_it_is_offline():
    llm = OfflineLLM(temperature=0.1)
    first = llm.invoke("tell me a joke about fish")
    assert first == OfflineLLM(temperature=0.1).invoke("tell me a joke about fish")
    assert first.startswith(PREFIX) and "tell me a joke about fish" in first
    assert OfflineChatModel().invoke("tell me a joke about fish").content.startswith(PREFIX)


def test_temperature_is_recorded_and_changes_the_text_deterministically():
    cold, warm = OfflineLLM(temperature=0.0), OfflineLLM(temperature=0.9)
    assert warm.invoke("a poem") == warm.invoke("a poem")
    assert "It would say more with a real model." in warm.invoke("a poem")
    assert "It would say more" not in cold.invoke("a poem")
    recorder = Recorder()
    warm.invoke("a poem", config={"callbacks": [recorder]})
    assert recorder.starts[0]["temperature"] == 0.9 and recorder.starts[0]["model_name"] == MODEL_NAME


def test_identity_for_tracking():
    for model in (OfflineChatModel(temperature=0.3, max_tokens=20), OfflineLLM(temperature=0.3, max_tokens=20)):
        assert model._llm_type == "offline"
        assert model._identifying_params == {"model_name": MODEL_NAME, "temperature": 0.3, "max_tokens": 20}
        params = model._get_ls_params()
        assert params["ls_provider"] == "offline" and params["ls_model_name"] == MODEL_NAME
        assert params["ls_temperature"] == 0.3


def test_chat_usage_is_reported_and_marked_approximate():
    reply = OfflineChatModel().invoke("tell me a joke about fish")
    assert reply.usage_metadata == {"input_tokens": approx_tokens("tell me a joke about fish"),
                                    "output_tokens": approx_tokens(reply.content),
                                    "total_tokens": approx_tokens("tell me a joke about fish") + approx_tokens(reply.content)}
    assert reply.response_metadata["token_usage_approximate"] is True
    assert reply.response_metadata["model_name"] == MODEL_NAME and reply.response_metadata["finish_reason"] == "stop"


def test_completion_usage_is_in_llm_output():
    result = OfflineLLM().generate(["tell me a joke about fish", "and one about cats"])
    usage = result.llm_output["token_usage"]
    texts = [g[0].text for g in result.generations]
    assert usage["prompt_tokens"] == approx_tokens("tell me a joke about fish") + approx_tokens("and one about cats")
    assert usage["completion_tokens"] == sum(approx_tokens(t) for t in texts)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert result.llm_output["token_usage_approximate"] is True and result.llm_output["model_name"] == MODEL_NAME


def test_chat_streams_word_by_word_with_usage_on_the_last_chunk():
    model, recorder = OfflineChatModel(), Recorder()
    chunks = list(model.stream("tell me a joke about fish", config={"callbacks": [recorder]}))
    text = "".join(c.content for c in chunks)
    assert text == model.invoke("tell me a joke about fish").content
    words = [c.content for c in chunks if c.content]
    assert len(words) > 3 and [t for t in recorder.tokens if t] == words
    assert [c.usage_metadata is not None for c in chunks].count(True) == 1  # so summing chunks counts once
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.usage_metadata["output_tokens"] == approx_tokens(text)


def test_completion_streams_with_callbacks():
    llm, recorder = OfflineLLM(), Recorder()
    pieces = list(llm.stream("tell me a joke about fish", config={"callbacks": [recorder]}))
    assert "".join(pieces) == llm.invoke("tell me a joke about fish")
    assert len(pieces) > 3 and [t for t in recorder.tokens if t] == pieces


def test_stop_sequences_and_max_tokens_cut_the_text():
    llm = OfflineLLM()
    full = llm.invoke("tell me a joke about fish")
    assert llm.invoke("tell me a joke about fish", stop=["joke"]) == full[: full.index("joke")]
    short = OfflineLLM(max_tokens=3).generate(["tell me a joke about fish"]).generations[0][0]
    assert short.text == full[:12] and short.generation_info["finish_reason"] == "length"
    reply = OfflineChatModel(max_tokens=3).invoke("tell me a joke about fish")
    assert len(reply.content) == 12 and reply.response_metadata["finish_reason"] == "length"


def test_create_agent_calls_search_then_calculator_and_answers(no_network):
    from langchain.agents import create_agent

    agent = create_agent(OfflineChatModel(), make_tools("offline"))
    messages = agent.invoke({"messages": [("user", QUESTION)]})["messages"]
    calls = [c for m in messages if m.type == "ai" for c in m.tool_calls]
    assert [(c["name"], c["args"]) for c in calls] == [
        ("web_search", {"query": "Who is the oldest person alive"}),
        ("calculator", {"expression": "115 ** 1.51"}),
    ]
    results = [m.content for m in messages if m.type == "tool"]
    assert "offline search snapshot of 2025-06-01" in results[0] and results[1] == "1293.16"
    final = messages[-1]
    assert final.type == "ai" and not final.tool_calls
    assert final.content.startswith(PREFIX) and "Ethel Caterham" in final.content and "1293.16" in final.content
    assert no_network == []


def test_create_agent_streams_the_same_answer():
    from langchain.agents import create_agent

    agent = create_agent(OfflineChatModel(), make_tools("offline"))
    invoked = agent.invoke({"messages": [("user", QUESTION)]})["messages"][-1].content
    streamed = [chunk for chunk, _ in agent.stream({"messages": [("user", QUESTION)]}, stream_mode="messages")
                if chunk.type == "AIMessageChunk"]
    assert "".join(c.content for c in streamed) == invoked


def test_classic_react_agent_with_the_completion_llm():
    from langchain_classic.agents import initialize_agent

    agent = initialize_agent(make_tools("offline"), OfflineLLM(), agent="zero-shot-react-description",
                             return_intermediate_steps=True)
    result = agent.invoke({"input": QUESTION})
    steps = [(action.tool, action.tool_input, observation) for action, observation in result["intermediate_steps"]]
    assert steps[0][:2] == ("web_search", "Who is the oldest person alive") and "115 years old" in steps[0][2]
    assert steps[1] == ("calculator", "115 ** 1.51", "1293.16")
    assert result["output"].startswith(PREFIX) and "1293.16" in result["output"]


def test_classic_react_agent_with_the_chat_model():
    from langchain_classic.agents import initialize_agent

    agent = initialize_agent(make_tools("offline"), OfflineChatModel(), agent="zero-shot-react-description",
                             return_intermediate_steps=True)
    result = agent.invoke({"input": QUESTION})
    assert [a.tool for a, _ in result["intermediate_steps"]] == ["web_search", "calculator"]
    assert "1293.16" in result["output"]


def test_a_question_without_math_stops_after_the_search():
    from langchain.agents import create_agent

    agent = create_agent(OfflineChatModel(), make_tools("offline"))
    messages = agent.invoke({"messages": [("user", "What is LangChain?")]})["messages"]
    assert [c["name"] for m in messages if m.type == "ai" for c in m.tool_calls] == ["web_search"]
    assert "framework for developing applications" in messages[-1].content


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.floats(min_value=0, max_value=2))
def test_any_prompt_gives_a_repeatable_offline_answer(prompt, temperature):
    llm = OfflineLLM(temperature=temperature)
    text = llm.invoke(prompt)
    assert text == llm.invoke(prompt) and text.startswith(PREFIX)


@pytest.mark.parametrize("model", [OfflineChatModel(), OfflineLLM()])
def test_batch_keeps_order(model):
    outputs = model.batch(["about fish", "about cats"])
    texts = [getattr(o, "content", o) for o in outputs]
    assert "about fish" in texts[0] and "about cats" in texts[1]


def test_the_same_answer_in_a_new_process_with_another_hash_seed():
    from conftest import run_python

    code = "from helpers.offline_model import OfflineLLM; print(OfflineLLM(temperature=0.3).invoke('a haiku about tea'))"
    outputs = {run_python(code, env={"PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert outputs == {OfflineLLM(temperature=0.3).invoke("a haiku about tea") + "\n"}
