"""Cost: genai-prices per call, usage details, Bedrock ids and ARNs, user prices, unknown and offline models."""

from __future__ import annotations

import logging

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from helpers.evaluation import cost
from helpers.experiments import Run
from helpers.offline_model import OfflineChatModel
from helpers.tracking import SageMakerCallbackHandler


def test_openai_price_matches_the_published_per_million_rates():
    # gpt-4o-mini: $0.15 / M input, $0.60 / M output, $0.075 / M cached input (genai-prices 0.2.3)
    call = cost.call_cost("gpt-4o-mini", "openai", {"input_tokens": 1000, "output_tokens": 100})
    assert call.status == "priced" and call.cost_usd == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)
    cached = cost.call_cost("gpt-4o-mini", "openai", {"input_tokens": 1000, "output_tokens": 100,
                                                      "cache_read_tokens": 800})
    assert cached.cost_usd == pytest.approx(200 * 0.15e-6 + 800 * 0.075e-6 + 100 * 0.6e-6)


@pytest.mark.parametrize("model", [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-3-haiku-20240307-v1:0",
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
])
def test_bedrock_ids_and_inference_profile_arns_resolve_to_their_model(model):
    call = cost.call_cost(model, "amazon_bedrock", {"input_tokens": 1_000_000, "output_tokens": 0})
    assert call.status == "priced" and call.cost_usd == pytest.approx(0.25)


def test_unknown_model_gives_no_cost_and_one_warning_naming_prices(caplog):
    with caplog.at_level(logging.WARNING):
        first = cost.call_cost("my-own-llm-7b", "openai", {"input_tokens": 10, "output_tokens": 5})
        cost.call_cost("my-own-llm-7b", "openai", {"input_tokens": 10, "output_tokens": 5})
    assert first.cost_usd is None and first.status == "unknown_model"
    warnings = [r for r in caplog.records if "my-own-llm-7b" in r.getMessage()]
    assert len(warnings) == 1 and "prices=" in warnings[0].getMessage()


def test_application_inference_profile_is_not_guessed():
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    assert cost.call_cost(arn, "amazon_bedrock", {"input_tokens": 5, "output_tokens": 5}).cost_usd is None


def test_user_prices_win_and_bad_tables_are_named(tmp_path):
    table = cost.PriceTable.parse({"my-llm-.*": {"input_mtok": 1, "output_mtok": 2}})
    call = cost.call_cost("my-llm-7b", "openai", {"input_tokens": 1_000_000, "output_tokens": 500_000}, table)
    assert call.status == "user_prices" and call.cost_usd == pytest.approx(2.0)
    with pytest.raises(cost.PriceTableError, match="inptu_mtok"):
        cost.PriceTable.parse({"m": {"inptu_mtok": 1, "output_mtok": 2}})
    bad = tmp_path / "prices.yaml"
    bad.write_text("m: [unclosed")
    with pytest.raises(cost.PriceTableError, match="does not parse"):
        cost.PriceTable.parse(bad)


def test_offline_model_costs_zero_labelled_offline():
    assert cost.call_cost("offline-deterministic", "offline", {"input_tokens": 9, "output_tokens": 9}) == \
        cost.CallCost(0.0, "offline")


def test_usage_details_are_read_from_usage_metadata():
    message = AIMessage(content="hi", usage_metadata={
        "input_tokens": 100, "output_tokens": 50, "total_tokens": 150,
        "input_token_details": {"cache_read": 60, "cache_creation": 10}, "output_token_details": {"reasoning": 20}})
    usage = cost.usage_from_result(LLMResult(generations=[[ChatGeneration(message=message)]]))
    assert usage == {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150, "cache_read_tokens": 60,
                     "cache_write_tokens": 10, "reasoning_tokens": 20}


def test_price_data_version_and_date_are_known():
    source = cost.price_source()
    assert source["price_source"].startswith("genai-prices 0.2.3") and source["price_data_date"][:2] == "20"


def test_the_handler_records_cost_per_span_and_a_running_total(local_session, spool_dir):
    with Run(experiment_name="cost-exp", run_name="r1", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        OfflineChatModel().invoke("hello", config={"callbacks": [handler]})
        OfflineChatModel().invoke("again", config={"callbacks": [handler]})
        handler.flush_tracker()
        spans = [s for s in map(__import__("json").loads, handler.spool.path.read_text().splitlines())
                 if s.get("type") == "span"]  # the spool also holds segment headers
    assert [(s["cost_usd"], s["cost_status"]) for s in spans] == [(0.0, "offline")] * 2
    tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName="cost-exp-r1")
    assert {m["MetricName"]: m["Last"] for m in tc["Metrics"]}["cost_usd"] == 0.0


class PricedChatModel(OfflineChatModel):
    """The offline model reporting itself as gpt-4o-mini on OpenAI, so its calls get a real price."""

    model_name: str = "gpt-4o-mini"

    def _get_ls_params(self, stop=None, **kwargs):
        return {**super()._get_ls_params(stop=stop, **kwargs), "ls_provider": "openai"}


def test_a_priced_model_s_run_total_is_the_sum_of_its_spans(local_session, spool_dir):
    import json

    with Run(experiment_name="cost-exp", run_name="r2", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        for text in ("hello there", "a longer prompt than the first one"):
            PricedChatModel().invoke(text, config={"callbacks": [handler]})
        handler.flush_tracker()
        spans = [s for s in map(json.loads, handler.spool.path.read_text().splitlines()) if s.get("type") == "span"]
    assert all(s["cost_status"] == "priced" and s["cost_usd"] > 0 for s in spans)
    expected = sum(s["usage"]["input_tokens"] * 0.15e-6 + s["usage"]["output_tokens"] * 0.6e-6 for s in spans)
    tc = local_session.sagemaker_client.describe_trial_component(TrialComponentName="cost-exp-r2")
    assert {m["MetricName"]: m["Last"] for m in tc["Metrics"]}["cost_usd"] == pytest.approx(expected)
