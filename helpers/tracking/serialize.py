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


def truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}...[truncated {len(text) - max_chars} chars]"


def to_jsonable(value: Any, max_chars: int = 20_000) -> Any:
    """A JSON-serializable copy of value; unknown objects become their repr."""
    try:
        return _convert(value, max_chars, 0, set())
    except Exception as error:  # the last line of defence: tracking never breaks a chain
        return f"<unserializable {type(value).__name__}: {type(error).__name__}>"


def _convert(value: Any, max_chars: int, depth: int, seen: set[int]) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return truncate(value, max_chars)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _convert(value.value, max_chars, depth, seen)
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        encoded = base64.b64encode(raw[:max_chars]).decode()
        return {"__bytes__": len(raw), "base64": encoded if len(raw) <= max_chars else encoded + "...[truncated]"}
    if _is_numpy(value):
        return _convert(value.tolist() if hasattr(value, "tolist") else value.item(), max_chars, depth, seen)
    if depth >= MAX_DEPTH:
        return f"<max depth: {type(value).__name__}>"
    if id(value) in seen:
        return f"<cycle: {type(value).__name__}>"
    seen = seen | {id(value)}
    if isinstance(value, dict):
        return {truncate(str(k), 1_000): _convert(v, max_chars, depth + 1, seen) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_convert(v, max_chars, depth + 1, seen) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        return _convert(fields, max_chars, depth + 1, seen)
    if hasattr(value, "model_dump") and not isinstance(value, type):  # pydantic, LangChain messages
        return _convert(value.model_dump(), max_chars, depth + 1, seen)
    if hasattr(value, "to_json") and not isinstance(value, type):  # LangChain Serializable
        return _convert(value.to_json(), max_chars, depth + 1, seen)
    return truncate(repr(value), max_chars)


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy"
