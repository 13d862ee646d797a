"""Checks request parameters against botocore's service model, as AWS does.

botocore checks types and minimum lengths; AWS also enforces maximum lengths and patterns.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import ValidationException


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: leave that check to AWS
        return None


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _check(shape, value, path: str, problems: list[str]) -> None:
    if value is None:
        return
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check(member, value[name], f"{path}.{_lower_camel(name)}" if path else _lower_camel(name), problems)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}.{i + 1}.member", problems)
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", problems)
            _check(shape.value, item, f"{path}.{key}.member", problems)
    elif shape.type_name == "string" and isinstance(value, str):
        meta = shape.metadata
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern}"
            )


def validate(operation_model, params: dict) -> None:
    """Raise ValidationException worded as AWS words it when a parameter breaks the model."""
    shape = operation_model.input_shape
    if shape is None:
        return
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(problems))
