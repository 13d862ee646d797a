"""The serializer's fast path (plain data kept as it is) writes exactly what the converter writes.

A mask turns the fast path off, so the same record through both must give the same JSON line, whatever the
values: secrets of every format in keys and values, NaN, deep nesting, long strings, long containers.
"""

from __future__ import annotations

import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tracking_secrets import SECRETS

from helpers.tracking.handler import encode_line
from helpers.tracking.redact import REDACTED, Redactor
from helpers.tracking.serialize import MAX_DEPTH, is_plain, span_fields

secret_texts = st.sampled_from(list(SECRETS.values())).flatmap(
    lambda s: st.sampled_from([s, f"key {s} here", f"Bearer {s}", f"https://u:{s}@h/p", f"https://h/p?api_key={s}"]))
texts = st.text(max_size=40) | secret_texts | st.sampled_from(
    ["gen_ai.operation.name", "x" * 300, "ſecret", "a\\\"b", "https://u:pw@h/p", "see ?key=abc", "Bearer abcdefgh",
     "PRIVATE KEY"])
keys = st.text(max_size=12) | st.sampled_from(["api_key", "password", "max_tokens", "Authorization", "token",
                                               "pad_token", "input_tokens", "ſecret", "x" * 1_200]) | secret_texts
leaves = st.none() | st.booleans() | st.integers() | st.floats() | texts
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(keys, inner, max_size=5),
                      max_leaves=30)


def nested(levels: int):
    value: object = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def line(record: dict, mask=None, max_chars: int = 200, max_items: int = 5) -> bytes:
    return encode_line(span_fields(record, max_chars, Redactor(mask), max_items))


def record_of(inputs, outputs) -> dict:
    return {"schema_version": 1, "type": "span", "span_id": "s", "kind": "chain", "name": "n",
            "inputs": inputs, "outputs": outputs, "tags": ["t"], "metadata": {}, "attributes": {"a.b": "c"}}


@settings(max_examples=400, deadline=None)
@given(inputs=values, outputs=values)
def test_the_fast_path_writes_what_the_converter_writes(inputs, outputs):
    record = record_of(inputs, outputs)
    assert line(record, max_chars=2_000, max_items=100) == line(record, lambda span: span, 2_000, 100)


def test_edge_values_take_the_converter_and_match_it():
    for value in ({"x": math.nan}, [math.inf], nested(MAX_DEPTH), nested(MAX_DEPTH - 2), list(range(6)),
                  {"k": "y" * 201}, {"api_key": "v"}, {"ſecret": "v"}, {"k": 2**60}, ("tuple", None)):
        record = record_of(value, {"ok": True})
        assert line(record) == line(record, mask=lambda span: span), value


def test_plain_values_are_recognised_and_secrets_are_not():
    redactor = Redactor()
    assert is_plain({"prompts": ["You are a playwright.\nTitle: t"], "n": 1, "f": 0.5, "none": None}, 1,
                    20_000, 100, redactor)
    for secret in SECRETS.values():
        assert not is_plain({"text": f"use {secret}"}, 1, 20_000, 100, redactor), secret
        assert not is_plain({secret: 1}, 1, 20_000, 100, redactor), secret
    for text in ("https://u:pw@h/p", "see ?key=abc", "Bearer abcdefgh", "PRIVATE KEY", "gen_ai.operation.name x"):
        assert not is_plain({"text": text}, 1, 20_000, 100, redactor), text
    assert is_plain({"text": "gen_ai.operation.name"}, 1, 20_000, 100, redactor)  # a whole string it keeps
    assert not is_plain({"Authorization": "x"}, 1, 20_000, 100, redactor)
    assert not is_plain({"x": math.nan}, 1, 20_000, 100, redactor)
    span = orjson.loads(line(record_of({"q": f"use {SECRETS['jwt']}"}, {"ok": 1})))
    assert REDACTED in span["inputs"]["q"] and span["outputs"] == {"ok": 1}
