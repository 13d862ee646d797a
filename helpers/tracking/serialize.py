"""Turns any object LangChain hands a callback into JSON-safe data, without ever raising.

Types are checked in a fixed order; depth is capped, cycles broken, long strings truncated with a marker.
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

MAX_DEPTH = 12
_SECRET_MARGIN = 512  # longer than any key-shaped secret


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


def to_jsonable(value: Any, max_chars: int = 20_000, redactor: Any = None) -> Any:
    """A JSON-serializable copy of value; unknown objects become their repr.

    With a redactor (see redact.Redactor), secrets are removed in the same pass: values under
    sensitive keys are replaced and every string is scanned once.
    """
    try:
        return _Converter(max_chars, redactor).convert(value, 0)
    except Exception as error:  # the last line of defence: tracking never breaks a chain
        return f"<unserializable {type(value).__name__}: {type(error).__name__}>"


class _Converter:
    def __init__(self, max_chars: int, redactor: Any):
        self.max_chars = max_chars
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
        if value is None or kind is bool or kind is int:
            return value
        if kind is float:
            return value if math.isfinite(value) else str(value)
        if isinstance(value, str):
            return self.string(str(value))
        if isinstance(value, bool | int):
            return int(value) if not isinstance(value, bool) else bool(value)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else str(value)
        if isinstance(value, datetime.datetime | datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth)
        if isinstance(value, uuid.UUID | PurePath):
            return str(value)
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            encoded = base64.b64encode(raw[: self.max_chars]).decode()
            return {"__bytes__": len(raw), "base64": encoded if len(raw) <= self.max_chars else encoded + "...[truncated]"}
        if _is_numpy(value):
            return self.convert(value.tolist() if hasattr(value, "tolist") else value.item(), depth)
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

    def container(self, value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            out = {}
            hides, string, convert = self.hides, self.string, self.convert
            for key, item in value.items():
                if type(key) is not str or len(key) > 1_000:
                    key = truncate(str(key), 1_000)
                kind = type(item)
                if hides is not None and hides(key) and item is not None and not (kind is str and not item):
                    out[key] = self.hidden
                elif kind is str:  # the common leaves inline: this loop is the hot path
                    out[key] = string(item)
                elif item is None or kind is int or kind is bool:
                    out[key] = item
                else:
                    out[key] = convert(item, depth)
            return out
        if isinstance(value, list | tuple | set | frozenset):
            convert = self.convert
            return [convert(v, depth) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.container({f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}, depth)
        if hasattr(value, "model_dump") and not isinstance(value, type):  # pydantic, LangChain messages
            return self.convert(value.model_dump(), depth)
        if hasattr(value, "to_json") and not isinstance(value, type):  # LangChain Serializable
            return self.convert(value.to_json(), depth)
        return self.string(repr(value))


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy"
