"""USD cost of an LLM call from its provider, model and token usage, priced by genai-prices.

Unknown models get no cost (never a guessed one) and one warning saying how to pass prices=.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OFFLINE = "offline"
# LangChain's ls_provider names -> genai-prices provider ids
_PROVIDER_IDS = {"openai": "openai", "azure": "azure", "azure_openai": "azure", "anthropic": "anthropic",
                 "amazon_bedrock": "aws", "bedrock": "aws", "aws": "aws", "bedrock_converse": "aws",
                 "google_genai": "google", "google_vertexai": "google", "mistralai": "mistral", "groq": "groq"}
# a user's price entry: USD per million tokens of each kind
PRICE_FIELDS = {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok"}
_BEDROCK_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(foundation-model|inference-profile|"
                          r"application-inference-profile|provisioned-model)/(.+)$")


class PriceTableError(ValueError):
    """A prices= table that cannot be used, naming the entry and the field."""


@dataclass(frozen=True)
class CallCost:
    cost_usd: float | None
    status: str  # "priced", "user_prices", "offline", "unknown_model", "no_usage"


def price_source() -> dict[str, str]:
    """The price data's version and date, recorded as run parameters."""
    return {"price_source": f"genai-prices {version('genai-prices')} (bundled data)",
            "price_data_date": _price_data_date()}


@lru_cache(maxsize=1)
def _price_data_date() -> str:
    """The newest price change in the bundled data that is not in the future: how fresh the table is."""
    import genai_prices.data as data

    text = Path(data.__file__).read_text(encoding="utf-8")
    today = dt.date.today()
    dates = [dt.date(int(y), int(m), int(d)) for y, m, d in re.findall(r"datetime\.date\((\d+), (\d+), (\d+)\)", text)]
    past = [d for d in dates if d <= today]
    return max(past).isoformat() if past else "unknown"


def usage_details(outputs: dict | None) -> dict[str, int]:
    """Cache-read, cache-write and reasoning tokens summed over a response's usage_metadata details."""
    details = {"cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0}
    for generations in (outputs or {}).get("generations") or []:
        for gen in generations if isinstance(generations, list) else [generations]:
            message = gen.get("message") if isinstance(gen, dict) else None
            usage = _message_usage(message)
            inp = usage.get("input_token_details") or {}
            out = usage.get("output_token_details") or {}
            details["cache_read_tokens"] += int(inp.get("cache_read") or 0)
            details["cache_write_tokens"] += int(inp.get("cache_creation") or 0)
            details["reasoning_tokens"] += int(out.get("reasoning") or 0)
    return {k: v for k, v in details.items() if v}


def _message_usage(message: Any) -> dict:
    if isinstance(message, dict):
        usage = message.get("usage_metadata") or (message.get("kwargs") or {}).get("usage_metadata")
    else:
        usage = getattr(message, "usage_metadata", None)
    return usage if isinstance(usage, dict) else {}


def resolve_model(model_name: str | None, provider: str | None) -> tuple[str | None, str | None]:
    """(model ref, genai-prices provider id): Bedrock ARNs and inference profiles resolve to their model."""
    model = (model_name or "").strip() or None
    provider_id = _PROVIDER_IDS.get((provider or "").lower(), (provider or "").lower() or None)
    if model and (match := _BEDROCK_ARN.match(model)):
        kind, model = match.groups()
        provider_id = "aws"
        if kind in ("application-inference-profile", "provisioned-model"):
            return None, provider_id  # an opaque id: only the account knows the model behind it
    return model, provider_id


class PriceTable:
    """User prices: {model name or regex: {input_mtok, output_mtok, cache_read_mtok, cache_write_mtok}}."""

    def __init__(self, entries: dict[str, dict[str, Decimal]]):
        self.entries = entries
        self._patterns = [(re.compile(f"(?:{name})$"), name) for name in entries]

    @classmethod
    def parse(cls, prices: dict | str | Path | PriceTable | None) -> PriceTable | None:
        """From a dict or a JSON/YAML/TOML file; raises PriceTableError naming what is wrong."""
        if prices is None or isinstance(prices, PriceTable):
            return prices
        if isinstance(prices, str | Path):
            prices = _read_table_file(Path(prices))
        if not isinstance(prices, dict):
            raise PriceTableError(f"prices= must be a dict of model -> {{input_mtok, output_mtok, ...}} "
                                  f"or a file path; got {type(prices).__name__}.")
        entries = {}
        for model, entry in prices.items():
            if not isinstance(entry, dict):
                raise PriceTableError(f"prices[{model!r}] must be a dict like {{'input_mtok': 0.15, "
                                      f"'output_mtok': 0.6}} (USD per million tokens); got {entry!r}.")
            unknown = set(entry) - PRICE_FIELDS
            if unknown:
                raise PriceTableError(f"prices[{model!r}] has unknown field(s) {sorted(unknown)}; "
                                      f"use {sorted(PRICE_FIELDS)} (USD per million tokens).")
            if "input_mtok" not in entry or "output_mtok" not in entry:
                raise PriceTableError(f"prices[{model!r}] needs input_mtok and output_mtok (USD per million tokens).")
            try:
                re.compile(str(model))
                entries[str(model)] = {k: Decimal(str(v)) for k, v in entry.items()}
            except re.error as error:
                raise PriceTableError(f"prices key {model!r} is not a valid model name or regex: {error}.") from None
            except InvalidOperation:
                raise PriceTableError(f"prices[{model!r}] has a value that is not a number: {entry!r}.") from None
            if any(v < 0 for v in entries[str(model)].values()):
                raise PriceTableError(f"prices[{model!r}] has a negative price: {entry!r}.")
        return cls(entries)

    def lookup(self, model: str | None) -> dict[str, Decimal] | None:
        if not model:
            return None
        if model in self.entries:
            return self.entries[model]
        return next((self.entries[name] for pattern, name in self._patterns if pattern.match(model)), None)


def _read_table_file(path: Path) -> Any:
    if not path.is_file():
        raise PriceTableError(f"price table {path} does not exist.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as error:
        raise PriceTableError(f"price table {path} does not parse ({type(error).__name__}: {error}); "
                              "fix the file (JSON, YAML or TOML by its suffix).") from None


_registered: PriceTable | None = None
_warned: set[tuple] = set()
_warn_lock = threading.Lock()


def register_prices(prices: dict | str | Path | PriceTable | None) -> PriceTable | None:
    """Prices used by every call in this process (the tracking handler's too) before genai-prices."""
    global _registered
    _registered = PriceTable.parse(prices)
    return _registered


def call_cost(model_name: str | None, provider: str | None, usage: dict | None,
              prices: PriceTable | None = None) -> CallCost:
    """The USD cost of one call; cost_usd is None unless the model's price is known."""
    if (provider or "").lower() == OFFLINE:
        return CallCost(0.0, OFFLINE)
    if not usage:
        return CallCost(None, "no_usage")
    model, provider_id = resolve_model(model_name, provider)
    table = prices or _registered
    entry = table.lookup(model_name) or table.lookup(model) if table else None
    if entry is not None:
        from genai_prices.types import ModelPrice

        return CallCost(float(ModelPrice(**entry).calc_price(_usage(usage))["total_price"]), "user_prices")
    if model is not None:
        priced = _library_price(model, provider_id, _usage_key(usage))
        if priced is not None:
            return CallCost(priced, "priced")
    _warn_unknown(model_name, provider)
    return CallCost(None, "unknown_model")


def _usage(usage: dict):
    from genai_prices import Usage

    return Usage(input_tokens=int(usage.get("input_tokens") or 0), output_tokens=int(usage.get("output_tokens") or 0),
                 cache_read_tokens=int(usage.get("cache_read_tokens") or 0) or None,
                 cache_write_tokens=int(usage.get("cache_write_tokens") or 0) or None,
                 output_reasoning_tokens=int(usage.get("reasoning_tokens") or 0) or None)


def _usage_key(usage: dict) -> tuple[int, ...]:
    return tuple(int(usage.get(k) or 0) for k in
                 ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"))


@lru_cache(maxsize=4096)
def _library_price(model: str, provider_id: str | None, key: tuple[int, ...]) -> float | None:
    from genai_prices import calc_price

    names = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"]
    try:
        result = calc_price(_usage(dict(zip(names, key, strict=True))), model, provider_id=provider_id)
    except (LookupError, ValueError):
        return None
    return float(result.total_price)


def _warn_unknown(model_name: str | None, provider: str | None) -> None:
    key = (model_name, provider)
    with _warn_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("No price is known for model %r (provider %r): no cost_usd is recorded for its calls. "
                "Pass prices={%r: {'input_mtok': ..., 'output_mtok': ...}} (USD per million tokens) to "
                "evaluate(), or call helpers.evaluation.cost.register_prices(...) once.",
                model_name, provider, model_name or "model-name")


def span_cost_fields(record: dict, outputs: dict | None) -> dict[str, Any]:
    """For the tracking handler: an LLM span's usage with cache/reasoning details, cost_usd and cost_status."""
    if record.get("kind") not in ("llm", "chat_model"):
        return {}
    usage = record.get("usage")
    if usage:
        usage = {**usage, **usage_details(outputs)}
    params = record.get("invocation_params") or {}
    cost = call_cost(params.get("model_name"), params.get("provider"), usage)
    return {"usage": usage, "cost_usd": cost.cost_usd, "cost_status": cost.status}


def usage_from_result(response: Any) -> dict[str, int] | None:
    """Token usage of an LLMResult, with cache/reasoning details: message usage_metadata, else llm_output."""
    totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
              "cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0}
    found = False
    for generations in getattr(response, "generations", None) or []:
        for gen in generations:
            usage = _message_usage(getattr(gen, "message", None))
            if not usage:
                continue
            found = True
            for key in ("input_tokens", "output_tokens", "total_tokens"):
                totals[key] += int(usage.get(key) or 0)
            totals["cache_read_tokens"] += int((usage.get("input_token_details") or {}).get("cache_read") or 0)
            totals["cache_write_tokens"] += int((usage.get("input_token_details") or {}).get("cache_creation") or 0)
            totals["reasoning_tokens"] += int((usage.get("output_token_details") or {}).get("reasoning") or 0)
    if not found:
        llm_output = getattr(response, "llm_output", None) or {}
        usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
        if not usage:
            return None
        totals["input_tokens"] = int(usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0)
        totals["output_tokens"] = int(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0)
        totals["total_tokens"] = int(usage.get("total_tokens", 0) or 0)
    if not totals["total_tokens"]:
        totals["total_tokens"] = totals["input_tokens"] + totals["output_tokens"]
    return {k: v for k, v in totals.items() if v or k in ("input_tokens", "output_tokens", "total_tokens")}
