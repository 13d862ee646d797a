"""One place that decides the model provider: offline, OpenAI (or compatible), or Bedrock."""

from __future__ import annotations

import logging
import os
from typing import Any

from .errors import ProviderError
from .offline_model import OfflineChatModel, OfflineLLM

log = logging.getLogger(__name__)

PROVIDERS = ("auto", "offline", "openai", "bedrock")
KINDS = ("chat", "completion")
DEFAULT_MODELS = {
    ("openai", "completion"): "gpt-3.5-turbo-instruct",
    ("openai", "chat"): "gpt-4o-mini",
    ("bedrock", "chat"): "anthropic.claude-3-haiku-20240307-v1:0",
    ("bedrock", "completion"): "anthropic.claude-3-haiku-20240307-v1:0",
}


def resolve_provider(provider: str = "auto") -> str:
    """'auto' is openai when OPENAI_API_KEY is set, otherwise offline."""
    if provider not in PROVIDERS:
        raise ValueError(f"llm_provider must be one of {', '.join(PROVIDERS)}; got {provider!r}.")
    if provider != "auto":
        return provider
    chosen = "openai" if os.environ.get("OPENAI_API_KEY") else "offline"
    log.info("LLM provider: %s (%s).", chosen, "OPENAI_API_KEY is set" if chosen == "openai" else "no OPENAI_API_KEY")
    return chosen


def make_model(provider: str = "auto", *, kind: str = "chat", model_name: str | None = None,
               temperature: float = 0.1, callbacks: list | None = None, **hparams: Any):
    """A LangChain chat model or completion LLM from the chosen provider."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    provider = resolve_provider(provider)
    common = {"temperature": temperature, "callbacks": callbacks, **hparams}
    if provider == "offline":
        # The offline model records its own name, so runs never pretend to be a real model.
        cls = OfflineChatModel if kind == "chat" else OfflineLLM
        return cls(**common)
    model_name = model_name or DEFAULT_MODELS[(provider, kind)]
    if provider == "openai":
        if not os.environ.get("OPENAI_API_KEY"):
            raise ProviderError("OPENAI_API_KEY is not set. Export it, or use llm_provider='offline'.")
        from langchain_openai import ChatOpenAI, OpenAI

        base_url = os.environ.get("OPENAI_BASE_URL") or None
        cls = ChatOpenAI if kind == "chat" else OpenAI
        return cls(model=model_name, base_url=base_url, **common)
    from langchain_aws import ChatBedrockConverse

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ProviderError("Bedrock needs a region: set AWS_REGION (e.g. us-east-1).")
    return ChatBedrockConverse(model=model_name, region_name=region, **common)
