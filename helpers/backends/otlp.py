"""OTLP export: the finished spans of each uploaded segment, sent again as OTLP/HTTP with OpenTelemetry's GenAI
attribute names, through the OpenTelemetry SDK's exporter. An optional third sink, beside the run's store.

Built from span records in the background uploader (no second tracer on the hot path). Our trace and span
UUIDs become the OTLP trace and span ids, parents are kept, and the records are the spool's (already redacted).
The run's own store is always written first: a failing endpoint only delays or, past a backlog, skips OTLP.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from ..tracking.redact import redact_logs
from ..tracking.spans import _message_role, _message_text, tool_calls_of
from .segment_lines import SegmentLines

log = redact_logs(logging.getLogger(__name__))

SERVICE_NAME = "langchain-tracking"
MAX_BACKLOG_SPANS = 20_000  # spans kept for the next try while the endpoint fails
SPANS_PER_REQUEST = 2_000
_SCOPE = InstrumentationScope("helpers.tracking", schema_url="https://opentelemetry.io/schemas/1.37.0")
_OPERATIONS = {"chat_model": "chat", "llm": "text_completion", "embedding": "embeddings",
               "retriever": "retrieval", "tool": "execute_tool"}
_INT64 = 2**63
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "chat": "user"}
_RESOURCE_KEYS = ("backend", "region", "tracking_uri", "experiment_id", "run_id")  # no account, no bucket


def traces_endpoint(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: a base URL (http://host:4318) gets OTLP's /v1/traces path."""
    parts = urlsplit(str(endpoint))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"otlp_endpoint must be an http(s) URL such as http://127.0.0.1:4318/v1/traces, "
                         f"got {safe_endpoint(str(endpoint))!r}.")
    if parts.path in ("", "/"):
        parts = parts._replace(path="/v1/traces")
    return urlunsplit(parts)


def safe_endpoint(endpoint: str) -> str:
    """An endpoint for messages: no user:password, no query."""
    parts = urlsplit(endpoint)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# One span record -> one OTel ReadableSpan

def otel_span(record: dict, resource: Resource) -> ReadableSpan:
    trace_id = _id128(record.get("trace_id") or record.get("span_id"))
    context = SpanContext(trace_id, _id64(record["span_id"]), is_remote=False, trace_flags=TraceFlags(1))
    parent = None
    if record.get("parent_id"):
        parent = SpanContext(trace_id, _id64(record["parent_id"]), is_remote=False, trace_flags=TraceFlags(1))
    start = _ns(record.get("start_time")) or _ns(record.get("end_time")) or 0
    end = _ns(record.get("end_time")) or start
    attributes = genai_attributes(record)
    events, status = [], Status(StatusCode.OK)
    if record.get("status") == "error":
        error = record.get("error") if isinstance(record.get("error"), dict) else {"message": str(record.get("error"))}
        kind_name = str(error.get("type") or "Error")
        attributes["error.type"] = kind_name
        status = Status(StatusCode.ERROR, f"{kind_name}: {error.get('message') or ''}"[:1000])
        events.append(Event("exception", {"exception.type": kind_name,
                                          "exception.message": str(error.get("message") or ""),
                                          "exception.stacktrace": str(error.get("traceback") or "")}, end))
    kind = SpanKind.CLIENT if record.get("kind") in ("chat_model", "llm", "embedding") else SpanKind.INTERNAL
    return ReadableSpan(name=span_name(record), context=context, parent=parent, resource=resource,
                        attributes=attributes, events=events, kind=kind, status=status, start_time=start,
                        end_time=end, instrumentation_scope=_SCOPE)


def span_name(record: dict) -> str:
    """GenAI's `{operation} {model}` for model calls and `execute_tool {tool}` for tools; else ours."""
    name = str(record.get("name") or record.get("kind") or "span")
    operation = _operation(record)
    if operation == "execute_tool":
        return f"execute_tool {name}"
    model = _params(record).get("model_name")
    if operation in ("chat", "text_completion", "embeddings") and model:
        return f"{operation} {model}"
    return name


def genai_attributes(record: dict) -> dict[str, Any]:
    """gen_ai.* names (operation, provider, model, usage, tool), our ids and kind, and the content."""
    params, kind = _params(record), record.get("kind")
    attrs: dict[str, Any] = {f"langchain.{key}": record.get(key) for key in ("trace_id", "span_id", "parent_id",
                                                                              "kind", "name")}
    attrs.update(record.get("attributes") or {})  # the spool's gen_ai.* for model calls
    operation = _operation(record)
    if operation:
        attrs["gen_ai.operation.name"] = operation
    if kind in ("chat_model", "llm", "embedding"):
        attrs.setdefault("gen_ai.request.model", params.get("model_name"))
        attrs["gen_ai.provider.name"] = attrs.get("gen_ai.provider.name") or params.get("provider") or \
            params.get("llm_type") or params.get("_type")
        usage = record.get("usage") if isinstance(record.get("usage"), dict) else {}
        for ours, theirs in (("input_tokens", "gen_ai.usage.input_tokens"),
                             ("output_tokens", "gen_ai.usage.output_tokens")):
            if usage.get(ours) is not None:
                attrs[theirs] = usage[ours]
        attrs["gen_ai.input.messages"] = input_messages(record)
        attrs["gen_ai.output.messages"] = output_messages(record, attrs.get("gen_ai.response.finish_reasons"))
        if record.get("time_to_first_token_ms") is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = record["time_to_first_token_ms"] / 1000
    elif kind == "tool":
        attrs["gen_ai.tool.name"] = record.get("name")
        attrs["gen_ai.tool.type"] = "function"
        attrs["gen_ai.tool.call.id"] = _tool_call_id(record)
        attrs["gen_ai.tool.call.arguments"] = record.get("inputs")
        attrs["gen_ai.tool.call.result"] = record.get("output_text") if record.get("output_text") is not None \
            else record.get("outputs")
    else:
        if _operation(record) == "invoke_agent":
            attrs["gen_ai.agent.name"] = record.get("name")
        attrs["langchain.inputs"] = record.get("inputs")
        attrs["langchain.outputs"] = record.get("outputs")
    for key in ("latency_ms", "cost_usd"):
        if record.get(key) is not None:
            attrs[f"langchain.{key}"] = record[key]
    if record.get("tags"):
        attrs["langchain.tags"] = record["tags"]
    if record.get("metadata"):
        attrs["langchain.metadata"] = record["metadata"]
    return {key: value for key, value in ((k, _attribute(v)) for k, v in attrs.items()) if value is not None}


def input_messages(record: dict) -> list[dict]:
    """GenAI's input messages ([{role, parts: [{type: text, content}]}]) from a model span's inputs."""
    inputs = record.get("inputs") if isinstance(record.get("inputs"), dict) else {}
    batches = inputs.get("messages") or []
    messages = [m for batch in batches for m in (batch if isinstance(batch, list) else [batch])]
    if messages:
        return [_message(_message_role(m), _message_text(m)) for m in messages]
    return [_message("user", str(p)) for p in inputs.get("prompts") or []] or \
        ([_message("user", record["input_text"])] if record.get("input_text") else [])


def output_messages(record: dict, finish_reasons=None) -> list[dict]:
    """GenAI's output messages from the model span's text (tool calls as tool_call parts)."""
    parts = [{"type": "text", "content": record["output_text"]}] if record.get("output_text") else []
    parts += [{"type": "tool_call", "id": c.get("id"), "name": c.get("name"), "arguments": c.get("args")}
              for c in _tool_calls(record) if isinstance(c, dict)]
    message = {"role": "assistant", "parts": parts}
    if finish_reasons:
        message["finish_reason"] = finish_reasons[0] if isinstance(finish_reasons, list) else str(finish_reasons)
    return [message] if parts else []


def _tool_calls(record: dict) -> list:
    if record.get("tool_calls"):
        return record["tool_calls"]
    outputs = record.get("outputs")
    return tool_calls_of(outputs) if isinstance(outputs, dict) else []


def _message(role: str, text: str) -> dict:
    return {"role": _ROLES.get(role, role), "parts": [{"type": "text", "content": text}]}


def _operation(record: dict) -> str | None:
    kind = record.get("kind")
    if kind == "chain" and "agent" in str(record.get("name") or "").lower():
        return "invoke_agent"
    return _OPERATIONS.get(kind)


def _params(record: dict) -> dict:
    params = record.get("invocation_params")
    return params if isinstance(params, dict) else {}


def _tool_call_id(record: dict) -> str | None:
    """A tool called with a model's tool call returns a ToolMessage naming the call."""
    outputs = record.get("outputs")
    output = outputs.get("output") if isinstance(outputs, dict) else None
    if isinstance(output, dict) and output.get("tool_call_id"):
        return str(output["tool_call_id"])
    inputs = record.get("inputs")
    if isinstance(inputs, dict) and inputs.get("tool_call_id"):
        return str(inputs["tool_call_id"])
    return None


def _attribute(value):
    """OTel attribute values are scalars or lists of one scalar type: the rest goes as JSON text."""
    if value is None or isinstance(value, (str, bool, float)):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def _id128(value) -> int:
    try:
        return uuid.UUID(str(value)).int or 1
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, str(value)).int or 1


def _id64(value) -> int:
    """Our span UUID's low 64 bits (MLflow's trace builder maps them the same way)."""
    return (_id128(value) & (2**64 - 1)) or 1


def _ns(iso) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(str(iso)).timestamp() * 1_000_000_000)
    except ValueError:
        return None


# The sink

class OtlpExport:
    """Sends the spans of each segment; spans an endpoint refused wait (up to a backlog) for the next segment."""

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None, timeout_s: float = 5.0,
                 resource_attributes: dict | None = None):
        self.endpoint = traces_endpoint(endpoint)
        self.exporter = OTLPSpanExporter(endpoint=self.endpoint, headers=headers, timeout=timeout_s)
        attrs = {"service.name": os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME}
        attrs.update({k: _attribute(v) for k, v in (resource_attributes or {}).items() if v is not None})
        self.resource = Resource.create(attrs)
        self.lines = SegmentLines()
        self.backlog: list[dict] = []
        self.exported = 0
        self.skipped = 0
        self._failing = False
        self._lock = threading.Lock()

    def send_segment(self, name: str, body: bytes) -> bool:
        """Export the spans this segment completes (and any backlog); never raises. True when all went."""
        with self._lock:
            try:
                self.backlog.extend(self.lines.spans(name, body))
                return self._send_backlog()
            except Exception as error:  # a sink must never fail the upload of the run's own store
                self._warn(f"{type(error).__name__}: {error}")
                return False

    def _send_backlog(self) -> bool:
        while self.backlog:
            chunk = self.backlog[:SPANS_PER_REQUEST]
            spans = [otel_span(record, self.resource) for record in chunk]
            if self.exporter.export(spans) is not SpanExportResult.SUCCESS:
                self._trim()
                self._warn("the endpoint did not accept the spans")
                return False
            del self.backlog[: len(chunk)]
            self.exported += len(chunk)
        if self._failing:
            log.info("OTLP export to %s works again.", safe_endpoint(self.endpoint))
            self._failing = False
        return True

    def _trim(self) -> None:
        over = len(self.backlog) - MAX_BACKLOG_SPANS
        if over > 0:
            del self.backlog[:over]
            self.skipped += over
            log.warning("OTLP export: %d spans were not sent to %s (the endpoint kept failing); the run's "
                        "store holds every one.", self.skipped, safe_endpoint(self.endpoint))

    def _warn(self, reason: str) -> None:
        if not self._failing:
            log.warning("OTLP export to %s failed (%s); %d spans wait for the next upload. The run's own store "
                        "is not affected.", safe_endpoint(self.endpoint), reason, len(self.backlog))
        self._failing = True

    def shutdown(self) -> None:
        self.exporter.shutdown()


class WithOtlpExport:
    """A TraceStore that writes to its store, then exports each segment's spans as OTLP."""

    def __init__(self, store, export: OtlpExport):
        self.store = store
        self.otlp = export

    def put_segment(self, name: str, body: bytes) -> None:
        self.store.put_segment(name, body)  # raises as before: the uploader keeps the bytes in the spool
        self.otlp.send_segment(name, body)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def with_otlp_export(store, endpoint: str, headers: dict[str, str] | None = None,
                     timeout_s: float = 5.0) -> WithOtlpExport:
    """store, with the OTLP sink at endpoint (an http(s) URL; a bare host:port gets /v1/traces)."""
    identity = store.identity() if hasattr(store, "identity") else {}
    resource = {f"langchain.store.{key}": identity.get(key) for key in _RESOURCE_KEYS}
    return WithOtlpExport(store, OtlpExport(endpoint, headers=headers, timeout_s=timeout_s,
                                            resource_attributes=resource))
