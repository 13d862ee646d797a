"""The tools: a calculator that only does arithmetic, the offline snapshot search, and SerpAPI over loopback."""

from __future__ import annotations

import json
import math
import re
import socket
import time
from datetime import date
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from loopback_servers import INVALID_KEY_RESULTS, Reply, serpapi_server, serve

from helpers.errors import ProviderError
from helpers.tools import calculate, evaluate, load_snapshot, make_tools, offline_search

SERP_KEY = "f" * 64


@pytest.mark.parametrize("expression, expected", [
    ("115 ** 1.51", 115 ** 1.51),
    ("115^1.51", 115 ** 1.51),
    ("sqrt(16) + 2^3", 12),
    ("-3 ** 2", -9),
    ("(1 + 2) * 3 - 4 / 8", 8.5),
    ("7 // 2 + 7 % 3", 4),
    ("round(2.567, 2) + abs(-1)", 3.57),
    ("floor(pi) + ceil(e)", 6),
    ("log(e) + log10(1000) + exp(0)", 5),
    ("2 ** -1", 0.5),
    ("+5", 5),
    ("  1_000 * 2  ", 2000),
])
def test_arithmetic(expression, expected):
    assert evaluate(expression) == pytest.approx(expected)


def test_calculate_formats_for_the_agent():
    assert calculate("115 ** 1.51") == "1293.16"
    assert calculate("2 ** 100") == str(2 ** 100)
    assert calculate("1e20 * 3") == "3.000000e+20"
    assert calculate("1 / 0").startswith("Error: Cannot evaluate '1 / 0'")


@pytest.mark.parametrize("expression, says", [
    ("__import__('os').system('echo hi')", "is not allowed"),
    ("().__class__.__bases__", "is not allowed"),
    ("open('/etc/passwd')", "is not allowed"),
    ("x + 1", "'x' is not allowed"),
    ("math.sqrt(4)", "'math.sqrt(4)' is not allowed"),
    ("sqrt(x=4)", "is not allowed"),
    ("lambda: 1", "is not allowed"),
    ("[1, 2]", "is not allowed"),
    ("'a' * 3", "is not allowed"),
    ("True + 1", "is not allowed"),
    ("1j * 2", "is not allowed"),
    ("1 if 2 else 3", "is not allowed"),
    ("1 < 2", "is not allowed"),
    ("1 << 2", "is not allowed"),
    ("[x for x in range(9)]", "is not allowed"),
    ("9 ** 99999", "exponent 99999 is larger than 10000"),
    ("(10 ** 9) ** 9999", "too large"),
    ("((2 ** 9999) * 2 ** 9999) * 2 ** 9999 * 2 ** 9999 * 2 ** 9999", "too large"),
    ("(-8) ** (1/3)", "not a real number"),
    ("1 / 0", "division by zero"),
    ("exp(1000)", "Cannot evaluate"),
    ("log(0)", "Cannot evaluate"),
    ("1e308 * 10", "not a finite number"),
    ("round(1.5, 1.5)", "whole number of digits"),
    ("", "Give the calculator an arithmetic expression"),
    ("1 +", "Not an arithmetic expression"),
    ("1" + "+1" * 300, "longer than 500 characters"),
    ("(" * 240 + "1" + ")" * 240, "Not an arithmetic expression"),
    ("-" * 400 + "1", None),
])
def test_anything_else_is_a_clear_value_error(expression, says):
    if says is None:  # deep but legal: still evaluates, without hitting the recursion limit
        assert evaluate(expression) == 1
        return
    with pytest.raises(ValueError, match=re.escape(says)):
        evaluate(expression)


def test_the_calculator_never_runs_code(monkeypatch):
    import ast
    import builtins

    real_compile = builtins.compile

    def forbidden(*args, **kwargs):
        raise AssertionError("the calculator must not run code")

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse compiles to a syntax tree only; anything that yields code objects is refused.
        if not flags & ast.PyCF_ONLY_AST:
            forbidden()
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", parse_only)
    assert evaluate("2 ** 10 + sqrt(9)") == 1027
    with pytest.raises(ValueError, match="not allowed"):
        evaluate("__import__('os')")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("0123456789.+-*/%^()e_ jpisqrtlogxa,[]'\"")), max_size=60)
       | st.text(max_size=40))
def test_fuzz_only_clear_value_errors_and_quickly(text):
    started = time.perf_counter()
    try:
        result = evaluate(text)
    except ValueError as error:
        assert str(error)  # every refusal says something
    else:
        assert isinstance(result, int | float) and not isinstance(result, bool)
        assert not (isinstance(result, float) and not math.isfinite(result))
    assert time.perf_counter() - started < 2


FORBIDDEN = ["__import__('os')", "os", "open('f')", "x.y", "().__class__", "globals()", "[1]", "print(1)",
             "'s'", "exit()", "sqrt.__call__(4)", "(lambda: 1)()"]
ALLOWED_ATOMS = ["1", "2", "3.5", "0", "pi", "e", "sqrt(4)", "abs(-2)"]


def _expressions(atoms):
    return st.recursive(st.sampled_from(atoms), lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"-{x}"),
        inner.map(lambda x: f"({x}) ** 2"),
    ), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_expressions(ALLOWED_ATOMS), st.sampled_from(FORBIDDEN), st.booleans())
def test_grammar_fuzz_whitelist_only_and_same_as_python(allowed, bad, inject):
    expression = f"({allowed}) + {bad}" if inject else allowed
    if inject:
        with pytest.raises(ValueError, match="is not allowed"):
            evaluate(expression)
        return
    # The generated text is only numbers, operators and math names, so Python's own evaluation is a safe oracle.
    env = {"__builtins__": {}, "pi": math.pi, "e": math.e, "sqrt": math.sqrt, "abs": abs}
    try:
        expected = eval(expression, env)  # noqa: S307 - oracle over generated arithmetic only
    except (ZeroDivisionError, OverflowError):
        with pytest.raises(ValueError, match="Cannot evaluate"):
            evaluate(expression)
        return
    if isinstance(expected, float) and not math.isfinite(expected):
        with pytest.raises(ValueError):
            evaluate(expression)
        return
    assert evaluate(expression) == pytest.approx(expected, nan_ok=False)


def test_snapshot_is_dated_and_answers_the_seed_question():
    snapshot = json.loads(resources.files("helpers.data").joinpath("search_snapshot.json").read_text())
    assert snapshot == load_snapshot()
    date.fromisoformat(snapshot["snapshot_date"])
    assert all(set(entry) >= {"keywords", "answer"} for entry in snapshot["entries"])
    answer = offline_search("Who is the oldest person alive")
    assert "115 years old" in answer and f"(offline search snapshot of {snapshot['snapshot_date']})" in answer
    assert "Indie Game" in offline_search("documentary about video games")


def test_offline_search_says_when_it_has_nothing():
    assert offline_search("quantum chromodynamics") == (
        f"No result in the offline search snapshot of {load_snapshot()['snapshot_date']}.")


class Seen(BaseCallbackHandler):
    def __init__(self):
        self.inputs = []

    def on_tool_start(self, serialized, input_str, **kwargs):
        self.inputs.append(input_str)


def test_make_tools_choices(monkeypatch):
    monkeypatch.delenv("SERPAPI_API_KEY", raising=False)
    search, calculator = make_tools()
    assert (search.name, calculator.name) == ("web_search", "calculator")
    assert "offline search snapshot" in search.invoke({"query": "oldest person alive"})
    assert calculator.invoke({"expression": "115 ** 1.51"}) == "1293.16"
    with pytest.raises(ProviderError, match="SERPAPI_API_KEY is not set"):
        make_tools("serpapi")
    with pytest.raises(ValueError, match="auto, serpapi, offline; got 'bing'"):
        make_tools("bing")
    monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)
    seen = Seen()
    search, _ = make_tools("offline", callbacks=[seen])  # a key set does not override an explicit choice
    assert "offline search snapshot" in search.invoke({"query": "oldest person alive"})
    assert seen.inputs == ["{'query': 'oldest person alive'}"]


def test_serpapi_search_over_loopback(monkeypatch):
    with serpapi_server() as server:
        monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)
        monkeypatch.setenv("SERPAPI_BASE_URL", server.base_url)
        search, _ = make_tools("auto")
        answer = search.invoke({"query": "oldest person alive"})
    assert answer == "Ethel Caterham, 115 years old"
    (request,) = server.requests
    assert request.path == "/search" and request.method == "GET"
    assert request.query["q"] == ["oldest person alive"] and request.query["api_key"] == [SERP_KEY]
    assert request.query["engine"] == ["google"] and request.query["output"] == ["json"]


def test_serpapi_organic_results_and_empty_results(monkeypatch):
    monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)
    organic = {"organic_results": [{"snippet": "First."}, {"snippet": "Second."}, {"title": "no snippet"}]}
    with serpapi_server(results=organic) as server:
        monkeypatch.setenv("SERPAPI_BASE_URL", server.base_url)
        assert make_tools("serpapi")[0].invoke({"query": "q"}) == "First. Second."
    empty = {"error": "Google hasn't returned any results for this query."}
    with serpapi_server(results=empty) as server:
        monkeypatch.setenv("SERPAPI_BASE_URL", server.base_url)
        assert make_tools("serpapi")[0].invoke({"query": "q"}) == "No good search result found."


def test_serpapi_bad_key_is_one_clear_message_without_the_key(monkeypatch):
    monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)
    with serpapi_server(results={**INVALID_KEY_RESULTS, "echo": SERP_KEY}, status=401) as server:
        monkeypatch.setenv("SERPAPI_BASE_URL", server.base_url)
        with pytest.raises(ProviderError) as raised:
            make_tools()[0].invoke({"query": "oldest person"})
    assert str(raised.value).startswith("SERPAPI_API_KEY was rejected by SerpAPI (Invalid API key.")
    assert SERP_KEY not in str(raised.value)


def test_serpapi_unreachable_or_not_json(monkeypatch):
    monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the block ends
    monkeypatch.setenv("SERPAPI_BASE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderError, match=rf"Could not reach SerpAPI at http://127.0.0.1:{port} \(SERPAPI_BASE_URL"):
        make_tools()[0].invoke({"query": "q"})
    with serve(lambda request: Reply(502, b"<html>bad gateway</html>", "text/html")) as server:
        monkeypatch.setenv("SERPAPI_BASE_URL", server.base_url)
        with pytest.raises(ProviderError, match="SerpAPI answered HTTP 502 without JSON"):
            make_tools()[0].invoke({"query": "q"})


def test_an_integer_past_pythons_str_limit_is_answered_not_raised():
    from helpers.tools import calculate

    assert calculate("9**9000") == "1.522597e+8588 (an integer of 8,589 digits)"
    assert calculate("-(9**9000)").startswith("-1.522597e+8588")
    assert calculate("2**100") == str(2**100)
