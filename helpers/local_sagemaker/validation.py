"""Checks request parameters against botocore's service model where AWS is stricter than botocore.

botocore already checks required members, types and minimums; AWS also enforces maximums, patterns and enums.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import ValidationException


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        # DOTALL: AWS accepts line breaks where the model says ".*" (a failed Run's message is a traceback)
        return re.compile(pattern, re.DOTALL)
    except re.error:  # a Java-only construct: leave that check to AWS
        return None


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _problem(value, path: str, constraint: str) -> str:
    # AWS's wording, e.g. "Value 'a_b' at 'trialComponentName' failed to satisfy constraint: ..."
    shown = value if isinstance(value, str | int | float) else "[" + ", ".join(map(str, value)) + "]"
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"


def _check(shape, value, path: str, problems: list[str]) -> None:
    if value is None:
        return
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                member_path = f"{path}.{_lower_camel(name)}" if path else _lower_camel(name)
                _check(member, value[name], member_path, problems)
        return
    if kind in ("list", "map", "string") and hasattr(value, "__len__"):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                _problem(value, path, f"Member must have length less than or equal to {meta['max']}")
            )
    if kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}.{i + 1}.member", problems)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", problems)
            _check(shape.value, item, f"{path}.{key}.member", problems)
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(
                _problem(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            )
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            problems.append(
                _problem(value, path, f"Member must satisfy regular expression pattern: {pattern}")
            )
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "max" in meta and value > meta["max"]:
            problems.append(
                _problem(value, path, f"Member must have value less than or equal to {meta['max']}")
            )


def validate(operation_model, params: dict) -> None:
    """Raise ValidationException, worded as AWS words it, when a parameter breaks the model."""
    shape = operation_model.input_shape
    if shape is None:
        return
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(problems))
