"""Turns any object LangChain hands a callback into JSON-safe data, without ever raising.

Types are checked in a fixed order; depth is capped, cycles broken, long strings and containers cut, arrays
and DataFrames summarised (shape, dtype, a head), each with a marker that says what was cut.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import math
import uuid
from pathlib import PurePath
from typing import Any

import orjson

MAX_DEPTH = 12
MAX_ITEMS = 100  # items kept of a list or dict; the rest is counted in a marker
HEAD_ITEMS = 5  # values shown of a summarised array or DataFrame
_SECRET_MARGIN = 512  # longer than any key-shaped secret
# span fields whose values the handler makes itself (UUIDs, ISO times, fixed words)
_OWN_FIELDS = frozenset({"schema_version", "type", "trace_id", "span_id", "parent_id", "kind", "start_time",
                         "end_time", "latency_ms", "status", "time_to_first_token_ms"})
# fields whose keys the handler names itself (OpenTelemetry attribute names): only their values are converted
_OWN_KEYED_FIELDS = frozenset({"attributes"})
_INT_LIMIT = 2**63  # JSON readers (orjson, JavaScript) lose larger integers: kept as text
# Plain data only: a dataclass, datetime, subclass or int past 53 bits raises, and goes the converter's way.
_PLAIN = (orjson.OPT_STRICT_INTEGER | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
          | orjson.OPT_PASSTHROUGH_SUBCLASS)


def safe_text(value: Any) -> str:
    """str(value), or a marker when its __str__ (and __repr__) raise."""
    try:
        return str(value)
    except Exception as error:
        try:
            return f"<{type(value).__name__} whose str() raised {type(error).__name__}: {value!r}>"
        except Exception:
            return f"<{type(value).__name__} whose str() raised {type(error).__name__}>"


def truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}...[truncated {len(text) - max_chars} chars]"


def to_jsonable(value: Any, max_chars: int = 20_000, redactor: Any = None, max_items: int = MAX_ITEMS) -> Any:
    """A JSON-serializable copy of value; unknown objects become their repr.

    With a redactor (see redact.Redactor), secrets are removed in the same pass: values under
    sensitive keys are replaced and every string is scanned once.
    """
    try:
        return _Converter(max_chars, redactor, max_items).convert(value, 0)
    except Exception as error:  # the last line of defence: tracking never breaks a chain
        return f"<unserializable {type(value).__name__}: {type(error).__name__}>"


def span_fields(record: dict, max_chars: int, redactor: Any = None, max_items: int = MAX_ITEMS) -> dict:
    """to_jsonable for each field of a span record (its own keys are never cut or redacted).

    Payload fields that are plain JSON data needing no cut and no redaction (see plain_fields) are kept as
    they are; the rest go through the converter. Without a mask the span then shares those values with the
    record: treat it as read-only.
    """
    converter = _Converter(max_chars, redactor, max_items)
    out, payload = dict.fromkeys(record), {}
    for key, value in record.items():
        if key in _OWN_FIELDS and (value is None or type(value) in (str, int, float)):
            out[key] = value  # ids, times, kinds the handler made itself: nothing to redact or cut
        elif key in _OWN_KEYED_FIELDS and type(value) is dict:
            out[key] = {k: _field(converter, v, 2) for k, v in value.items()}
        else:
            payload[key] = value
    fast = redactor is None or getattr(redactor, "mask", None) is None  # a mask may change what it is given
    plain = plain_fields(payload, max_chars, max_items, redactor) if fast else ()
    for key, value in payload.items():
        out[key] = value if key in plain else _field(converter, value, 1)
    return out


def _field(converter: _Converter, value: Any, depth: int) -> Any:
    try:
        return converter.convert(value, depth)
    except Exception as error:  # the last line of defence: this field only
        return f"<unserializable {type(value).__name__}: {type(error).__name__}>"


def plain_fields(fields: dict, max_chars: int, max_items: int, redactor: Any) -> set:
    """The keys of `fields` (values at depth 1) that the converter would return unchanged.

    Scalars and empty containers are plain as they are. The rest are encoded and screened together first;
    failing that, one by one (each encoded once by orjson, then screened apart).
    """
    plain, rest = set(), {}
    for key, value in fields.items():
        kind = type(value)
        if value is None or kind is bool or (kind is int and -_INT_LIMIT < value < _INT_LIMIT) or (
                kind is float and math.isfinite(value)) or (not value and (kind is dict or kind is list)):
            plain.add(key)
        else:
            rest[key] = value
    if not rest:
        return plain
    values = list(rest.values())
    together = _plain_text(values, 0, max_chars, max_items)
    if together is not None and _screened(together, values, redactor):
        return plain | rest.keys()  # all at once: one encoding, one screen
    if len(rest) == 1:
        return plain  # ([value] at depth 0 is value at depth 1: it failed already)
    for key, value in rest.items():
        data = _plain_text(value, 1, max_chars, max_items)
        if data is not None and _screened(data, value, redactor):
            plain.add(key)
    return plain


def is_plain(value: Any, depth: int, max_chars: int, max_items: int, redactor: Any) -> bool:
    """Whether the converter would return `value` (at `depth`) unchanged, decided on its orjson text.

    True only for dicts with text keys, lists, text, None, booleans, ints within 53 bits and finite floats,
    with no string longer than max_chars, no container longer than max_items, no nesting past MAX_DEPTH, and,
    with a redactor, no key it hides and no text it might change (its screen errs towards the converter).
    """
    data = _plain_text(value, depth, max_chars, max_items)
    return data is not None and _screened(data, value, redactor)


def _plain_text(value: Any, depth: int, max_chars: int, max_items: int) -> bytes | None:
    """orjson's text of a plain value that needs no cut at `depth`; None otherwise."""
    try:
        data = orjson.dumps(value, option=_PLAIN)
    except TypeError:  # not plain data (orjson.JSONEncodeError is a TypeError)
        return None
    if len(data) > max_chars or data.count(b",") >= max_items:
        return None  # a string or a container might need a cut
    if data.count(b"{") + data.count(b"[") > MAX_DEPTH - depth and not _shallow(value, MAX_DEPTH - depth):
        return None  # (each bracket may open a level; counted exactly only when there are many)
    return data


def _screened(data: bytes, value: Any, redactor: Any) -> bool:
    """No secret screen fires on `data`, and it decodes back to `value` exactly."""
    if redactor is not None and (redactor.json_may_hold_secret(data) or redactor.json_hides_a_key(data, 1_000)):
        return False
    # orjson writes NaN and infinities as null (the converter as text): a null must come back as None
    return b"null" not in data or orjson.loads(data) == value


def _shallow(value: Any, levels: int) -> bool:
    """Whether containers nest at most `levels` deep in `value` (plain data: dicts, lists, tuples)."""
    if levels <= 0:
        return False
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if (kind is dict or kind is list or kind is tuple) and not _shallow(item, levels - 1):
            return False
    return True


class _Converter:
    def __init__(self, max_chars: int, redactor: Any, max_items: int = MAX_ITEMS):
        self.max_chars = max_chars
        self.max_items = max_items
        self.key_text = redactor.redact_text if redactor is not None else None
        self.text = redactor.redact_text if redactor is not None else None
        self.hides = redactor.hides_key if redactor is not None else None
        self.hidden = redactor.placeholder if redactor is not None else None
        self.path: set[int] = set()  # containers being converted: seeing one again is a cycle

    def string(self, text: str) -> str:
        if self.text is None:
            return truncate(text, self.max_chars)
        if len(text) <= self.max_chars:
            return self.text(text)
        # Redact a little past the cut, so a secret across it is replaced whole, not half kept.
        kept = self.text(text[: self.max_chars + _SECRET_MARGIN])[: self.max_chars]
        return f"{kept}...[truncated {len(text) - self.max_chars} chars]"

    def convert(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:  # the common case first
            return self.string(value)
        if value is None or kind is bool:
            return value
        if kind is int:
            return value if -_INT_LIMIT < value < _INT_LIMIT else _big_int(value)
        if kind is float:
            return value if math.isfinite(value) else str(value)
        if isinstance(value, str):
            return self.string(str(value))
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self.convert(int(value), depth)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else str(value)
        if isinstance(value, datetime.datetime | datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth)
        if isinstance(value, uuid.UUID | PurePath):
            return str(value)
        if isinstance(value, bytes | bytearray | memoryview):
            return self.binary(bytes(value))
        module = kind.__module__
        if module == "numpy":
            return self.array(value, depth)
        if module.startswith("pandas"):
            return self.frame(value, depth)
        if depth >= MAX_DEPTH:
            return f"<max depth: {type(value).__name__}>"
        if id(value) in self.path:
            return f"<cycle: {type(value).__name__}>"
        self.path.add(id(value))
        try:
            return self.container(value, depth + 1)
        except Exception as error:  # one hostile object costs its own field, not the whole span
            return f"<unserializable {type(value).__name__}: {type(error).__name__}>"
        finally:
            self.path.discard(id(value))

    def binary(self, raw: bytes) -> dict:
        """Bytes as base64, and as text when they decode, so a secret inside them is redacted too."""
        head = raw[: self.max_chars]
        out: dict[str, Any] = {"__bytes__": len(raw)}
        try:
            out["text"] = self.string(head.decode("utf-8"))
        except UnicodeDecodeError:
            text = head.decode("latin-1")  # any bytes: a secret inside is found as text
            if self.text is not None and self.text(text) != text:
                out["text_latin1"] = self.string(text)
            else:
                out["base64"] = base64.b64encode(head).decode()
        if len(raw) > len(head):
            out["cut"] = f"[truncated {len(raw) - len(head)} bytes]"
        return out

    def array(self, value: Any, depth: int) -> Any:
        """A numpy scalar as its value; a small array as a list; a big one as shape, dtype and a head."""
        size = getattr(value, "size", None)
        if getattr(value, "ndim", 0) == 0 or size is None:
            return self.convert(value.item() if hasattr(value, "item") else repr(value), depth)
        if size <= self.max_items:
            return self.convert(value.tolist(), depth)
        return {"__array__": list(value.shape), "dtype": str(value.dtype),
                "head": self.convert(value.reshape(-1)[:HEAD_ITEMS].tolist(), depth),
                "cut": f"[summarised: {size} values]"}

    def frame(self, value: Any, depth: int) -> Any:
        """A DataFrame or Series as its shape, column types and first rows."""
        shape = getattr(value, "shape", None)
        head = getattr(value, "head", None)
        if shape is None or head is None:
            return self.string(repr(value))
        rows = head(HEAD_ITEMS)
        out = {"__frame__": list(shape), "type": type(value).__name__}
        if hasattr(value, "dtypes") and hasattr(value.dtypes, "items"):
            out["dtypes"] = {str(k): str(v) for k, v in list(value.dtypes.items())[: self.max_items]}
        else:
            out["dtype"] = str(getattr(value, "dtype", ""))
        out["head"] = self.convert(rows.to_dict(), depth)
        out["cut"] = f"[summarised: {shape[0]} rows]"
        return out

    def container(self, value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            out = {}
            hides, string, convert = self.hides, self.string, self.convert
            items = value.items()
            if len(value) > self.max_items:
                items = list(items)[: self.max_items]
                out["__cut__"] = f"[{len(value) - self.max_items} more keys cut]"
            for key, item in items:
                if type(key) is not str or len(key) > 1_000:
                    key = truncate(safe_text(key), 1_000)
                if self.key_text is not None and len(key) >= 16:  # a secret used as a key
                    key = self.key_text(key)
                kind = type(item)
                if hides is not None and hides(key) and item is not None and not (kind is str and not item):
                    out[key] = self.hidden
                elif kind is str:  # the common leaves inline: this loop is the hot path
                    out[key] = string(item)
                elif item is None or kind is bool or (kind is int and -_INT_LIMIT < item < _INT_LIMIT):
                    out[key] = item
                else:
                    out[key] = convert(item, depth)
            return out
        if isinstance(value, list | tuple | set | frozenset):
            convert = self.convert
            if len(value) <= self.max_items:
                return [convert(v, depth) for v in value]
            head = value[: self.max_items] if isinstance(value, list | tuple) else list(value)[: self.max_items]
            if type(head[0]) in (float, int) and type(head[-1]) in (float, int):  # a vector (an embedding)
                return {"__list__": len(value), "head": [convert(v, depth) for v in head[:HEAD_ITEMS]],
                        "cut": f"[summarised: {len(value)} numbers]"}
            return [convert(v, depth) for v in head] + [f"[{len(value) - self.max_items} more items cut]"]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.container({f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}, depth)
        if hasattr(value, "model_fields") and hasattr(value, "__iter__") and not isinstance(value, type):
            # pydantic (LangChain messages, Documents): field by field, so cut fields are never copied whole
            return self.container(dict(value), depth)
        if hasattr(value, "model_dump") and not isinstance(value, type):
            return self.convert(value.model_dump(), depth)
        if hasattr(value, "to_json") and not isinstance(value, type):  # LangChain Serializable
            return self.convert(value.to_json(), depth)
        return self.string(repr(value))


def _big_int(value: int) -> str:
    """An integer past 64 bits as its digits (or its size, past Python's 4,300-digit str() limit)."""
    if value.bit_length() > 14_000:
        return f"<int of {value.bit_length()} bits>"
    return str(value)
