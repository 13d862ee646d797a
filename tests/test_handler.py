"""SageMakerCallbackHandler against the real SDK and the stand-in: what each scenario records."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda

from helpers.analysis.traces import read_run_spans
from helpers.experiments import ExperimentAnalytics, Run, local_backend
from helpers.offline_model import OfflineChatModel, OfflineLLM
from helpers.tools import make_tools
from helpers.tracking import SageMakerCallbackHandler

EXPERIMENT = "tracking-exp"
SYNOPSIS = """You are a playwright. Given the title of play, it is your job to write a synopsis for that title.
Title: {title}
Playwright: This is a synopsis for the above play:"""
REVIEW = """You are a play critic from the New York Times. Given the synopsis of play, it is your job to write a review for that play.
Play Synopsis: {synopsis}
Review from a New York Times play critic of the above play:"""
QUESTION = "Who is the oldest person alive? And what is their current age raised to the power of 1.51?"


def trial_component(session, run_name):
    return session.sagemaker_client.describe_trial_component(TrialComponentName=f"{EXPERIMENT}-{run_name}")


def read_trace(session, run_name) -> list[dict]:
    artifacts = trial_component(session, run_name)["OutputArtifacts"]
    assert list(artifacts) == ["langchain-trace"], "exactly one artifact per run"
    return read_run_spans(session, f"{EXPERIMENT}-{run_name}")  # every segment of the trace


def assert_well_formed(spans):
    ids = {s["span_id"] for s in spans}
    assert len(ids) == len(spans)
    roots = {s["span_id"] for s in spans if s["parent_id"] is None}
    for span in spans:
        assert span["schema_version"] == 1 and span["type"] == "span"
        assert span["parent_id"] is None or span["parent_id"] in ids
        assert span["trace_id"] in roots
        assert span["latency_ms"] >= 0 and span["start_time"] <= span["end_time"]


def sequential_chain(llm):
    synopsis = PromptTemplate.from_template(SYNOPSIS) | llm | StrOutputParser()
    return {"synopsis": synopsis} | PromptTemplate.from_template(REVIEW) | llm | StrOutputParser()


def test_lcel_sequential_chain_records_both_generations(local_session, spool_dir):
    llm = FakeListLLM(responses=["A synopsis about games.", "A glowing review."])
    with Run(experiment_name=EXPERIMENT, run_name="lcel-2", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        out = sequential_chain(llm).invoke({"title": "video games"}, config={"callbacks": [handler]})
    assert out == "A glowing review."
    spans = read_trace(local_session, "lcel-2")
    assert_well_formed(spans)
    llm_spans = [s for s in spans if s["kind"] == "llm"]
    assert [s["output_text"] for s in llm_spans] == ["A synopsis about games.", "A glowing review."]
    assert "Title: video games" in llm_spans[0]["input_text"]
    assert "Play Synopsis: A synopsis about games." in llm_spans[1]["input_text"]
    root = next(s for s in spans if s["parent_id"] is None)
    assert root["output_text"] == "A glowing review." and root["inputs"] == {"title": "video games"}


def test_classic_chains_as_in_the_seed(local_session, spool_dir):
    from langchain_classic.chains import LLMChain, SimpleSequentialChain

    with Run(experiment_name=EXPERIMENT, run_name="classic-2", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        llm = OfflineLLM(temperature=0.1, callbacks=[handler])  # as the seed does
        chain1 = LLMChain(llm=llm, prompt=PromptTemplate.from_template(SYNOPSIS), callbacks=[handler])
        chain2 = LLMChain(llm=llm, prompt=PromptTemplate.from_template(REVIEW), callbacks=[handler])
        overall = SimpleSequentialChain(chains=[chain1, chain2], callbacks=[handler])
        review = overall.run("documentary about good video games")
        handler.flush_tracker()
    spans = read_trace(local_session, "classic-2")
    assert_well_formed(spans)
    llm_spans = [s for s in spans if s["kind"] == "llm"]
    assert len(llm_spans) == 2 and llm_spans[-1]["output_text"] == review
    assert all(s["usage"]["total_tokens"] > 0 for s in llm_spans)
    assert {s["name"] for s in spans if s["kind"] == "chain"} >= {"LLMChain", "SimpleSequentialChain"}


def test_agent_records_tool_calls_and_final_answer(local_session, spool_dir):
    from langchain.agents import create_agent

    agent = create_agent(OfflineChatModel(), make_tools("offline"))
    with Run(experiment_name=EXPERIMENT, run_name="agent-3", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        result = agent.invoke({"messages": [("user", QUESTION)]}, config={"callbacks": [handler]})
    final = result["messages"][-1].content
    spans = read_trace(local_session, "agent-3")
    assert_well_formed(spans)
    tools = [s for s in spans if s["kind"] == "tool"]
    assert [t["name"] for t in tools] == ["web_search", "calculator"]
    assert tools[1]["input_text"] == "115 ** 1.51" and tools[1]["output_text"] == "1293.16"
    chat = [s for s in spans if s["kind"] == "chat_model"]
    assert [c["tool_calls"][0]["name"] for c in chat[:2]] == ["web_search", "calculator"]
    assert chat[-1]["output_text"] == final and "1293.16" in final
    assert chat[0]["attributes"]["gen_ai.request.model"] == "offline-deterministic"
    assert chat[0]["attributes"]["gen_ai.usage.input_tokens"] > 0
    root = next(s for s in spans if s["parent_id"] is None)
    assert (root["input_text"], root["output_text"]) == (QUESTION, final)  # the conversation, read as text
    assert [s["output_text"] for s in spans if s["name"] == "model"][0].startswith("tool call: web_search(")


def test_classic_react_agent(local_session, spool_dir):
    from langchain_classic.agents import initialize_agent

    with Run(experiment_name=EXPERIMENT, run_name="classic-3", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        llm = OfflineLLM(callbacks=[handler])
        agent = initialize_agent(make_tools("offline", callbacks=[handler]), llm, agent="zero-shot-react-description", callbacks=[handler])
        answer = agent.run(input=QUESTION)
    spans = read_trace(local_session, "classic-3")
    assert_well_formed(spans)
    assert [s["name"] for s in spans if s["kind"] == "tool"] == ["web_search", "calculator"]
    assert any(s["output_text"] == answer for s in spans if s["parent_id"] is None)


def test_parameters_and_metrics_reach_experiment_analytics(local_session, spool_dir):
    llm = OfflineLLM(temperature=0.7, max_tokens=64)
    chain = PromptTemplate.from_template("tell me a joke about {topic}") | llm | StrOutputParser()
    with Run(experiment_name=EXPERIMENT, run_name="metrics-1", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        for topic in ("fish", "cats", "dogs"):
            chain.invoke({"topic": topic}, config={"callbacks": [handler]})
    row = ExperimentAnalytics(experiment_name=EXPERIMENT, sagemaker_session=local_session).dataframe().iloc[0]
    assert row["temperature"] == 0.7 and row["model_name"] == "offline-deterministic" and row["max_tokens"] == 64
    assert row["llm_calls - Last"] == 3 and row["tool_calls - Last"] == 0 and row["errors - Last"] == 0
    spans = read_trace(local_session, "metrics-1")
    tokens = sum(s["usage"]["total_tokens"] for s in spans if s["kind"] == "llm")
    assert row["total_tokens - Last"] == tokens
    # latency as a summary per upload (1 to 3 uploads here), and an exact running sum
    latencies = [s["latency_ms"] for s in spans if s["kind"] == "llm"]
    assert 1 <= row["llm_latency_ms - Count"] <= 3
    assert row["llm_latency_ms_total - Last"] == pytest.approx(sum(latencies))
    assert min(latencies) - 1e-9 <= row["llm_latency_ms - Avg"] <= max(latencies) + 1e-9


@pytest.mark.parametrize("steps", [1, 10, 100])
def test_requests_per_top_level_call_do_not_grow_with_events(local_session, spool_dir, steps):
    step, llm = RunnableLambda(lambda x: x + 1), FakeListLLM(responses=["ok"])
    chain = RunnableLambda(lambda x: [step.invoke(i) for i in range(steps)] + [llm.invoke("one LLM call")], name="steps")
    backend = local_backend(local_session)
    with Run(experiment_name=EXPERIMENT, run_name=f"requests-{steps}", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        chain.invoke(0, config={"callbacks": [handler]})  # the first call registers the artifact
        backend.reset_counts()
        chain.invoke(0, config={"callbacks": [handler]})
        assert handler.wait_for_uploads(timeout=60)
        requests = dict(backend.request_counts)
    assert requests == {"s3.PutObject": 1, "sagemaker-metrics.BatchPutMetrics": 1}
    assert len(read_trace(local_session, f"requests-{steps}")) == 2 * (steps + 2)


def test_forty_step_agent_loses_nothing(local_session, spool_dir):
    """The seed's handler stops at 30 artifacts; one trace file has no such limit."""
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    class Stepper(OfflineChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            from langchain_core.outputs import ChatGeneration, ChatResult

            done = sum(1 for m in messages if m.type == "tool")
            if done < 40:
                msg = AIMessage(content="", tool_calls=[{"name": "tick", "args": {"n": done}, "id": f"c{done}"}])
            else:
                msg = AIMessage(content="finished after 40 steps")
            return ChatResult(generations=[ChatGeneration(message=msg)])

    @tool
    def tick(n: int) -> str:
        """Count one step."""
        return f"tick {n}"

    agent = create_agent(Stepper(), [tick])
    with Run(experiment_name=EXPERIMENT, run_name="forty", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        agent.invoke({"messages": [("user", "go")]}, config={"callbacks": [handler], "recursion_limit": 200})
    spans = read_trace(local_session, "forty")
    assert_well_formed(spans)
    assert [s["output_text"] for s in spans if s["kind"] == "tool"] == [f"tick {n}" for n in range(40)]
    assert [s for s in spans if s["kind"] == "chat_model"][-1]["output_text"] == "finished after 40 steps"


def test_errors_are_recorded_and_re_raised(local_session, spool_dir):
    def explode(_):
        raise ValueError("the model is on fire")

    chain = PromptTemplate.from_template("{x}") | RunnableLambda(explode)
    with pytest.raises(ValueError), Run(experiment_name=EXPERIMENT, run_name="errors", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        chain.invoke({"x": "1"}, config={"callbacks": [handler]})
    assert trial_component(local_session, "errors")["Status"]["PrimaryStatus"] == "Failed"
    spans = read_trace(local_session, "errors")
    failed = [s for s in spans if s["status"] == "error"]
    assert {s["name"] for s in failed} == {"explode", "RunnableSequence"}
    error = next(s for s in failed if s["name"] == "explode")["error"]
    assert error["type"] == "ValueError" and error["message"] == "the model is on fire"
    assert "Traceback" in error["traceback"]


def test_secrets_never_reach_the_artifact(local_session, spool_dir, monkeypatch):
    secret_env = "sk-proj-" + "A1b2C3d4" * 5
    monkeypatch.setenv("OPENAI_API_KEY", secret_env)
    aws_key = "AKIA" + "ABCDEFGHIJKLMNOP"
    serp = "0123456789abcdef" * 4
    chain = RunnableLambda(lambda x: f"echo {x['text']}")
    with Run(experiment_name=EXPERIMENT, run_name="secrets", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir, mask=lambda d: json.loads(json.dumps(d).replace("hunter2", "[MASKED]")))
        chain.invoke({"text": f"keys {secret_env} {aws_key} {serp} hunter2", "api_key": "plain-value",
                      "max_tokens": 12, "input_tokens": 3}, config={"callbacks": [handler]})
    raw = json.dumps(read_trace(local_session, "secrets"))
    for leaked in (secret_env, aws_key, serp, "plain-value", "hunter2"):
        assert leaked not in raw
    spans = read_trace(local_session, "secrets")
    assert spans[0]["inputs"]["max_tokens"] == 12 and spans[0]["inputs"]["input_tokens"] == 3
    assert "[REDACTED]" in raw and "[MASKED]" in raw


def test_threads_and_abatch_give_well_parented_spans(local_session, spool_dir):
    llm = FakeListLLM(responses=["x"])
    chain = PromptTemplate.from_template("{n}") | llm | StrOutputParser()
    with Run(experiment_name=EXPERIMENT, run_name="concurrent", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        threads = [threading.Thread(target=chain.invoke, args=({"n": i},), kwargs={"config": {"callbacks": [handler]}})
                   for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        asyncio.run(chain.abatch([{"n": i} for i in range(16)], config={"callbacks": [handler]}))
        handler.flush_tracker()
    spans = read_trace(local_session, "concurrent")
    assert_well_formed(spans)
    roots = [s for s in spans if s["parent_id"] is None]
    assert len(roots) == 32 and len(spans) == 32 * 4
    for root in roots:
        children = [s for s in spans if s["parent_id"] == root["span_id"]]
        assert [c["kind"] for c in sorted(children, key=lambda c: c["start_time"])] == ["prompt", "llm", "parser"]


def test_streaming_records_time_to_first_token(local_session, spool_dir):
    with Run(experiment_name=EXPERIMENT, run_name="stream", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        text = "".join(c.content for c in OfflineChatModel().stream("hello there", config={"callbacks": [handler]}))
    span = read_trace(local_session, "stream")[0]
    assert span["output_text"] == text and span["usage"]["output_tokens"] > 0
    assert 0 <= span["time_to_first_token_ms"] <= span["latency_ms"]


def test_upload_failure_keeps_the_spool_and_never_breaks_the_chain(local_session, spool_dir, monkeypatch, caplog):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    backend = local_backend(local_session)
    chain = RunnableLambda(lambda x: x * 2)
    with Run(experiment_name=EXPERIMENT, run_name="s3-down", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        local_session.default_bucket()
        backend.add_fault("s3.PutObject", code="InternalError", status=500, times=None)
        with caplog.at_level(logging.WARNING):
            assert chain.invoke(21, config={"callbacks": [handler]}) == 42
            assert chain.invoke(1, config={"callbacks": [handler]}) == 2
        assert str(handler.spool_path) in caplog.text
        assert handler.spool_path.read_text().count('"type":"span"') == 2
        backend.clear_faults()
        handler.flush_tracker()
    assert [s["outputs"] for s in read_trace(local_session, "s3-down")] == [{"output": 42}, {"output": 2}]


def test_handler_rejects_a_non_run():
    with pytest.raises(TypeError, match="needs a SageMaker Run"):
        SageMakerCallbackHandler({"not": "a run"})


def test_abatch_records_every_span_inline_on_the_event_loop(local_session, spool_dir):
    """run_inline: the hooks run on the loop's thread (no executor hop per event), and 200 concurrent rows
    still give 200 well-parented trees."""
    llm = FakeListLLM(responses=["x"])
    chain = PromptTemplate.from_template("{n}") | llm | StrOutputParser()
    with Run(experiment_name=EXPERIMENT, run_name="abatch-inline", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        recorded_on, record = set(), handler._record
        handler._record = lambda span_run: (recorded_on.add(threading.get_ident()), record(span_run))

        async def rows():
            loop_thread = threading.get_ident()
            out = await chain.abatch([{"n": i} for i in range(200)], config={"callbacks": [handler],
                                                                              "max_concurrency": 16})
            return loop_thread, out

        loop_thread, out = asyncio.run(rows())
        handler.flush_tracker()
    assert out == ["x"] * 200 and recorded_on == {loop_thread}
    spans = read_trace(local_session, "abatch-inline")
    assert_well_formed(spans)
    roots = {s["span_id"]: s for s in spans if s["parent_id"] is None}
    assert sorted(r["inputs"]["n"] for r in roots.values()) == list(range(200)) and len(spans) == 200 * 4
    for span in spans:
        if span["parent_id"] is not None:
            root = roots[span["parent_id"]]
            assert span["trace_id"] == root["trace_id"]
            if span["kind"] == "prompt":
                assert span["inputs"]["n"] == root["inputs"]["n"]
