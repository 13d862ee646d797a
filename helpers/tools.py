"""The agent's tools: web search (SerpAPI, or a bundled offline snapshot) and a calculator.

The calculator walks the expression's syntax tree itself, so it never runs code.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import os
from functools import lru_cache
from importlib import resources

from langchain_core.tools import BaseTool, tool

from .errors import ProviderError, scrub_secrets

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {"sqrt": math.sqrt, "log": math.log, "log10": math.log10, "exp": math.exp, "sin": math.sin,
              "cos": math.cos, "tan": math.tan, "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil}
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 10_000
# Integers past this size cost real CPU and memory to build; no agent question needs them.
MAX_INT_BITS = 40_000

SERPAPI_TIMEOUT_S = 30  # the client's own default is 60,000 seconds


def evaluate(expression: str) -> float | int:
    """Evaluate arithmetic safely: numbers, + - * / // % ** (or ^), parentheses, pi, e and a few
    math functions. Anything else raises ValueError saying what is not allowed."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError("Give the calculator an arithmetic expression, e.g. '115 ** 1.51'.")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"The expression is longer than {MAX_EXPRESSION_CHARS} characters; shorten it.")
    text = expression.strip().replace("^", "**")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError(f"Not an arithmetic expression: {expression!r}.") from None
    _reject_outside_whitelist(tree.body)  # before evaluating anything at all
    try:
        result = _eval(tree.body)
    except (ZeroDivisionError, OverflowError, TypeError, RecursionError, MemoryError) as error:
        raise ValueError(f"Cannot evaluate {expression!r}: {error or type(error).__name__}.") from None
    except ValueError as error:
        raise ValueError(f"Cannot evaluate {expression!r}: {error}.") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise ValueError(f"Cannot evaluate {expression!r}: the result is not a finite number.")
    return result


def _allowed_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and not node.keywords and 1 <= len(node.args) <= 2)


def _reject_outside_whitelist(node: ast.AST) -> None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _reject_outside_whitelist(node.left)
        _reject_outside_whitelist(node.right)
        return
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _reject_outside_whitelist(node.operand)
        return
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return
    if _allowed_call(node):
        for arg in node.args:
            _reject_outside_whitelist(arg)
        return
    allowed = ", ".join([*_FUNCTIONS, *_CONSTANTS])
    raise ValueError(f"'{ast.unparse(node)}' is not allowed; use numbers, + - * / // % ** and {allowed}.")


def _eval(node: ast.AST) -> int | float:
    """Evaluates a tree that _reject_outside_whitelist has accepted."""
    if isinstance(node, ast.Constant):
        return _checked(node.value)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        return _CONSTANTS[node.id]
    args = [_eval(a) for a in node.args]
    if node.func.id == "round" and len(args) == 2 and not (isinstance(args[1], int) and abs(args[1]) <= 100):
        raise ValueError("round's second argument must be a whole number of digits up to 100")
    return _checked(_FUNCTIONS[node.func.id](*args))


def _check_power(base: int | float, exponent: int | float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"the exponent {exponent:g} is larger than {MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if base.bit_length() * exponent > MAX_INT_BITS:
            raise ValueError("the result would be too large")
    if base < 0 and not float(exponent).is_integer():
        raise ValueError("a negative number to a fractional power is not a real number")


def _checked(value):
    # Rejects complex results and integers too large to be useful, before they grow further.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ValueError("the result would be too large")
    return value


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression such as '115 ** 1.51'. Use it for any math."""
    try:
        result = evaluate(expression)
    except ValueError as error:
        return f"Error: {error}"
    if isinstance(result, float):
        return f"{result:.6g}" if abs(result) < 1e15 else f"{result:.6e}"
    if result.bit_length() > _STR_BITS:  # str() refuses integers past sys.get_int_max_str_digits() digits
        return _scientific(result)
    return str(result)


_STR_BITS = 12_000  # about 3,600 digits, under Python's default limit of 4,300 for str(int)


def _scientific(value: int) -> str:
    """A huge integer as '1.234567e+8588 (8,589 digits)', computed from its logarithm."""
    log = math.log10(abs(value))
    exponent = math.floor(log)
    mantissa = 10 ** (log - exponent)
    return f"{'-' if value < 0 else ''}{mantissa:.6f}e+{exponent} (an integer of {exponent + 1:,} digits)"


@lru_cache(maxsize=1)
def load_snapshot() -> dict:
    """The bundled search snapshot: {"snapshot_date": ..., "entries": [{"keywords", "answer"}]}."""
    return json.loads(resources.files("helpers.data").joinpath("search_snapshot.json").read_text())


def offline_search(query: str) -> str:
    """The snapshot entry sharing most words with the query, saying it comes from the snapshot."""
    snapshot = load_snapshot()
    words = set(str(query).lower().replace("?", " ").replace(",", " ").split())
    best = max(snapshot["entries"], key=lambda e: len(words & set(e["keywords"])))
    if not words & set(best["keywords"]):
        return f"No result in the offline search snapshot of {snapshot['snapshot_date']}."
    return f"{best['answer']} (offline search snapshot of {snapshot['snapshot_date']})"


def serpapi_search(query: str, api_key: str, base_url: str | None = None) -> str:
    """A Google search through SerpAPI; base_url (or SERPAPI_BASE_URL) points it at another host."""
    import requests
    from serpapi import GoogleSearch

    client = GoogleSearch({"q": query, "api_key": api_key})
    client.BACKEND = (base_url or os.environ.get("SERPAPI_BASE_URL") or GoogleSearch.BACKEND).rstrip("/")
    client.timeout = SERPAPI_TIMEOUT_S
    client.params_dict["output"] = "json"
    try:
        response = client.get_response()
    except requests.RequestException:
        raise ProviderError(
            f"Could not reach SerpAPI at {client.BACKEND} (SERPAPI_BASE_URL overrides it). Check the network, "
            "or unset SERPAPI_API_KEY to use the offline search snapshot.") from None
    try:
        results = response.json()
    except ValueError:
        raise ProviderError(f"SerpAPI answered HTTP {response.status_code} without JSON; try again later.") from None
    return _read_results(results, response.status_code, api_key)


def _read_results(results: dict, status: int, api_key: str) -> str:
    error = str(results.get("error") or "")
    if error and "hasn't returned any results" in error:
        return "No good search result found."
    if error or status >= 400:
        detail = scrub_secrets(error or f"HTTP {status}", extra=(api_key,))
        if status in (401, 403) or "api key" in error.lower():
            raise ProviderError(f"SERPAPI_API_KEY was rejected by SerpAPI ({detail}). Export a valid key, "
                                "or unset it to use the offline search snapshot.")
        raise ProviderError(f"SerpAPI refused the search: {detail}")
    box = results.get("answer_box") or {}
    for key in ("answer", "snippet", "result"):
        if box.get(key):
            return str(box[key])
    organic = results.get("organic_results") or []
    return " ".join(str(r.get("snippet", "")) for r in organic[:3]).strip() or "No good search result found."


def make_search_tool(search: str = "auto") -> BaseTool:
    """SerpAPI when asked for, or for "auto" when SERPAPI_API_KEY is set; otherwise the offline snapshot."""
    if search not in ("auto", "serpapi", "offline"):
        raise ValueError(f"search must be one of auto, serpapi, offline; got {search!r}.")
    key = os.environ.get("SERPAPI_API_KEY")
    if search == "serpapi" and not key:
        raise ProviderError("SERPAPI_API_KEY is not set. Export it, or use search='offline'.")
    use_serpapi = search == "serpapi" or (search == "auto" and bool(key))

    @tool
    def web_search(query: str) -> str:
        """Search the web for current facts, such as people, ages and events."""
        return serpapi_search(query, key) if use_serpapi else offline_search(query)

    return web_search


def make_tools(search: str = "auto", callbacks: list | None = None) -> list[BaseTool]:
    """Fresh scenario-3 tools, [web_search, calculator], with callbacks (as the seed's load_tools took)."""
    tools = [make_search_tool(search), tool("calculator")(calculate)]
    for each in tools:
        each.callbacks = callbacks
    return tools
