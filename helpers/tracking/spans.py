"""Turns a finished LangChain Run into one span record of the trace format (schema_version 1)."""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1

_KIND = {"llm": "llm", "chain": "chain", "tool": "tool", "retriever": "retriever",
         "prompt": "prompt", "parser": "parser", "embedding": "embedding"}
_PARAM_KEYS = ("model_name", "model", "model_id", "temperature", "max_tokens", "max_completion_tokens",
               "top_p", "stop", "n", "frequency_penalty", "presence_penalty", "seed", "stream", "_type")


def kind_of(run) -> str:
    if run.run_type == "llm" and "messages" in (run.inputs or {}):
        return "chat_model"
    return _KIND.get(run.run_type, run.run_type or "chain")


def invocation_params(run) -> dict[str, Any]:
    """The model settings LangChain recorded: invocation params plus the ls_* metadata."""
    extra = run.extra or {}
    params = dict(extra.get("invocation_params") or {})
    meta = extra.get("metadata") or {}
    for ls_key, key in (("ls_model_name", "model_name"), ("ls_temperature", "temperature"),
                        ("ls_max_tokens", "max_tokens"), ("ls_stop", "stop"), ("ls_provider", "provider")):
        if meta.get(ls_key) is not None:
            params.setdefault(key, meta[ls_key])
    if "model_name" not in params:
        for key in ("model", "model_id"):
            if params.get(key):
                params["model_name"] = params[key]
                break
    return params


def hyperparameters(params: dict[str, Any]) -> dict[str, str | int | float]:
    """The scalar settings worth a run parameter column."""
    chosen = {k: params[k] for k in _PARAM_KEYS if k in params and k not in ("model", "model_id")}
    if "provider" in params:
        chosen["llm_provider"] = params["provider"]
    if "_type" in chosen:
        chosen["llm_type"] = chosen.pop("_type")
    out = {}
    for key, value in chosen.items():
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        if isinstance(value, str):
            # SageMaker parameter values match '.*' without newlines, and hold 2,500 characters.
            value = value.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")[:2500]
        if isinstance(value, str | int | float):
            out[key] = value
    return out


def plain_message(message: Any) -> Any:
    """A message dict without LangChain's serialization envelope ({"lc", "id", "kwargs"})."""
    if isinstance(message, dict) and "lc" in message and isinstance(message.get("kwargs"), dict):
        kind = (message.get("id") or ["message"])[-1]
        role = kind.replace("MessageChunk", "").replace("Message", "").lower() or "message"
        return {"type": role, **message["kwargs"]}
    return message


def _generations(outputs: dict | None) -> list[dict]:
    gens = (outputs or {}).get("generations") or []
    flat = [g for batch in gens for g in (batch if isinstance(batch, list) else [batch]) if isinstance(g, dict)]
    return [{**g, "message": plain_message(g["message"])} if g.get("message") else g for g in flat]


def _message_text(message: Any) -> str:
    """The message's text; for a message that only asks for tools, the tool calls."""
    message = plain_message(message)
    if isinstance(message, dict):
        content = message.get("content", message.get("kwargs", {}).get("content", ""))
        calls = message.get("tool_calls")
    else:
        content = getattr(message, "content", message)
        calls = getattr(message, "tool_calls", None)
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    text = content if isinstance(content, str) else str(content)
    if not text and isinstance(calls, list) and calls:
        text = "\n".join(f"tool call: {c.get('name')}({c.get('args')})" for c in calls if isinstance(c, dict))
    return text


def _message_role(message: Any) -> str:
    message = plain_message(message)
    if isinstance(message, dict):
        return message.get("type") or message.get("role") or message.get("id", ["", "message"])[-1]
    return getattr(message, "type", type(message).__name__)


def usage_of(outputs: dict | None) -> dict[str, int] | None:
    """Token usage from message usage_metadata, else from llm_output, whichever the provider gave."""
    totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    found = False
    for gen in _generations(outputs):
        usage = (gen.get("message") or {}).get("usage_metadata") if isinstance(gen.get("message"), dict) else None
        if usage:
            found = True
            for key in totals:
                totals[key] += int(usage.get(key) or 0)
    if not found:
        llm_output = (outputs or {}).get("llm_output") or {}
        usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
        if usage:
            found = True
            totals["input_tokens"] = int(usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0)
            totals["output_tokens"] = int(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0)
            totals["total_tokens"] = int(usage.get("total_tokens", 0) or 0)
    if not found:
        return None
    if not totals["total_tokens"]:
        totals["total_tokens"] = totals["input_tokens"] + totals["output_tokens"]
    return totals


def _finish_reasons(outputs: dict | None) -> list[str]:
    reasons = []
    for gen in _generations(outputs):
        info = gen.get("generation_info") or {}
        message = gen.get("message") if isinstance(gen.get("message"), dict) else {}
        meta = message.get("response_metadata") or {}
        reason = info.get("finish_reason") or meta.get("finish_reason") or meta.get("stopReason") or meta.get("stop_reason")
        if reason:
            reasons.append(str(reason))
    return reasons


def tool_calls_of(outputs: dict | None) -> list[dict]:
    calls = []
    for gen in _generations(outputs):
        message = gen.get("message") if isinstance(gen.get("message"), dict) else {}
        for call in message.get("tool_calls") or []:
            calls.append({"name": call.get("name"), "args": call.get("args"), "id": call.get("id")})
    return calls


def _texts(value: Any) -> str | None:
    """A plain-text view of chain/tool inputs or outputs."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value) if not isinstance(value, int) or value.bit_length() < 14_000 else None
    if isinstance(value, dict):
        if len(value) == 1:
            return _texts(next(iter(value.values())))
        for key in ("output", "text", "input", "query", "question"):
            if isinstance(value.get(key), str):
                return value[key]
        if isinstance(value.get("messages"), list | tuple):
            return _texts(value["messages"])
        return None
    if isinstance(value, list | tuple) and value:
        if _is_role_text_pair(value):  # ("user", "text"), as agents take messages
            return value[1]
        if all(_is_message(v) for v in value):  # a conversation: its last message
            return _texts(value[-1])
        if len(value) == 1:  # e.g. a graph node's [Command(update={"messages": [...]})]
            return _texts(value[0])
        return None
    if isinstance(getattr(value, "update", None), dict):  # langgraph Command
        return _texts(value.update)
    if hasattr(value, "to_string"):  # prompt values
        return value.to_string()
    if hasattr(value, "content"):
        return _message_text(value)
    return None


def _is_role_text_pair(value: Any) -> bool:
    return isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, str) for v in value)


def _is_message(value: Any) -> bool:
    return (isinstance(value, dict) and "content" in value) or hasattr(value, "content") or _is_role_text_pair(value)


def input_text(run, kind: str) -> str | None:
    inputs = run.inputs or {}
    if kind == "llm":
        return "\n\n".join(map(str, inputs.get("prompts") or [])) or None
    if kind == "chat_model":
        batches = inputs.get("messages") or []
        lines = [f"{_message_role(m)}: {_message_text(m)}" for batch in batches for m in (batch if isinstance(batch, list) else [batch])]
        return "\n".join(lines) or None
    return _texts(inputs)


def output_text(run, kind: str) -> str | None:
    if kind in ("llm", "chat_model"):
        texts = []
        for gen in _generations(run.outputs):
            text = gen.get("text") or (_message_text(gen["message"]) if gen.get("message") else "")
            if text:
                texts.append(text)
        calls = tool_calls_of(run.outputs)
        if not texts and calls:
            texts = [f"tool call: {c['name']}({c['args']})" for c in calls]
        return "\n\n".join(texts) or None
    return _texts(run.outputs)


def time_to_first_token_ms(run) -> float | None:
    for event in run.events or []:
        if event.get("name") == "new_token" and event.get("time") and run.start_time:
            return (event["time"] - run.start_time).total_seconds() * 1000
    return None


def _safely(extract, *args):
    """A derived field, or a marker when the object it reads from raises: the span is written either way."""
    try:
        return extract(*args)
    except Exception as error:
        return f"<unreadable: {type(error).__name__}>"


def span_record(run, error_details: dict | None) -> dict[str, Any]:
    """The span dict (not yet serialized or redacted) for one finished run."""
    kind = kind_of(run)
    start, end = run.start_time, run.end_time
    latency = (end - start).total_seconds() * 1000 if start and end else None
    model = kind in ("llm", "chat_model")
    params = _safely(invocation_params, run) if model else None
    params = params if isinstance(params, dict) else ({"unreadable": params} if model else None)
    usage = _safely(usage_of, run.outputs) if model else None
    usage = usage if isinstance(usage, dict) or usage is None else None
    error = None
    if run.error:
        error = error_details or {"type": run.error.split("(", 1)[0], "message": run.error.split("\n", 1)[0]}
        error = {**error, "traceback": run.error}
    record = {
        "schema_version": SCHEMA_VERSION,
        "type": "span",
        "trace_id": str(getattr(run, "trace_id", None) or run.id),
        "span_id": str(run.id),
        "parent_id": str(run.parent_run_id) if run.parent_run_id else None,
        "kind": kind,
        "name": run.name,
        "start_time": start.isoformat() if start else None,
        "end_time": end.isoformat() if end else None,
        "latency_ms": latency,
        "status": "error" if run.error else "ok",
        "inputs": run.inputs,
        "outputs": run.outputs,
        "input_text": _safely(input_text, run, kind),
        "output_text": _safely(output_text, run, kind),
        "invocation_params": params,
        "usage": usage,
        "time_to_first_token_ms": _safely(time_to_first_token_ms, run) if model else None,
        "error": error,
        "attributes": _safely(_genai_attributes, kind, params, usage, run.outputs) if params is not None else {},
        "tags": list(run.tags or []),
        "metadata": (run.extra or {}).get("metadata") or {},
    }
    if kind in ("llm", "chat_model"):
        record["tool_calls"] = _safely(tool_calls_of, run.outputs)
    return record


def _genai_attributes(kind, params, usage, outputs) -> dict[str, Any]:
    """OpenTelemetry GenAI semantic-convention names, so spans can be exported later."""
    attrs = {
        "gen_ai.operation.name": "chat" if kind == "chat_model" else "text_completion",
        "gen_ai.request.model": params.get("model_name"),
        "gen_ai.request.temperature": params.get("temperature"),
        "gen_ai.request.max_tokens": params.get("max_tokens"),
        "gen_ai.provider.name": params.get("provider"),
        "gen_ai.response.finish_reasons": _finish_reasons(outputs) or None,
    }
    if usage:
        attrs["gen_ai.usage.input_tokens"] = usage["input_tokens"]
        attrs["gen_ai.usage.output_tokens"] = usage["output_tokens"]
    return {k: v for k, v in attrs.items() if v is not None}
