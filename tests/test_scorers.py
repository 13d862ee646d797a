"""Scorers: built-ins on free text, custom functions, the LLM judge (offline: deterministic), name resolution."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from helpers.evaluation import scorers as s


@pytest.mark.parametrize(("scorer", "output", "expected", "score"), [
    (s.exact_match(), "  Paris ", "paris", True),
    (s.exact_match(ignore_case=False), "Paris", "paris", False),
    (s.contains(), AIMessage(content="A joke about FISH."), "fish", True),
    (s.contains("whale"), "a joke about fish", None, False),
    (s.regex(r"\bfish(es)?\b"), "two fishes", None, True),
    (s.numeric(0.01), "Raised to 1.51, the age gives 1,302.52.", "1302.52", True),
    (s.numeric(0.01), "about 1300", 1302.52, False),
    (s.numeric(0.01, relative=True), "about 1300", 1302.52, True),
    (s.numeric(), "no number here", 3, False),
    (s.valid_json(), '```json\n{"a": 1}\n```', None, True),
    (s.valid_json(), "{'a': 1}", None, False),
    (s.json_field_equals("a.b"), '{"a": {"b": 3}}', 3, True),
    (s.json_field_equals("a.c", 3), '{"a": {"b": 3}}', None, False),
    (s.length_between(3, 10), "four", None, True),
    (s.length_between(max_chars=3), "four", None, False),
])
def test_builtin_scorers(scorer, output, expected, score):
    assert scorer({}, output, expected) == score


def test_similarity_comes_from_rapidfuzz_and_is_between_0_and_1():
    from rapidfuzz import fuzz, utils

    value = s.similarity()({}, "Hello world", "hello, world!")
    assert value == pytest.approx(fuzz.ratio("Hello world", "hello, world!", processor=utils.default_process) / 100)
    assert 0.9 < value <= 1.0 and s.similarity()({}, "abc", "xyz") == 0.0


def test_a_scorer_that_needs_expected_says_so():
    with pytest.raises(ValueError, match="needs the row's expected value"):
        s.exact_match()({}, "x", None)


def test_the_offline_judge_is_deterministic_and_says_it_judges_nothing():
    judge = s.llm_judge("Is the answer about the expected topic?", provider="offline")
    good = judge({"topic": "fish"}, "[offline model] A joke about fish", "fish")
    bad = judge({"topic": "fish"}, "[offline model] the weather", "fish")
    assert good["score"] == 1.0 and bad["score"] < good["score"]
    assert "offline judge" in good["rationale"] and "judges nothing" in good["rationale"]
    assert judge({"topic": "fish"}, "[offline model] A joke about fish", "fish") == good


def test_a_judge_reply_without_a_score_is_an_error():
    class Mute:
        model_name = "mute"

        def invoke(self, prompt):
            return "I would rather not say."

    with pytest.raises(ValueError, match="no 'Score: N' line"):
        s.llm_judge("rubric", model=Mute())({}, "x", "y")


def test_names_resolve_and_clashes_and_typos_are_named():
    assert [s.scorer_name(f) for f in s.resolve(["exact_match", s.contains(name="has_topic")])] == \
        ["exact_match", "has_topic"]
    with pytest.raises(ValueError, match="No scorer named 'exactmatch'. Built-in names: contains, exact_match"):
        s.resolve(["exactmatch"])
    with pytest.raises(ValueError, match="share the name 'contains'"):
        s.resolve(["contains", s.contains()])


def test_parse_number_reads_the_last_number_of_free_text():
    assert s.parse_number("In 2025 she was 115; 115 ** 0.5 = 10.7238.") == 10.7238
    assert s.parse_number("-3.5e2") == -350.0 and s.parse_number("none") is None
