"""Our finished span records -> one MLflow trace (MLflow's Span/TraceInfo entities), written in one batch.

Ids come from ours (trace UUID -> OTel trace id, span UUID -> span id), so a re-sent trace overwrites itself.
Span types, message format and token-usage keys follow mlflow.langchain's tracer.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime
from typing import Any

from mlflow.entities import (
    SpanEvent,
    SpanStatus,
    SpanStatusCode,
    SpanType,
    TraceInfo,
    TraceLocation,
    TraceState,
)
from mlflow.entities.span import LiveSpan
from mlflow.entities.trace_data import TraceData
from mlflow.tracing.constant import (
    TRACE_SCHEMA_VERSION,
    TRACE_SCHEMA_VERSION_KEY,
    SpanAttributeKey,
    TraceMetadataKey,
    TraceTagKey,
)
from mlflow.tracing.utils import aggregate_usage_from_spans, generate_trace_id_v3
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

SPAN_TYPES = {"chat_model": SpanType.CHAT_MODEL, "llm": SpanType.LLM, "chain": SpanType.CHAIN,
              "tool": SpanType.TOOL, "retriever": SpanType.RETRIEVER, "parser": SpanType.PARSER,
              "embedding": SpanType.EMBEDDING, "prompt": SpanType.CHAIN, "agent": SpanType.AGENT}
OUR_KEYS = ("trace_id", "span_id", "parent_id", "kind")  # kept as langchain.<key> span attributes
_METADATA_CHARS = 250  # MLflow's own cut for the request/response preview in trace metadata


class _ChosenIds(RandomIdGenerator):
    """Hands out the ids we set before each start_span (one builder thread at a time)."""

    next_trace_id = 0
    next_span_id = 0

    def generate_trace_id(self) -> int:
        return self.next_trace_id or super().generate_trace_id()

    def generate_span_id(self) -> int:
        return self.next_span_id or super().generate_span_id()


_ids = _ChosenIds()
_tracer = TracerProvider(id_generator=_ids).get_tracer("helpers.backends.mlflow")  # not MLflow's global provider
_lock = threading.Lock()


def otel_ids(span: dict) -> tuple[int, int]:
    """Our trace and span UUIDs as OTel's 128-bit trace id and 64-bit span id."""
    return _uuid_int(span.get("trace_id")) or 1, (_uuid_int(span.get("span_id")) & (2**64 - 1)) or 1


def _uuid_int(value) -> int:
    try:
        return uuid.UUID(str(value)).int
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, str(value)).int


def _ns(iso: str | None, default: int) -> int:
    if not iso:
        return default
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1_000_000_000)
    except ValueError:
        return default


def span_type(span: dict) -> str:
    kind = span.get("kind") or "chain"
    if kind == "chain" and "agent" in str(span.get("name") or "").lower():
        return SpanType.AGENT
    return SPAN_TYPES.get(kind, SpanType.UNKNOWN)


def _attributes(span: dict) -> dict[str, Any]:
    attrs: dict[str, Any] = {f"langchain.{key}": span.get(key) for key in OUR_KEYS if span.get(key)}
    kind = span.get("kind")
    if kind in ("llm", "chat_model"):
        attrs[SpanAttributeKey.MESSAGE_FORMAT] = "langchain"
        params = span.get("invocation_params") if isinstance(span.get("invocation_params"), dict) else {}
        if params.get("model_name"):
            attrs[SpanAttributeKey.MODEL] = params["model_name"]
        if params.get("provider"):
            attrs[SpanAttributeKey.MODEL_PROVIDER] = params["provider"]
        if params:
            attrs["invocation_params"] = params
        usage = span.get("usage")
        if isinstance(usage, dict):
            attrs[SpanAttributeKey.CHAT_USAGE] = {k: usage[k] for k in ("input_tokens", "output_tokens",
                                                                      "total_tokens") if k in usage}
        if span.get("tool_calls"):
            attrs["tool_calls"] = span["tool_calls"]
        if span.get("time_to_first_token_ms") is not None:
            attrs["time_to_first_token_ms"] = span["time_to_first_token_ms"]
    for key in ("input_text", "output_text"):
        if span.get(key) is not None:
            attrs[f"langchain.{key}"] = span[key]
    for key, value in (span.get("attributes") or {}).items():  # gen_ai.* names
        attrs[key] = value
    if span.get("tags"):
        attrs["tags"] = span["tags"]
    if span.get("metadata"):
        attrs["metadata"] = span["metadata"]
    return attrs


def _live_span(span: dict, parent, trace_id: str | None, default_ns: int) -> LiveSpan:
    otel_trace_id, otel_span_id = otel_ids(span)
    _ids.next_trace_id, _ids.next_span_id = otel_trace_id, otel_span_id
    context = otel_trace.set_span_in_context(parent._span) if parent is not None else None
    start = _ns(span.get("start_time"), default_ns)
    otel_span = _tracer.start_span(str(span.get("name") or span.get("kind") or "span"), context=context,
                                   start_time=start)
    mlflow_trace_id = trace_id or generate_trace_id_v3(otel_span)
    live = LiveSpan(otel_span, mlflow_trace_id, span_type(span))
    live.set_inputs(span.get("inputs"))
    live.set_attributes(_attributes(span))
    return live


def _end(live: LiveSpan, span: dict, default_ns: int) -> None:
    error = span.get("error")
    if span.get("status") == "error":
        details = error if isinstance(error, dict) else {"message": str(error or "")}
        live.add_event(SpanEvent("exception", attributes={
            "exception.type": str(details.get("type") or "Error"),
            "exception.message": str(details.get("message") or ""),
            "exception.stacktrace": str(details.get("traceback") or "")}))
        status = SpanStatus(SpanStatusCode.ERROR, f"{details.get('type')}: {details.get('message')}")
    else:
        status = SpanStatus(SpanStatusCode.OK)
    live.set_outputs(span.get("outputs"))
    live.set_status(status)
    # LiveSpan.end would price the span from the model catalog; the OTel span ends as recorded.
    live._span.end(end_time=_ns(span.get("end_time"), default_ns))


def build_trace(spans: list[dict], experiment_id: str, run_id: str | None) -> tuple[TraceInfo, list]:
    """One trace from the spans of one top-level call (the root: parent_id not among them)."""
    ids = {s["span_id"] for s in spans}
    by_parent: dict[str | None, list[dict]] = {}
    for span in spans:
        parent = span.get("parent_id") if span.get("parent_id") in ids else None
        by_parent.setdefault(parent, []).append(span)
    roots = by_parent.get(None) or []
    if not roots:
        raise ValueError("a trace needs a root span")
    root = next((s for s in roots if not s.get("parent_id")), roots[0])
    default_ns = _ns(root.get("start_time"), 0)
    # a span whose parent is not among these (a recovered trace's rest) hangs under the root
    by_parent.setdefault(root["span_id"], []).extend(s for s in roots if s is not root)
    built: list[LiveSpan] = []
    with _lock:
        root_live = _live_span(root, None, None, default_ns)
        # the trace's name, as a trace tag the store takes from its root span (log_spans makes the info)
        root_live.set_attribute(SpanAttributeKey.TRACE_TAG_PREFIX + TraceTagKey.TRACE_NAME,
                                str(root.get("name") or "trace"))
        trace_id = root_live.trace_id
        built.append(root_live)
        pending = [(root, root_live)]
        while pending:  # parents before children (a child needs its parent's OTel span)
            span, live = pending.pop()
            for child_span in by_parent.get(span["span_id"], []):
                child = _live_span(child_span, live, trace_id, default_ns)
                built.append(child)
                pending.append((child_span, child))
    source = {otel_ids(s)[1]: s for s in spans}
    for live in reversed(built):  # children end before parents
        _end(live, source[live._span.context.span_id], default_ns)
    finished = [live.to_immutable_span() for live in built]
    info = _trace_info(trace_id, root, finished, experiment_id, run_id)
    return info, finished


def _trace_info(trace_id: str, root: dict, spans: list, experiment_id: str, run_id: str | None) -> TraceInfo:
    root_span = spans[0]
    metadata = {TRACE_SCHEMA_VERSION_KEY: str(TRACE_SCHEMA_VERSION),
                TraceMetadataKey.INPUTS: _preview(root.get("inputs")),
                TraceMetadataKey.OUTPUTS: _preview(root.get("outputs")),
                "langchain.trace_id": str(root.get("trace_id"))}
    if run_id:
        metadata[TraceMetadataKey.SOURCE_RUN] = run_id
    usage = aggregate_usage_from_spans(spans)
    if usage:
        metadata[TraceMetadataKey.TOKEN_USAGE] = json.dumps(usage)
    failed = root.get("status") == "error"
    return TraceInfo(
        trace_id=trace_id, trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=root_span.start_time_ns // 1_000_000,
        execution_duration=max(0, (root_span.end_time_ns - root_span.start_time_ns) // 1_000_000),
        state=TraceState.ERROR if failed else TraceState.OK,
        trace_metadata=metadata, tags={TraceTagKey.TRACE_NAME: str(root.get("name") or "trace")})


def _preview(value) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text[:_METADATA_CHARS]


def trace_data(spans: list) -> TraceData:
    return TraceData(spans=spans)
