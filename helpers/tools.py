"""The agent's tools: web search (SerpAPI, or an offline snapshot) and a calculator that never runs code."""

from __future__ import annotations

import ast
import json
import math
import operator
import os
from functools import lru_cache
from importlib import resources

from langchain_core.tools import BaseTool, tool

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {"sqrt": math.sqrt, "log": math.log, "log10": math.log10, "exp": math.exp, "sin": math.sin,
              "cos": math.cos, "tan": math.tan, "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil}
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPONENT = 10_000
MAX_EXPRESSION = 500


def evaluate(expression: str) -> float | int:
    """Evaluate arithmetic safely: numbers, + - * / // % **, parentheses, a few math functions."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError("Give the calculator an arithmetic expression, e.g. '115 ** 1.51'.")
    if len(expression) > MAX_EXPRESSION:
        raise ValueError(f"The expression is longer than {MAX_EXPRESSION} characters.")
    text = expression.strip().replace("^", "**")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"Not an arithmetic expression: {expression!r}.") from None
    try:
        return _eval(tree.body)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as error:
        raise ValueError(f"Cannot evaluate {expression!r}: {error}.") from None


def _eval(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT or (abs(left) > 1e6 and abs(right) > 100)):
            raise ValueError("the exponent is too large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and not node.keywords and len(node.args) <= 2):
        return _FUNCTIONS[node.func.id](*[_eval(a) for a in node.args])
    raise ValueError(f"'{ast.unparse(node)}' is not allowed; use numbers, operators and {', '.join(_FUNCTIONS)}")


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression such as '115 ** 1.51'. Use it for any math."""
    try:
        result = evaluate(expression)
    except ValueError as error:
        return f"Error: {error}"
    if isinstance(result, float):
        return f"{result:.6g}" if abs(result) < 1e15 else f"{result:.6e}"
    return str(result)


@lru_cache(maxsize=1)
def load_snapshot() -> dict:
    return json.loads(resources.files("helpers.data").joinpath("search_snapshot.json").read_text())


def offline_search(query: str) -> str:
    snapshot = load_snapshot()
    words = set(query.lower().replace("?", " ").split())
    best = max(snapshot["entries"], key=lambda e: len(words & set(e["keywords"])))
    source = f"(offline search snapshot of {snapshot['snapshot_date']})"
    if not words & set(best["keywords"]):
        return f"No result in the offline search snapshot of {snapshot['snapshot_date']}."
    return f"{best['answer']} {source}"


def serpapi_search(query: str, api_key: str) -> str:
    from serpapi import GoogleSearch

    results = GoogleSearch({"q": query, "api_key": api_key}).get_dict()
    if "error" in results:
        from .errors import ProviderError

        raise ProviderError(f"SerpAPI refused the search: {results['error']} Check SERPAPI_API_KEY.")
    box = results.get("answer_box") or {}
    for key in ("answer", "snippet"):
        if box.get(key):
            return str(box[key])
    organic = results.get("organic_results") or []
    return " ".join(str(r.get("snippet", "")) for r in organic[:3]).strip() or "No good search result found."


def make_search_tool(search: str = "auto") -> BaseTool:
    """`serpapi` when SERPAPI_API_KEY is set (or asked for), else the bundled offline snapshot."""
    if search not in ("auto", "serpapi", "offline"):
        raise ValueError(f"search must be 'auto', 'serpapi' or 'offline'; got {search!r}.")
    key = os.environ.get("SERPAPI_API_KEY")
    if search == "serpapi" and not key:
        from .errors import ProviderError

        raise ProviderError("SERPAPI_API_KEY is not set. Export it, or use search='offline'.")
    use_serpapi = search == "serpapi" or (search == "auto" and key)

    @tool
    def web_search(query: str) -> str:
        """Search the web for current facts, such as people, ages and events."""
        return serpapi_search(query, key) if use_serpapi else offline_search(query)

    return web_search


calculator = tool("calculator")(calculate)


def make_tools(search: str = "auto", callbacks: list | None = None) -> list[BaseTool]:
    """Fresh scenario-3 tools, [web_search, calculator], with callbacks (as the seed's load_tools took)."""
    tools = [make_search_tool(search), tool("calculator")(calculate)]
    for each in tools:
        each.callbacks = callbacks
    return tools
