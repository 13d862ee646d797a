"""Scorers: plain functions scorer(inputs, output, expected) -> bool | float | dict, and factories for them.

A scorer's __name__ names its metric. Built-ins can also be asked for by name: scorers=["exact_match"].
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

Scorer = Callable[[dict, Any, Any], "bool | float | dict | None"]

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def named(name: str) -> Callable[[Scorer], Scorer]:
    """Give a scorer made by a factory the metric name it records under."""
    def rename(function: Scorer) -> Scorer:
        function.__name__ = function.__qualname__ = name
        return function
    return rename


def as_text(value: Any) -> str:
    """An output or reference as plain text (a message's content, a dict's text field, or str())."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    content = getattr(value, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(value, dict):
        for key in ("output", "text", "answer", "content"):
            if isinstance(value.get(key), str):
                return value[key]
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _normal(text: str, ignore_case: bool) -> str:
    text = " ".join(text.split())
    return text.casefold() if ignore_case else text


def _need_expected(name: str, expected: Any) -> None:
    if expected is None:
        raise ValueError(f"{name} needs the row's expected value, and this row has none.")


def exact_match(ignore_case: bool = True) -> Scorer:
    """Output equals expected, after collapsing whitespace (and case, by default)."""
    @named("exact_match")
    def score(inputs, output, expected):
        _need_expected("exact_match", expected)
        return _normal(as_text(output), ignore_case) == _normal(as_text(expected), ignore_case)
    return score


def contains(text: str | None = None, ignore_case: bool = True, name: str = "contains") -> Scorer:
    """Output contains `text` (or, without it, the row's expected value)."""
    @named(name)
    def score(inputs, output, expected):
        needle = text if text is not None else expected
        _need_expected(name, needle)
        return _normal(as_text(needle), ignore_case) in _normal(as_text(output), ignore_case)
    return score


def regex(pattern: str, name: str = "regex", flags: int = re.IGNORECASE) -> Scorer:
    """The pattern is found in the output."""
    compiled = re.compile(pattern, flags)

    @named(name)
    def score(inputs, output, expected):
        return compiled.search(as_text(output)) is not None
    return score


def parse_number(text: Any) -> float | None:
    """The last number written in free text ("... gives 1,302.5." -> 1302.5), or None."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    found = _NUMBER.findall(as_text(text))
    return float(found[-1].replace(",", "")) if found else None


def numeric(tolerance: float = 1e-6, relative: bool = False, name: str = "numeric_match") -> Scorer:
    """The number in the output is within `tolerance` of the expected number (relative=True: a fraction of it)."""
    @named(name)
    def score(inputs, output, expected):
        _need_expected(name, expected)
        want = parse_number(expected)
        if want is None:
            raise ValueError(f"{name}: the expected value {expected!r} holds no number.")
        got = parse_number(output)
        if got is None:
            return False
        allowed = tolerance * abs(want) if relative else tolerance
        return math.isclose(got, want, abs_tol=allowed, rel_tol=0.0)
    return score


def _json_of(output: Any) -> Any:
    if isinstance(output, dict | list):
        return output
    text = as_text(output).strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    return json.loads(fenced.group(1) if fenced else text)


def valid_json() -> Scorer:
    """The output is JSON (a fenced ```json block counts)."""
    @named("valid_json")
    def score(inputs, output, expected):
        try:
            _json_of(output)
        except ValueError:
            return False
        return True
    return score


def json_field_equals(field: str, value: Any = None, name: str | None = None) -> Scorer:
    """The output's JSON has `field` (dotted path) equal to `value` (or to the expected value)."""
    @named(name or f"json_{field.replace('.', '_')}_equals")
    def score(inputs, output, expected):
        want = value if value is not None else expected
        _need_expected(score.__name__, want)
        try:
            data = _json_of(output)
        except ValueError:
            return False
        for part in field.split("."):
            if not isinstance(data, dict) or part not in data:
                return False
            data = data[part]
        return data == want
    return score


def length_between(min_chars: int = 0, max_chars: int | None = None, name: str = "length_ok") -> Scorer:
    """The output's length in characters lies in [min_chars, max_chars]."""
    @named(name)
    def score(inputs, output, expected):
        length = len(as_text(output))
        return length >= min_chars and (max_chars is None or length <= max_chars)
    return score


def similarity(name: str = "similarity") -> Scorer:
    """rapidfuzz's normalized Indel similarity of output and expected, 0 to 1."""
    from rapidfuzz import fuzz, utils

    @named(name)
    def score(inputs, output, expected):
        _need_expected(name, expected)
        return fuzz.ratio(as_text(output), as_text(expected), processor=utils.default_process) / 100.0
    return score


JUDGE_PROMPT = """You are a strict evaluator. Grade the output against the rubric.
Rubric: {rubric}
<input>{inputs}</input>
<expected>{expected}</expected>
<output>{output}</output>
Answer with two lines: "Score: N" with N an integer from 1 (fails the rubric) to 5 (fully meets it), then "Reason: ..."."""


def llm_judge(rubric: str, provider: str = "auto", model_name: str | None = None, name: str = "llm_judge",
              model: Any = None) -> Scorer:
    """An LLM grades each output 1-5 against the rubric; the score is (N - 1) / 4, with the judge's reason.

    Any make_model provider works. The offline model is a deterministic judge for tests: it scores string
    similarity to the expected value and says so in its reason; it judges nothing.
    """
    from ..providers import make_model

    judge = model if model is not None else make_model(provider, kind="chat", model_name=model_name, temperature=0.0)

    @named(name)
    def score(inputs, output, expected):
        prompt = JUDGE_PROMPT.format(rubric=rubric, inputs=json.dumps(inputs, default=str),
                                     expected="" if expected is None else as_text(expected), output=as_text(output))
        reply = as_text(judge.invoke(prompt))
        grade = re.search(r"Score:\s*([1-5])", reply)
        if grade is None:
            raise ValueError(f"the judge's reply has no 'Score: N' line: {reply[:200]!r}")
        reason = re.search(r"Reason:\s*(.+)", reply, re.DOTALL)
        return {"score": (int(grade.group(1)) - 1) / 4,
                "rationale": reason.group(1).strip() if reason else "",
                "judge_model": str(getattr(judge, "model_name", None) or getattr(judge, "model", "") or "")}
    return score


BUILTIN: dict[str, Callable[[], Scorer]] = {
    "exact_match": exact_match, "contains": contains, "numeric_match": numeric, "valid_json": valid_json,
    "similarity": similarity, "length_ok": length_between,
}


def resolve(scorers: list[Scorer | str] | Scorer | str) -> list[Scorer]:
    """Scorer functions from functions and built-in names; raises naming an unknown name or a clash."""
    items = scorers if isinstance(scorers, list | tuple) else [scorers]
    resolved = []
    for item in items:
        if isinstance(item, str):
            if item not in BUILTIN:
                raise ValueError(f"No scorer named {item!r}. Built-in names: {', '.join(sorted(BUILTIN))}; "
                                 "or pass a function scorer(inputs, output, expected).")
            resolved.append(BUILTIN[item]())
        elif callable(item):
            resolved.append(item)
        else:
            raise TypeError(f"A scorer must be a function or a built-in name; got {item!r}.")
    names = [scorer_name(s) for s in resolved]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"Two scorers share the name {clash[0]!r}; pass name= to one of them "
                         "(each scorer's name is its metric's name).")
    return resolved


def scorer_name(scorer: Scorer) -> str:
    return getattr(scorer, "__name__", None) or type(scorer).__name__
