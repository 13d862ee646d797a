"""One place that decides the model provider: offline, OpenAI (or an OpenAI-compatible server), or Bedrock.

make_model returns a LangChain chat model or completion LLM; the notebooks never build models themselves.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .errors import ParameterError, ProviderError, safe_url, setting
from .offline_model import OfflineChatModel, OfflineLLM

log = logging.getLogger(__name__)

PROVIDERS = ("auto", "offline", "openai", "bedrock")
KINDS = ("chat", "completion")
DEFAULT_MODELS = {
    ("openai", "completion"): "gpt-3.5-turbo-instruct",  # the seed notebook's model
    ("openai", "chat"): "gpt-4o-mini",
    ("bedrock", "chat"): "anthropic.claude-3-haiku-20240307-v1:0",
    ("bedrock", "completion"): "anthropic.claude-3-haiku-20240307-v1:0",
}


_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "text-davinci", "davinci", "babbage", "chatgpt")


def resolve_provider(provider: str = "auto") -> str:
    """The concrete provider: 'auto' is openai when OPENAI_API_KEY is set, otherwise offline."""
    if provider not in PROVIDERS:
        raise ParameterError(f"{setting('llm_provider', provider)} is not a provider: use one of {', '.join(PROVIDERS)}.")
    if provider != "auto":
        return provider
    chosen = "openai" if os.environ.get("OPENAI_API_KEY") else "offline"
    log.info("LLM provider: %s (%s).", chosen, "OPENAI_API_KEY is set" if chosen == "openai" else "no OPENAI_API_KEY")
    return chosen


def make_model(provider: str = "auto", *, kind: str = "chat", model_name: str | None = None,
               temperature: float = 0.1, callbacks: list | None = None, **hparams: Any):
    """A LangChain chat model (kind="chat") or completion LLM (kind="completion") from the provider.

    Extra hparams (max_tokens, max_retries, timeout, ...) go to the model class unchanged.
    model_name None: the provider's default for the kind (DEFAULT_MODELS). Bedrock has no completion models
    in its Converse API, so both kinds give ChatBedrockConverse there, with Claude 3 Haiku by default.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    provider = resolve_provider(provider)
    common = {"temperature": temperature, "callbacks": callbacks, **hparams}
    if provider == "offline":
        cls = OfflineChatModel if kind == "chat" else OfflineLLM
        # model_name names a real model: the offline one always records its own name, so a run
        # never pretends to be, say, gpt-3.5-turbo-instruct.
        return cls(**common)
    model_name = model_name or DEFAULT_MODELS[(provider, kind)]
    if provider == "bedrock" and model_name.startswith(_OPENAI_PREFIXES):
        raise ParameterError(
            f"{model_name!r} is an OpenAI model; Bedrock needs a Bedrock model id: set "
            f"{setting('model_name', DEFAULT_MODELS[('bedrock', kind)])} (or leave it unset for that default).")
    if provider == "openai":
        return _openai_model(kind, model_name, common)
    return _bedrock_model(model_name, common)


def _openai_model(kind: str, model_name: str, common: dict):
    if not os.environ.get("OPENAI_API_KEY"):
        raise ProviderError("OPENAI_API_KEY is not set. Export it (any value works for a local OpenAI-compatible "
                            f"server), or use {setting('llm_provider', 'offline')}.")
    from langchain_openai import ChatOpenAI, OpenAI

    # vLLM, Ollama and LM Studio speak the same API: OPENAI_BASE_URL points the client at them.
    base_url = os.environ.get("OPENAI_BASE_URL") or None
    if base_url:
        log.info("OpenAI-compatible server: %s", safe_url(base_url))
    cls = ChatOpenAI if kind == "chat" else OpenAI
    return cls(model=model_name, base_url=base_url, **common)


def _bedrock_model(model_name: str, common: dict):
    from .aws_environment import botocore_session, region_of

    region = common.get("region_name") or region_of(botocore_session())  # AWS_REGION, AWS_DEFAULT_REGION, profile
    if not region and "region_name" not in common:
        raise ProviderError("Bedrock needs a region: set AWS_REGION or AWS_DEFAULT_REGION (e.g. us-east-1).")
    from langchain_aws import ChatBedrockConverse

    return ChatBedrockConverse(model=model_name, **{"region_name": region, **common})
